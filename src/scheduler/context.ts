/** Everything the scheduler's parts share, built once by Scheduler. */
import type { Logger } from 'pino';
import type { Store } from '../store/store.ts';
import type { Provider, Upstream } from './provider.ts';
import type { AccountKeys } from './accountKeys.ts';
import type { DurationEstimator } from './durationEstimator.ts';
import type { SchedulerEvents } from './events.ts';
import type { PollPolicy } from '../domain/policy/pollSchedule.ts';

export interface SchedulerTuning {
  /** A job holding a slot longer than this becomes timed_out (default 15 min). */
  jobTimeoutMs: number;
  /** A job still `submitting` after this long is assumed orphaned by a crash and reconciled. */
  staleSubmitMs: number;
  /** How long an account is skipped after the provider reports its concurrency limit. */
  concurrencyBackoffMs: number;
  /** Cool-down after an upstream rate limit. */
  rateLimitCooldownMs: number;
  /** Tracker lease; renewed while a poll is in flight. */
  leaseMs: number;
  /** Parallel status calls in flight per instance. */
  pollConcurrency: number;
  /** Longest the tracker sleeps when nothing is due (backstop for missed wake-ups). */
  idleWakeMs: number;
  /** How often the sweeper looks for timeouts and orphaned submits. */
  sweepEveryMs: number;
  /** How often this instance tells a shared store it is alive. */
  heartbeatMs: number;
  /** An instance silent this long is dead: its in-doubt submits are reconciled. */
  silentAfterMs: number;
  /** How often a parked (out of credits) account's balance is checked. */
  creditCheckEveryMs: number;
  /** How long an Idempotency-Key and its first answer are kept (default 24 h). */
  idempotencyTtlMs: number;
  poll: PollPolicy;
}

export interface SchedulerContext {
  store: Store;
  /** The provider's rules (ids, run times, webhook scheme, name in messages). */
  provider: Provider;
  /** The provider's client (possibly wrapped, e.g. metered). */
  upstream: Upstream;
  keys: AccountKeys;
  estimator: DurationEstimator;
  events: SchedulerEvents;
  log: Logger;
  now: () => number;
  tuning: SchedulerTuning;
  /** Identifies this process in leases. */
  instanceId: string;
  /** Watches accounts parked for lack of credits (set by Scheduler). */
  creditWatch?: ParkedAccounts;
}

/**
 * What the scheduler's parts need of the credit watch (creditWatch.ts implements it). Declared
 * here so the context names no part it is shared with: creditWatch.ts imports this file, not the
 * other way round.
 */
export interface ParkedAccounts {
  /** The account ran out of credits: check its balance now and then until it returns. */
  park(userId: number, email: string): void;
  /** Checks the parked accounts whose turn has come (the sweeper calls it). */
  check(): Promise<void>;
}
