/** Retry planning: schedule, jitter bounds, Retry-After, 410 and dead-lettering. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_RETRY_AFTER_MS, parseRetryAfter, planAttempt, withJitter } from '../../src/callbacks/retry.ts';
import { DEFAULT_CALLBACK_SCHEDULE, parseDurationList } from '../../src/config.ts';

const SCHEDULE = parseDurationList(DEFAULT_CALLBACK_SCHEDULE);
const NOW = 1_700_000_000_000;
const fail = (extra: object = {}) => ({
  delivered: false as const,
  status: 500,
  error: 'HTTP 500',
  ...extra,
});

describe('retry planning', () => {
  it('the default schedule spans about three days in ten attempts', () => {
    assert.deepEqual(
      SCHEDULE,
      [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000, 86_400_000],
    );
    const total = SCHEDULE.reduce((a, b) => a + b, 0);
    assert.ok(total > 2.5 * 86_400_000 && total < 3.5 * 86_400_000);
  });

  it('jitter stays within ±10 %, is never negative, and leaves 0 at 0 (property)', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 10 * 86_400_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (ms, r) => {
          const j = withJitter(ms, () => r);
          assert.ok(j >= 0);
          assert.ok(j >= Math.floor(ms * 0.9) && j <= Math.ceil(ms * 1.1), `${ms} → ${j}`);
          if (ms === 0) assert.equal(j, 0);
        },
      ),
    );
    assert.equal(
      withJitter(1000, () => 0),
      900,
    );
    assert.equal(
      withJitter(1000, () => 0.5),
      1000,
    );
    assert.equal(
      withJitter(1000, () => 0.999999),
      1100,
    );
  });

  it('after attempt n fails, the next one is due schedule[n] later; after the last, dead', () => {
    const mid = () => 0.5;
    for (let n = 1; n < SCHEDULE.length; n++) {
      const result = planAttempt(fail(), n, SCHEDULE, NOW, mid);
      assert.deepEqual(result, {
        delivered: false,
        status: 500,
        error: 'HTTP 500',
        nextAttemptAt: NOW + SCHEDULE[n]!,
      });
    }
    const last = planAttempt(fail(), SCHEDULE.length, SCHEDULE, NOW, mid);
    assert.equal(last.delivered, false);
    assert.ok(!last.delivered && last.nextAttemptAt === null);
    assert.match(!last.delivered ? last.error : '', /HTTP 500; gave up after 10 attempts/);
    // A schedule shortened by config while a delivery was in progress also ends it.
    assert.ok(!planAttempt(fail(), 12, SCHEDULE, NOW).delivered);
  });

  it('delivered is recorded as is', () => {
    assert.deepEqual(planAttempt({ delivered: true, status: 204 }, 3, SCHEDULE, NOW), {
      delivered: true,
      status: 204,
    });
  });

  it('a final failure (410) is dead at once, whatever attempt it was', () => {
    const result = planAttempt(fail({ status: 410, error: 'HTTP 410 Gone', final: true }), 1, SCHEDULE, NOW);
    assert.deepEqual(result, {
      delivered: false,
      status: 410,
      error: 'HTTP 410 Gone; not retried',
      nextAttemptAt: null,
    });
  });

  it('Retry-After pushes the next attempt out, but never sooner than the schedule', () => {
    const later = planAttempt(fail({ status: 429, retryAfterMs: 60_000 }), 1, SCHEDULE, NOW, () => 0.5);
    assert.ok(!later.delivered && later.nextAttemptAt === NOW + 60_000);
    const sooner = planAttempt(fail({ status: 503, retryAfterMs: 1_000 }), 2, SCHEDULE, NOW, () => 0.5);
    assert.ok(!sooner.delivered && sooner.nextAttemptAt === NOW + 300_000);
    const lastOne = planAttempt(fail({ status: 429, retryAfterMs: 1_000 }), SCHEDULE.length, SCHEDULE, NOW);
    assert.ok(!lastOne.delivered && lastOne.nextAttemptAt === null);
  });

  it('parses Retry-After as seconds or an HTTP date, capped at 24 h', () => {
    assert.equal(parseRetryAfter('120', NOW), 120_000);
    assert.equal(parseRetryAfter(' 0 ', NOW), 0);
    assert.equal(parseRetryAfter(['7'], NOW), 7_000);
    assert.equal(parseRetryAfter(new Date(NOW + 90_000).toUTCString(), NOW), 90_000);
    assert.equal(parseRetryAfter(new Date(NOW - 90_000).toUTCString(), NOW), 0);
    assert.equal(parseRetryAfter('999999999', NOW), MAX_RETRY_AFTER_MS);
    assert.equal(parseRetryAfter(new Date(NOW + 30 * 86_400_000).toUTCString(), NOW), MAX_RETRY_AFTER_MS);
    assert.equal(parseRetryAfter('Sun Nov  6 08:49:37 1994', NOW), 0);
    assert.equal(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', NOW), 0);
    for (const bad of [undefined, null, '', 'soon', '-5', '1.5', '12 May', 'Tue, 14 Nov 2023'])
      assert.equal(parseRetryAfter(bad, NOW), null, String(bad));
  });
});
