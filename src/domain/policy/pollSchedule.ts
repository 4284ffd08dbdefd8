/**
 * When to ask the provider about a running job, from the learned distribution of its run time
 * (durations.ts), not from one mean.
 *
 * A poll costs one status call; a job that finished before the poll that sees it holds its slot for
 * the gap (detection lag). For a log-normal run time the schedule minimising
 *   E[polls] + lagWeight × E[lag] / median
 * is found once per spread σ by dynamic programming over a grid of times in units of the median
 * (the family is scale-free, so one schedule per σ serves every median), and cached. It looks
 * seldom while few jobs can have ended, densely around the bulk of the distribution and thins out
 * in the tail. On bench/polls.ts's workload (the model in bench/lib/workload.ts, 400 jobs) it spends
 * 2.4 polls per job at a mean lag of 480 ms (×0.05 time), where the former schedule — first look at
 * 0.9 × the mean, capped by the 30 s interval ceiling, then geometric back-off — spent 3.5 at 530 ms.
 *
 * Floor and ceiling: no poll comes sooner than minIntervalMs after the previous one (or after the
 * start), none later than maxIntervalMs after the previous poll, and the first one no later than
 * maxFirstPollMs after the start. A straggler past the grid is looked at with intervals growing by
 * half each time, up to the ceiling.
 */
import { normalCdf, normalQuantile, type DurationBelief } from './durations.ts';

export interface PollPolicy {
  /** Cost of one median of detection lag, in polls: higher polls more for a faster sighting. */
  lagWeight: number;
  minIntervalMs: number;
  maxIntervalMs: number;
  /** Longest wait from the start to the first poll (the ceiling on the first look). */
  maxFirstPollMs: number;
  /**
   * Set when the provider reports the job's end by webhook: polls only back the webhook up, so the
   * first look waits for this quantile of the run time (nearly every job has ended by then) and
   * later looks double from one median.
   */
  backstopQuantile: number | null;
}

export const DEFAULT_POLL_POLICY: PollPolicy = {
  lagWeight: 10,
  minIntervalMs: 1000,
  maxIntervalMs: 30_000,
  // The provider releases a job's slot after 10 minutes whatever happens.
  maxFirstPollMs: 600_000,
  backstopQuantile: null,
};

/** The policy for a job whose end the provider reports by webhook (see backstopQuantile). */
export function webhookBackstop(policy: PollPolicy): PollPolicy {
  return { ...policy, backstopQuantile: 0.995, maxIntervalMs: policy.maxIntervalMs * 4 };
}

/** What the schedule needs to know about one running job. */
export interface PollFacts {
  /** When the job started upstream (epoch ms). */
  startedAt: number;
  /** Polls already made that found it running (0 before the first). */
  polls: number;
  /** What its kind of job is believed to run. */
  duration: DurationBelief;
}

/** Epoch ms of the next poll of a job, decided at `now` (at the start, or just after a poll). */
export function nextPollAt(facts: PollFacts, policy: PollPolicy, now: number): number {
  const median = Math.exp(facts.duration.mu);
  const target =
    policy.backstopQuantile === null
      ? facts.startedAt +
        median *
          nextScheduledTime(
            scheduleFor(facts.duration.sigma, policy.lagWeight),
            (now - facts.startedAt) / median,
            facts.polls > 0,
            1 / median,
          )
      : backstopTarget(facts, policy, median, now);
  const ceiling = facts.polls === 0 ? facts.startedAt + policy.maxFirstPollMs : now + policy.maxIntervalMs;
  const floor = now + policy.minIntervalMs;
  return Math.round(Math.max(floor, Math.min(ceiling, target)));
}

function backstopTarget(facts: PollFacts, policy: PollPolicy, median: number, now: number): number {
  if (facts.polls === 0)
    return (
      facts.startedAt + median * Math.exp(facts.duration.sigma * normalQuantile(policy.backstopQuantile!))
    );
  return now + median * 2 ** (facts.polls - 1);
}

/**
 * The next look, in medians from the start, decided `elapsed` medians after it (at the start, or just
 * after a poll). Before the first scheduled time, that time. Later, one step of the schedule's
 * spacing where `elapsed` falls: `elapsed` plus the gap between the scheduled times around it. While
 * the belief holds still, a poll made on a scheduled time is followed by the next one exactly. When it
 * moves between two polls (every finished job of the kind nudges the median and the spread), the grid
 * moves under the job: taking "the first scheduled time after now" then landed a second look a few
 * percent of a gap after the first (bench/polls.ts counted 0.6 extra polls per job, most of them
 * such doubles). Stepping by the local spacing keeps the schedule's density at that age instead.
 */
function nextScheduledTime(
  times: readonly number[],
  elapsed: number,
  afterPoll: boolean,
  /** One ms in medians: a poll lands on a scheduled time rounded to the ms. */
  ms: number,
): number {
  let i = 0;
  while (i < times.length && times[i]! <= elapsed + ms) i++;
  if (i < times.length) {
    if (!afterPoll) return times[i]!;
    // Looked before the first scheduled time (the belief moved, or a ceiling cut the first look
    // short): one step of the first spacing, but not before that time.
    if (i === 0) return Math.max(times[0]!, elapsed + ((times[1] ?? times[0]! * 2) - times[0]!));
    return elapsed + (times[i]! - times[i - 1]!);
  }
  // A straggler past the grid: intervals grow by half from the schedule's last one.
  let at = times[times.length - 1]!;
  let gap = at - (times[times.length - 2] ?? 0);
  while (at <= elapsed + ms) {
    gap *= 1.5;
    at += gap;
  }
  return afterPoll ? elapsed + gap : at;
}

const schedules = new Map<string, readonly number[]>();
/** σ is rounded to this step for the cache: schedules for nearby spreads hardly differ. */
const SIGMA_STEP = 0.02;
const GRID_STEPS = 320;

/** The optimal poll times, in medians from the start, for spread σ (cached per rounded σ and weight). */
export function scheduleFor(sigma: number, lagWeight: number): readonly number[] {
  const s = Math.max(SIGMA_STEP, Math.round(sigma / SIGMA_STEP) * SIGMA_STEP);
  const key = `${s.toFixed(2)}:${lagWeight}`;
  let times = schedules.get(key);
  if (!times) {
    times = optimalSchedule(s, lagWeight);
    if (schedules.size > 1000) schedules.clear();
    schedules.set(key, times);
  }
  return times;
}

/**
 * Dynamic programme over grid times t_0 = 0 < … < t_n (n = GRID_STEPS, t_n the 4σ quantile). With
 * the job known to run past t_i, the cost to go — weighted by P(run > t_i) so the terms add up — is
 *   W(i) = min over j > i of  S(t_i) + lagWeight · ∫_{t_i}^{t_j} (t_j − x) f(x) dx + W(j),
 * S(t_i) being the chance the poll at t_j is made at all. O(n²) once per σ.
 */
function optimalSchedule(sigma: number, lagWeight: number): number[] {
  const end = Math.exp(4 * sigma);
  const n = GRID_STEPS;
  const t = Array.from({ length: n + 1 }, (_, i) => (end * i) / n);
  const cdf = t.map((x) => (x <= 0 ? 0 : normalCdf(Math.log(x) / sigma)));
  // partial[i] = ∫_0^{t_i} x f(x) dx (trapezoids), so the lag term is t_j (F_j − F_i) − (partial_j − partial_i).
  const partial = [0];
  for (let i = 1; i <= n; i++)
    partial.push(partial[i - 1]! + ((cdf[i]! - cdf[i - 1]!) * (t[i]! + t[i - 1]!)) / 2);
  const cost = new Float64Array(n + 1);
  const next = new Int32Array(n + 1).fill(n);
  cost[n] = 1 - cdf[n]!;
  for (let i = n - 1; i >= 0; i--) {
    let best = Number.POSITIVE_INFINITY;
    for (let j = i + 1; j <= n; j++) {
      const lag = t[j]! * (cdf[j]! - cdf[i]!) - (partial[j]! - partial[i]!);
      const c = 1 - cdf[i]! + lagWeight * lag + cost[j]!;
      if (c < best) {
        best = c;
        next[i] = j;
      }
    }
    cost[i] = best;
  }
  const times: number[] = [];
  for (let i = next[0]!; ; i = next[i]!) {
    times.push(t[i]!);
    if (i >= n) break;
  }
  return times;
}
