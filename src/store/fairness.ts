/**
 * Scheduling rules shared by every Store dialect, free of SQL and of any driver:
 *
 * - chooseAccount: which account takes a job (reserve, and dispatch once a job is picked);
 * - fitClasses: which queued jobs could take one of the free slots right now, expressed as a few
 *   index-friendly conditions so a dialect can find the next job with LIMIT-1 seeks instead of
 *   reading the whole queue;
 * - the stride-scheduling arithmetic behind fair dispatch across a tenant's tokens.
 *
 * Fairness model (stride scheduling, per tenant). Every token that ever queued a job has a `pass`
 * (start 0); jobs without a token share the pseudo-token key 0 with weight 1. A dispatch serves the
 * token with the smallest pass that has a queued job fitting a free slot (ties: lower key), then
 * advances that token's pass by 1/weight. The tenant's virtual time `vtime` is the pass the last
 * served token had before its advance; a token that had nothing queued joins at max(pass, vtime),
 * so time spent idle is not credited (no burst of "catch-up" dispatches on return).
 */
import { isHealthy, type Account } from '../domain/account.ts';
import type { AccountLoad, ReserveInput, ReserveResult } from './store.ts';

export type AccountChoice = { ok: true; account: Account } | Extract<ReserveResult, { ok: false }>;

/**
 * The selection rule: given every account of the user with its current load, which one takes the
 * job? Pinned → that account or why not; unpinned → uniformly random among healthy accounts with a
 * free slot (useapi's documented load balancing). The slot limit is the per-job override when given,
 * else the account's maxJobs.
 */
export function chooseAccount(
  loads: readonly AccountLoad[],
  input: Pick<ReserveInput, 'email' | 'maxJobsOverride' | 'now' | 'random'>,
): AccountChoice {
  const limitOf = (account: Account) => input.maxJobsOverride ?? account.maxJobs;
  const hasRoom = (load: AccountLoad) => load.executing < limitOf(load.account);

  if (input.email !== null) {
    const load = loads.find((l) => l.account.email === input.email);
    if (!load) return { ok: false, reason: 'unknown_account' };
    if (!isHealthy(load.account, input.now)) return { ok: false, reason: 'account_unhealthy', account: load.account };
    if (!hasRoom(load)) return { ok: false, reason: 'account_full', account: load.account };
    return { ok: true, account: load.account };
  }

  if (loads.length === 0) return { ok: false, reason: 'no_accounts' };
  const candidates = loads.filter((l) => isHealthy(l.account, input.now) && hasRoom(l));
  if (candidates.length === 0) return { ok: false, reason: 'none_free' };
  return { ok: true, account: candidates[candidateIndex((input.random ?? Math.random)(), candidates.length)]!.account };
}

/** Which of `n` candidates (n ≥ 1) a uniform draw `r` in [0, 1) picks: number floor(r·n). */
export function candidateIndex(r: number, n: number): number {
  // Clamp: a misbehaving source returning 1 (or a tiny negative) must still pick a candidate.
  return Math.min(n - 1, Math.max(0, Math.floor(r * n)));
}

// ── which queued jobs fit ────────────────────────────────────────────────

/**
 * One class of queued jobs and the condition under which its jobs fit a free slot now.
 * A queued job fits iff it belongs to some class and
 *   max_jobs_override IS NULL     → `plainFits`
 *   max_jobs_override IS NOT NULL → max_jobs_override > `overrideAbove`.
 * Classes: one per healthy account (jobs pinned to it) plus one for unpinned jobs (present when
 * any account is healthy). Jobs pinned to an unhealthy or unknown account belong to no class.
 */
export interface FitClass {
  /** pinned_email of the class's jobs; null for unpinned jobs. */
  pinnedEmail: string | null;
  /** A job without override fits: the account (some healthy account, if unpinned) is below its maxJobs. */
  plainFits: boolean;
  /** A job with override fits when override > this: the account's load (the lowest healthy load, if unpinned). */
  overrideAbove: number;
}

export function fitClasses(loads: readonly AccountLoad[], now: number): FitClass[] {
  const healthy = loads.filter((l) => isHealthy(l.account, now));
  if (healthy.length === 0) return [];
  const unpinned: FitClass = {
    pinnedEmail: null,
    plainFits: healthy.some((l) => l.executing < l.account.maxJobs),
    overrideAbove: Math.min(...healthy.map((l) => l.executing)),
  };
  return [
    unpinned,
    ...healthy.map((l) => ({ pinnedEmail: l.account.email, plainFits: l.executing < l.account.maxJobs, overrideAbove: l.executing })),
  ];
}

/**
 * Whether a queued job fits a free slot now: the condition `fitClasses` hands to SQL, evaluated in
 * memory (a batch of dispatches re-checks jobs it read earlier against loads it has since raised).
 */
export function fitsClasses(job: { pinnedEmail: string | null; maxJobsOverride: number | null }, classes: readonly FitClass[]): boolean {
  const cls = classes.find((c) => c.pinnedEmail === job.pinnedEmail);
  if (!cls) return false;
  return job.maxJobsOverride === null ? cls.plainFits : job.maxJobsOverride > cls.overrideAbove;
}

/** What orders a token's queued jobs (a Job, or a dialect's lighter candidate row). */
export interface QueueOrderKey {
  priority: number;
  queueRank: number | null;
  id: number;
}

/**
 * Within a token's share: higher priority first, then the lowest queue rank (least laxity first, see
 * Job.queueRank), then the lowest id. Negative when `a` goes first. This is the order of the
 * jobs_queue index's trailing columns (priority DESC, queue_rank, id) in both dialects, so a line's
 * head read from the index and the best head picked in memory agree.
 *
 * Every queued row carries a rank (enqueue writes one, requeue keeps or fills it, the migrations
 * backfilled the queue), so a null never meets the index order; it sorts first here, as in SQLite.
 */
export function compareQueued(a: QueueOrderKey, b: QueueOrderKey): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const ra = a.queueRank ?? Number.NEGATIVE_INFINITY;
  const rb = b.queueRank ?? Number.NEGATIVE_INFINITY;
  if (ra !== rb) return ra < rb ? -1 : 1;
  return a.id - b.id;
}

/**
 * enqueue() takes any finite rank (an epoch-ms difference, possibly fractional: the columns are
 * double precision). NaN or ±Infinity is a caller bug: SQLite would store NaN as NULL and PostgreSQL
 * would sort it after every number, so both refuse it instead of ordering the queue differently.
 */
export function assertQueueRank(rank: number): void {
  if (typeof rank !== 'number' || !Number.isFinite(rank)) throw new RangeError(`queue rank must be a finite number, got ${rank}`);
}

// ── stride arithmetic ────────────────────────────────────────────────────

/** The fairness key of jobs without a token (a pseudo-token with weight 1). Real token ids start at 1. */
export const NO_TOKEN_KEY = 0;

export function tokenKey(tokenId: number | null): number {
  return tokenId ?? NO_TOKEN_KEY;
}

export function tokenIdOfKey(key: number): number | null {
  return key === NO_TOKEN_KEY ? null : key;
}

/** setTokenWeight accepts finite weights > 0 only (a weight of 0 would make the stride infinite). */
export function assertTokenWeight(weight: number): void {
  if (!Number.isFinite(weight) || weight <= 0) throw new RangeError(`token weight must be a finite number > 0, got ${weight}`);
}

/** How far one dispatch advances a token's pass. */
export function passStride(weight: number): number {
  return Number.isFinite(weight) && weight > 0 ? 1 / weight : 1;
}

/** The pass of a token (re)joining the queue with nothing queued: no credit for time spent idle. */
export function joinPass(pass: number | null, vtime: number): number {
  return pass === null ? vtime : Math.max(pass, vtime);
}
