/**
 * The PixVerse provider's rules as the engine uses them: the job id tail (ids must stay
 * byte-identical to the form clients already hold), run-time defaults, the run time PixVerse
 * reports, and the webhook scheme.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatJobId, formatQueuedJobId, parseJobId, publicJobId } from '../../src/domain/ids.ts';
import type { Job } from '../../src/domain/job.ts';
import { PROVIDERS, pixverseProvider } from '../../src/providers/index.ts';
import { parsePixverseJobId } from '../../src/providers/pixverse/compat/jobIds.ts';
import { DurationEstimator } from '../../src/scheduler/durationEstimator.ts';
import type { StatusResult } from '../../src/scheduler/provider.ts';

type IdFields = Pick<
  Job,
  'id' | 'userId' | 'provider' | 'email' | 'pinnedEmail' | 'type' | 'upstreamId' | 'queuedAt'
>;

const job = (over: Partial<IdFields> = {}): IdFields => ({
  id: 17,
  userId: 3,
  provider: 'pixverse',
  email: 'a@x.com',
  pinnedEmail: null,
  type: 'video',
  upstreamId: '385912345678901234',
  queuedAt: null,
  ...over,
});

describe('PixVerse provider: job ids', () => {
  it('writes the three id forms exactly as before providers existed', () => {
    assert.equal(publicJobId(job()), 'user:3-pixverse:a@x.com-video:385912345678901234');
    assert.equal(publicJobId(job({ upstreamId: null })), 'user:3-pixverse:a@x.com-video:pending-17');
    assert.equal(publicJobId(job({ queuedAt: 1, email: null })), 'user:3-pixverse:queue-video:q17');
    assert.equal(
      publicJobId(job({ queuedAt: 1, email: null, pinnedEmail: 'p@x.com', type: 'image' })),
      'user:3-pixverse:p@x.com-image:q17',
    );
    assert.equal(formatJobId(3, 'pixverse', 'a@x.com', 'music', '9', 1), 'user:3-pixverse:a@x.com-music:9');
    assert.equal(formatQueuedJobId(3, 'pixverse', null, 'video', 5), 'user:3-pixverse:queue-video:q5');
  });

  it('reads the provider segment and leaves the tail to the provider', () => {
    assert.deepEqual(parseJobId('user:3-pixverse:a-b:c@x.com-video:0042'), {
      userId: 3,
      provider: 'pixverse',
      email: 'a-b:c@x.com',
      type: 'video',
      upstreamId: '0042',
      rowId: null,
      queued: false,
    });
    assert.equal(pixverseProvider.parseIdTail('0042'), '42');
    assert.equal(pixverseProvider.parseIdTail('0'), '0');
    assert.equal(parsePixverseJobId('user:3-pixverse:a@x.com-video:0042')?.upstreamId, '42');
    // Another provider's id is a job id to the engine, but not to the PixVerse routes.
    assert.equal(parseJobId('user:3-kling:a@x.com-video:893605946402811985')?.provider, 'kling');
    assert.equal(parsePixverseJobId('user:3-kling:a@x.com-video:893605946402811985'), null);
    // A UUID tail (Runway, Luma) parses from the right like a numeric one.
    assert.equal(
      parseJobId('user:3-runway:a-b@x.com-video:0f8e4c1a-3b7d-4e55-9a40-2f7c1d3e9b10')?.email,
      'a-b@x.com',
    );
  });

  it('refuses tails that are not PixVerse ids, and never takes the engine tails for one', () => {
    for (const tail of ['abc', '12a', '', '1'.repeat(31), 'pending-3', 'q3', '-1']) {
      assert.equal(pixverseProvider.parseIdTail(tail), null, tail);
    }
    assert.equal(parsePixverseJobId('user:3-pixverse:a@x.com-video:abc'), null);
    assert.equal(parseJobId('user:3-pixverse:a@x.com-video:pending-x'), null);
    assert.equal(parseJobId('user:3-pixverse:a@x.com-video:q1x'), null);
    assert.deepEqual(parseJobId('user:3-pixverse:a@x.com-video:pending-9'), {
      userId: 3,
      provider: 'pixverse',
      email: 'a@x.com',
      type: 'video',
      upstreamId: null,
      rowId: 9,
      queued: false,
    });
    assert.equal(
      parseJobId('user:3-PixVerse:a@x.com-video:1'),
      null,
      'the provider segment is a lower-case name',
    );
  });

  it('round-trips every id it writes, raw and percent-encoded (property)', () => {
    const email = fc.stringMatching(/^[a-z0-9._:+-]{1,20}@[a-z0-9-]{1,10}\.[a-z]{2,4}$/);
    const upstreamId = fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }).map(String);
    fc.assert(
      fc.property(
        email,
        upstreamId,
        fc.constantFrom('video', 'image', 'music') as fc.Arbitrary<Job['type']>,
        fc.nat(1e9),
        (mail, id, type, userId) => {
          const text = publicJobId(job({ email: mail, upstreamId: id, type, userId }));
          for (const form of [text, encodeURIComponent(text)]) {
            const ref = parsePixverseJobId(form);
            assert.ok(ref, form);
            assert.deepEqual(
              [ref.userId, ref.provider, ref.email, ref.type, ref.upstreamId],
              [userId, 'pixverse', mail, type, id],
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is the one provider the build knows', () => {
    assert.deepEqual([...PROVIDERS.keys()], ['pixverse']);
    assert.equal(PROVIDERS.get('pixverse'), pixverseProvider);
  });
});

describe('PixVerse provider: run times', () => {
  const video = (params: Record<string, string | number>) => ({
    type: 'video' as const,
    upstream: { op: 'video.text', params },
  });

  it('starts the estimator from PixVerse defaults by type, quality and length', () => {
    const estimator = new DurationEstimator(null, pixverseProvider);
    assert.equal(estimator.expected(video({ quality: '720p' })), 60_000);
    assert.equal(
      estimator.expected(video({ quality: '1080p', duration: 10 })),
      Math.round(60_000 * 1.5 * 1.4),
    );
    assert.equal(
      estimator.expected({ type: 'image', upstream: { op: 'image.template', params: {} } }),
      15_000,
    );
    assert.equal(estimator.typical('video'), 60_000);
  });

  it('learns per type and quality', () => {
    const estimator = new DurationEstimator(null, pixverseProvider);
    estimator.observe(video({ quality: '540p' }), 30_000);
    // One class per type and quality (the length does not split it); the first observation moves the
    // belief's centre to it, so the mean sits just above it by the belief's spread.
    const learned = estimator.expected(video({ quality: '540p', duration: 8 }));
    assert.equal(learned, estimator.expected(video({ quality: '540p' })));
    assert.ok(learned >= 30_000 && learned < 36_000, String(learned));
    assert.equal(estimator.expected(video({ quality: '720p' })), 60_000);
  });

  it('reads the run time from create_time and modify_time', () => {
    const status = (raw: StatusResult['raw']): StatusResult => ({
      state: 'completed',
      code: 1,
      url: null,
      raw,
    });
    assert.equal(
      pixverseProvider.reportedRunMs(
        status({ create_time: '2026-01-01T00:00:00Z', modify_time: '2026-01-01T00:01:05Z' }),
      ),
      65_000,
    );
    assert.equal(
      pixverseProvider.reportedRunMs(
        status({ create_time: '2026-01-01T00:01:05Z', modify_time: '2026-01-01T00:00:00Z' }),
      ),
      null,
    );
    assert.equal(pixverseProvider.reportedRunMs(status({ create_time: 'soon' })), null);
  });
});

describe('PixVerse provider: webhook scheme', () => {
  it('names its signed headers and a 300 s replay window', () => {
    const scheme = pixverseProvider.webhook;
    assert.ok(scheme);
    assert.equal(scheme.toleranceMs, 300_000);
    assert.deepEqual(scheme.deliveryHeaders, ['webhook-timestamp', 'webhook-nonce', 'webhook-signature']);
    assert.match(scheme.refusals.stale, /300 s/);
  });
});
