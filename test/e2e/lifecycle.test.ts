/** Terminal paths other than success: failure, moderation, timeout, orphaned submits. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { addAccount, call, createTenant, startHarness, waitFor, type Harness } from '../helpers/harness.ts';

describe('job life', () => {
  let h: Harness;
  let token: string;
  let userId: number;

  before(async () => {
    h = await startHarness({
      config: { jobTimeoutMs: 1500, upstreamTimeoutMs: 700 },
      tuning: { staleSubmitMs: 500 },
      simulator: { maxConcurrent: 5 },
    });
    ({ token, userId } = await createTenant(h));
    await addAccount(h, token, 'life@example.com', 'sim-key-lifecycle', 5);
  });
  after(() => h.close());

  const finalOf = (id: string) =>
    waitFor(async () => {
      const res = await call(h.gw.url, 'GET', `/v2/pixverse/videos/${id}`, token);
      return res.body.video_status_final ? res.body : null;
    });

  it('maps failed and moderated generations and frees their slots', async () => {
    const failed = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
      prompt: 'boom #sim:fail',
    });
    const moderated = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
      prompt: 'bad #sim:moderate',
    });
    assert.equal((await finalOf(failed.body.video_id)).video_status_name, 'FAILED');
    const mod = await finalOf(moderated.body.video_id);
    assert.equal(mod.video_status_name, 'MODERATED');
    assert.match(mod.error, /moderation/);
    const available = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler/available', token);
    assert.equal(available.body.available[0].available, 5);
  });

  it('answers 422 when PixVerse moderates the prompt at submit, and frees the slot', async () => {
    const res = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
      prompt: 'nope #sim:reject-moderation',
    });
    assert.equal(res.status, 422);
    assert.equal(res.body.code, 422);
    const available = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler/available', token);
    assert.equal(available.body.executing.length, 0);
  });

  it('times out a job that runs past the limit and frees its slot', async () => {
    const res = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
      prompt: 'forever #sim:stuck',
    });
    assert.equal(res.status, 200);
    const done = await finalOf(res.body.video_id);
    assert.equal(done.state, 'timed_out');
    assert.match(done.error, /timed out/);
    const available = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler/available', token);
    assert.equal(available.body.executing.length, 0);
  });

  it('replays a create whose answer never came with the same trace id, so PixVerse is paid once', async () => {
    const before = h.sim.stats().totals.created;
    const res = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
      prompt: 'slow answer #sim:timeout #sim:duration=300',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.match(
      res.body.video_id,
      /-video:\d+$/,
      'the replay returned the upstream id of the job the first call created',
    );
    assert.equal(h.sim.stats().totals.created, before + 1, 'one job upstream, not two');
    assert.equal((await finalOf(res.body.video_id)).video_status_name, 'COMPLETED');
  });

  it('reconciles a submit interrupted by a crash with the same trace id instead of paying twice', async () => {
    const { store, scheduler } = h.gw;
    // A process reserved a slot and sent the create, then died before recording the id.
    const traceId = randomUUID();
    const upstream = {
      op: 'video.text',
      params: { prompt: 'orphan', model: 'v6', duration: 5, quality: '720p', aspect_ratio: '16:9' },
    };
    const long = Date.now() - 1000; // stale (> 500 ms) but within the job time limit
    const reserved = await store.reserve({
      provider: 'pixverse',
      userId,
      tokenId: null,
      email: null,
      maxJobsOverride: null,
      type: 'video',
      traceId,
      upstream,
      request: {},
      replyUrl: null,
      replyRef: null,
      now: long,
    });
    assert.ok(reserved.ok);
    const apiKey = scheduler.keys.open(reserved.account);
    const first = await h.gw.upstream.submit(apiKey, upstream, traceId);
    const createdBefore = h.sim.stats().totals.created;

    await scheduler.sweep();

    const job = await store.getJob(reserved.job.id);
    assert.ok(job);
    assert.notEqual(job.state, 'submitting');
    assert.equal(job.upstreamId, first.upstreamId, 'the replayed create returned the original id');
    assert.equal(h.sim.stats().totals.created, createdBefore, 'no second job was created upstream');
  });
});
