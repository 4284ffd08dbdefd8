/** The outbox builder: which state changes become callbacks, and what their body is. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callbackBody, createOutboxBuilder } from '../../src/callbacks/outbox.ts';
import type { Job } from '../../src/domain/job.ts';
import { jobView } from '../../src/domain/jobView.ts';

function job(overrides: Partial<Job> = {}): Job {
  return {
    provider: 'pixverse',
    id: 42,
    userId: 7,
    tokenId: 1,
    email: 'a@x.com',
    pinnedEmail: null,
    type: 'video',
    state: 'completed',
    upstreamId: '3456789012345678901',
    traceId: 't',
    upstream: { op: 'text', params: { prompt: 'a cat', model: 'v5' } },
    request: { prompt: 'a cat' },
    replyUrl: 'https://hooks.example.com/pv',
    replyRef: 'order-17',
    priority: 0,
    queueRank: null,
    maxJobsOverride: null,
    createdAt: 1_700_000_000_000,
    queuedAt: null,
    startedAt: 1_700_000_000_100,
    finishedAt: 1_700_000_060_000,
    resultUrl: 'https://media.example.com/v.mp4',
    error: null,
    upstreamStatus: 1,
    result: null,
    pollCount: 3,
    nextPollAt: null,
    leaseToken: null,
    leaseExpiresAt: null,
    untrackedAt: null,
    untrackCallback: false,
    deletedAt: null,
    ...overrides,
  };
}

describe('outbox builder', () => {
  const build = createOutboxBuilder();

  it('a final state with a replyUrl becomes a callback of the GET body plus replyUrl and replyRef', () => {
    for (const state of ['completed', 'failed', 'moderated', 'timed_out', 'cancelled'] as const) {
      const j = job({ state, error: state === 'completed' ? null : `ended ${state}` });
      const entry = build(j, 'final');
      assert.ok(entry);
      assert.equal(entry.url, 'https://hooks.example.com/pv');
      const body = JSON.parse(entry.body);
      assert.equal(body.replyRef, 'order-17');
      assert.equal(body.state, state);
      assert.equal(body.video_status_final, true);
      assert.equal(body.video_id, 'user:7-pixverse:a@x.com-video:3456789012345678901');
      assert.deepEqual(body, { ...jobView(j), replyUrl: j.replyUrl, replyRef: j.replyRef });
    }
  });

  it('replyRef is present (null) even when the client sent none', () => {
    const body = callbackBody(job({ replyRef: null }));
    assert.ok('replyRef' in body);
    assert.equal(body['replyRef'], null);
  });

  it('no replyUrl, no callback', () => {
    assert.equal(build(job({ replyUrl: null }), 'final'), null);
    assert.equal(build(job({ replyUrl: null, request: { replyProgress: true } }), 'progress'), null);
  });

  it('progress only when the request asked for it with replyProgress: true', () => {
    const running = job({ state: 'running', finishedAt: null, resultUrl: null });
    assert.equal(build(running, 'progress'), null);
    assert.equal(build({ ...running, request: { replyProgress: 'yes' } }, 'progress'), null);
    const entry = build({ ...running, request: { replyProgress: true } }, 'progress');
    assert.ok(entry);
    const body = JSON.parse(entry.body);
    assert.equal(body.state, 'running');
    assert.equal(body.video_status_final, false);
  });

  it('keeps music ids in the audio_id key', () => {
    const body = callbackBody(job({ type: 'music' }));
    assert.equal(body['audio_id'], 'user:7-pixverse:a@x.com-music:3456789012345678901');
  });
});
