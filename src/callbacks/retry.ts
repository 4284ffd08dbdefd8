/**
 * When to try a callback again. Pure functions of (schedule, attempt, outcome, now, random).
 *
 * The schedule lists the delay before each attempt: schedule[n-1] precedes attempt n (1-based),
 * so schedule[0] (normally 0) is the first attempt's delay and the delivery is dead-lettered
 * once attempt schedule.length has failed.
 */
import type { AttemptResult } from '../store/store.ts';

/** Longest a receiver's Retry-After may push an attempt out. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;
export const JITTER = 0.1;

/** `ms` ± 10 %, never negative; 0 stays 0 (an immediate first attempt is not delayed). */
export function withJitter(ms: number, random: () => number = Math.random): number {
  if (ms <= 0) return 0;
  return Math.max(0, Math.round(ms * (1 + (random() * 2 - 1) * JITTER)));
}

/** IMF-fixdate and RFC 850 dates end in GMT; asctime dates end in the year (RFC 9110 §5.6.7). */
const HTTP_DATE = /^[A-Za-z]{3,9}, .+ GMT$|^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/;

/**
 * A Retry-After header as a delay in ms from `nowMs`: delta-seconds or an HTTP date, capped at
 * MAX_RETRY_AFTER_MS; null when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined | null, nowMs: number): number | null {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return null;
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (!HTTP_DATE.test(text) || !Number.isFinite(at)) return null;
    ms = at - nowMs;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

/** What one HTTP attempt came to, before scheduling. */
export type AttemptOutcome =
  | { delivered: true; status: number }
  | {
      delivered: false;
      status: number | null;
      error: string;
      /** No further attempts, whatever the schedule says (410 Gone, a refused literal address). */
      final?: boolean;
      /** The receiver's Retry-After (429/503), already capped. */
      retryAfterMs?: number | null;
    };

/**
 * The AttemptResult to record after attempt `attempt` (1-based): delivered, retried at
 * now + schedule[attempt] (+ jitter, but never sooner than a Retry-After), or dead (null).
 */
export function planAttempt(
  outcome: AttemptOutcome,
  attempt: number,
  schedule: readonly number[],
  nowMs: number,
  random: () => number = Math.random,
): AttemptResult {
  if (outcome.delivered) return { delivered: true, status: outcome.status };
  const failed = { delivered: false as const, status: outcome.status };
  if (outcome.final) return { ...failed, error: `${outcome.error}; not retried`, nextAttemptAt: null };
  if (attempt >= schedule.length) {
    return {
      ...failed,
      error: `${outcome.error}; gave up after ${attempt} attempt${attempt === 1 ? '' : 's'}`,
      nextAttemptAt: null,
    };
  }
  const delay = Math.max(withJitter(schedule[attempt]!, random), outcome.retryAfterMs ?? 0);
  return { ...failed, error: outcome.error, nextAttemptAt: nowMs + delay };
}
