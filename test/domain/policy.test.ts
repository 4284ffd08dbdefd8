/** The scheduling policy's pure rules: poll schedule, learned durations, health transitions, estimates, queue order. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  learnDuration,
  meanMs,
  medianMs,
  priorBelief,
  type DurationBelief,
} from '../../src/domain/policy/durations.ts';
import {
  DEFAULT_POLL_POLICY,
  nextPollAt,
  scheduleFor,
  webhookBackstop,
  type PollPolicy,
} from '../../src/domain/policy/pollSchedule.ts';
import { healthAfterSubmitError, triesAnother } from '../../src/domain/policy/health.ts';
import { retryAfterSeconds, startTimes, waitAtPosition } from '../../src/domain/policy/estimates.ts';
import {
  compareQueued,
  dispatchOrder,
  QUEUE_ORDER_SQL,
  queueRank,
} from '../../src/domain/policy/queueOrder.ts';

const T0 = 1_700_000_000_000;
const belief = (medianRunMs: number, sigma = 0.4): DurationBelief => ({
  mu: Math.log(medianRunMs),
  sigma,
  seen: 10,
});

/** Every poll of a job running `runMs` under `policy`, as ms from the start; the last one sees it finished. */
function polls(runMs: number, b: DurationBelief, policy: PollPolicy): number[] {
  const times: number[] = [];
  let at = nextPollAt({ startedAt: T0, polls: 0, duration: b }, policy, T0);
  times.push(at - T0);
  while (at - T0 < runMs) {
    at = nextPollAt({ startedAt: T0, polls: times.length, duration: b }, policy, at);
    times.push(at - T0);
  }
  return times;
}

describe('poll schedule', () => {
  it('looks first near the median, not capped by the interval ceiling, and never sooner than the floor', () => {
    const first = polls(1, belief(60_000), DEFAULT_POLL_POLICY)[0]!;
    assert.ok(first > 45_000 && first < 70_000, `first look at ${first} ms for a 60 s median`);
    const tiny = polls(1, belief(10), DEFAULT_POLL_POLICY)[0]!;
    assert.equal(tiny, DEFAULT_POLL_POLICY.minIntervalMs, 'the floor holds for the first look');
    const capped = polls(1, belief(3_600_000), DEFAULT_POLL_POLICY)[0]!;
    assert.equal(capped, DEFAULT_POLL_POLICY.maxFirstPollMs, 'the first look has its own ceiling');
  });

  it('keeps every gap within [min, max], strictly increasing, also for stragglers far past the grid', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1000, max: 600_000 }),
        fc.double({ min: 0.15, max: 1.2, noNaN: true }),
        fc.double({ min: 0.01, max: 20, noNaN: true }),
        (median, sigma, factor) => {
          const times = polls(median * factor, belief(median, sigma), DEFAULT_POLL_POLICY);
          for (let i = 1; i < times.length; i++) {
            const gap = times[i]! - times[i - 1]!;
            assert.ok(
              gap >= DEFAULT_POLL_POLICY.minIntervalMs && gap <= DEFAULT_POLL_POLICY.maxIntervalMs,
              `gap ${gap}`,
            );
          }
          assert.ok(times[times.length - 1]! >= median * factor);
        },
      ),
      { numRuns: 200, seed: 5 },
    );
  });

  it('spends ≤ 2.5 polls per job on log-normal run times at a mean lag under a quarter of the median', () => {
    const b = belief(60_000, 0.4);
    let count = 0;
    let lag = 0;
    const n = 2000;
    for (let i = 0; i < n; i++) {
      // Deterministic quantiles of the log-normal (Box–Muller over a grid is overkill here).
      const u = (i + 0.5) / n;
      const z = Math.sqrt(2) * inverseErf(2 * u - 1);
      const run = 60_000 * Math.exp(0.4 * z);
      const times = polls(run, b, DEFAULT_POLL_POLICY);
      count += times.length;
      lag += times[times.length - 1]! - run;
    }
    assert.ok(count / n <= 2.5, `polls/job ${count / n}`);
    assert.ok(lag / n <= 0.25 * 60_000, `mean lag ${lag / n} ms`);
  });

  it('a belief that moves between polls does not add looks (no second look a sliver after the first)', () => {
    // Every job of the kind that ends while this one runs nudges the learned median: here it moves up
    // and down by 3 % between consecutive polls, as it does under a busy batch.
    const pollsDrifting = (runMs: number): number[] => {
      const times: number[] = [];
      let at = nextPollAt(
        { startedAt: T0, polls: 0, duration: belief(60_000, 0.4) },
        DEFAULT_POLL_POLICY,
        T0,
      );
      times.push(at - T0);
      while (at - T0 < runMs) {
        const drift = times.length % 2 === 1 ? 1.03 : 1 / 1.03;
        const b = belief(60_000 * drift, 0.4);
        at = nextPollAt({ startedAt: T0, polls: times.length, duration: b }, DEFAULT_POLL_POLICY, at);
        times.push(at - T0);
      }
      return times;
    };
    const n = 500;
    let steady = 0;
    let drifting = 0;
    for (let i = 0; i < n; i++) {
      const z = Math.sqrt(2) * inverseErf(2 * ((i + 0.5) / n) - 1);
      const run = 60_000 * Math.exp(0.4 * z);
      steady += polls(run, belief(60_000, 0.4), DEFAULT_POLL_POLICY).length;
      const times = pollsDrifting(run);
      drifting += times.length;
      const smallest = Math.min(
        ...scheduleFor(0.4, DEFAULT_POLL_POLICY.lagWeight).map((t, k, all) =>
          k === 0 ? t : t - all[k - 1]!,
        ),
      );
      for (let k = 1; k < times.length; k++)
        assert.ok(
          times[k]! - times[k - 1]! >= 0.5 * smallest * 60_000,
          `gap ${times[k]! - times[k - 1]!} in ${times.join(' ')}`,
        );
    }
    assert.ok(
      drifting / n <= steady / n + 0.05,
      `polls/job ${drifting / n} drifting vs ${steady / n} steady`,
    );
  });

  it('a fixed policy (min = max = first ceiling) polls at exactly that interval', () => {
    const fixed = { ...DEFAULT_POLL_POLICY, minIntervalMs: 250, maxIntervalMs: 250, maxFirstPollMs: 250 };
    assert.deepEqual(polls(1000, belief(60_000), fixed), [250, 500, 750, 1000]);
  });

  it('the webhook backstop looks first past nearly every run time, then thins out', () => {
    const times = polls(400_000, belief(60_000), webhookBackstop(DEFAULT_POLL_POLICY));
    assert.ok(times[0]! > 60_000 * Math.exp(0.4 * 2.5), `first backstop look at ${times[0]}`);
    assert.ok(times.length <= 6);
  });

  it('the optimal schedule is increasing and looks more often than once per median around the median', () => {
    const s = scheduleFor(0.4, DEFAULT_POLL_POLICY.lagWeight);
    for (let i = 1; i < s.length; i++) assert.ok(s[i]! > s[i - 1]!);
    assert.ok(s.filter((t) => t > 0.7 && t < 1.7).length >= 3, s.join(' '));
  });
});

describe('learned durations', () => {
  it('the first observation replaces the default centre and keeps the prior spread', () => {
    const b = learnDuration(priorBelief(60_000), 3000);
    assert.equal(Math.round(medianMs(b)), 3000);
    assert.equal(b.sigma, priorBelief(1).sigma);
  });

  it('learns the spread and centre of log-normal run times', () => {
    let b = priorBelief(60_000);
    for (let i = 0; i < 4000; i++) {
      const z = Math.sqrt(2) * inverseErf(2 * (((i * 0.618034) % 1) + 1e-9) - 1);
      b = learnDuration(b, 5000 * Math.exp(0.3 * z));
    }
    assert.ok(Math.abs(b.sigma - 0.3) < 0.1, `sigma ${b.sigma}`);
    assert.ok(Math.abs(medianMs(b) / 5000 - 1) < 0.15, `median ${medianMs(b)}`);
    assert.ok(meanMs(b) > medianMs(b));
  });

  it('ignores nonsense observations', () => {
    const b = priorBelief(1000);
    assert.deepEqual(learnDuration(b, 0), b);
    assert.deepEqual(learnDuration(b, Number.NaN), b);
  });
});

describe('account health transitions', () => {
  const tuning = { concurrencyBackoffMs: 30_000, rateLimitCooldownMs: 60_000 };
  it('cools down on limits, takes the account out on credits or auth, leaves it alone otherwise', () => {
    assert.deepEqual(healthAfterSubmitError('concurrency_limit', tuning, T0), {
      kind: 'cooldown',
      state: 'cooldown',
      until: T0 + 30_000,
      retryAfterS: 30,
    });
    assert.deepEqual(healthAfterSubmitError('rate_limit', tuning, T0), {
      kind: 'cooldown',
      state: 'cooldown',
      until: T0 + 60_000,
      retryAfterS: 60,
    });
    assert.deepEqual(healthAfterSubmitError('out_of_credits', tuning, T0), {
      kind: 'error',
      state: 'error',
      parked: true,
    });
    assert.deepEqual(healthAfterSubmitError('auth', tuning, T0), {
      kind: 'error',
      state: 'error',
      parked: false,
    });
    for (const cls of ['moderation', 'bad_request', 'not_found', 'transient'] as const) {
      const t = healthAfterSubmitError(cls, tuning, T0);
      assert.deepEqual(t, { kind: 'unchanged' });
      assert.equal(triesAnother(t), false);
    }
    assert.equal(triesAnother(healthAfterSubmitError('rate_limit', tuning, T0)), true);
  });
});

describe('estimates', () => {
  it('waitAtPosition is startTimes at that position (same replay, without replaying)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -2000, max: 20_000 }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 0, max: 200 }),
        (offsets, expected, position) => {
          const slots = offsets.map((o) => T0 + o);
          const replay =
            slots.length === 0 ? null : startTimes(slots, position + 1, expected, T0)[position]! - T0;
          const wait = waitAtPosition(slots, position, expected, T0);
          if (replay === null) assert.equal(wait, 60_000);
          else assert.ok(Math.abs(wait - replay) < 1e-6, `${wait} vs ${replay}`);
        },
      ),
      { numRuns: 500, seed: 9 },
    );
  });

  it('Retry-After stays within 1…300 s and is 5 s when nothing will free', () => {
    assert.equal(retryAfterSeconds(Number.POSITIVE_INFINITY, T0), 5);
    assert.equal(retryAfterSeconds(T0 - 10, T0), 1);
    assert.equal(retryAfterSeconds(T0 + 2500, T0), 3);
    assert.equal(retryAfterSeconds(T0 + 10_000_000, T0), 300);
  });
});

describe('queue order', () => {
  it('the SQL order is spelled from the comparator’s keys', () => {
    assert.equal(QUEUE_ORDER_SQL, 'priority DESC, queue_rank, id');
  });

  it('priority first, then least laxity, then id', () => {
    const jobs = [
      { id: 1, priority: 0, queueRank: queueRank(T0, 10_000) },
      { id: 2, priority: 0, queueRank: queueRank(T0 + 1, 120_000) },
      { id: 3, priority: 1, queueRank: T0 + 1e9 },
      { id: 4, priority: 0, queueRank: queueRank(T0, 10_000) },
    ];
    assert.deepEqual(
      [...jobs].sort(compareQueued).map((j) => j.id),
      [3, 2, 1, 4],
    );
  });

  it('dispatchOrder starts from the stored passes and advances by 1/weight', () => {
    const job = (id: number, tokenId: number | null) => ({ id, tokenId, priority: 0, queueRank: T0 + id });
    const queued = [job(1, 1), job(2, 1), job(3, 1), job(4, 2), job(5, 2), job(6, 2)];
    // Token 1 is one whole turn ahead; token 2 has weight 2 (half a turn per dispatch).
    const order = dispatchOrder(queued, [
      { key: 1, pass: 1, weight: 1 },
      { key: 2, pass: 0, weight: 2 },
    ]);
    assert.deepEqual(
      order.map((j) => j.id),
      [4, 5, 1, 6, 2, 3],
    );
  });
});

/** erf⁻¹ by Newton's method on a good start (enough for generating quantiles in tests). */
function inverseErf(y: number): number {
  const a = 0.147;
  const ln = Math.log(1 - y * y);
  const t = 2 / (Math.PI * a) + ln / 2;
  let x = Math.sign(y) * Math.sqrt(Math.sqrt(t * t - ln / a) - t);
  for (let i = 0; i < 3; i++) {
    const err = erf(x) - y;
    x -= err / ((2 / Math.sqrt(Math.PI)) * Math.exp(-x * x));
  }
  return x;
}

function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return x >= 0 ? y : -y;
}
