/**
 * Which account takes a job (reserve, and dispatch once a job is picked), and which queued jobs
 * could take one of the free slots right now — expressed as a few index-friendly conditions so a
 * store can find the next job with LIMIT-1 seeks instead of reading the whole queue.
 */
import { isHealthy, type Account } from '../account.ts';

/** An account with the number of jobs holding one of its slots. */
export interface AccountLoad {
  account: Account;
  executing: number;
}

/** Why no account takes the job (the store's reserve answers with these as they are). */
export type AccountRefusal =
  | { ok: false; reason: 'no_accounts' | 'none_free' }
  | { ok: false; reason: 'unknown_account' }
  | { ok: false; reason: 'account_full' | 'account_unhealthy'; account: Account };

export type AccountChoice = { ok: true; account: Account } | AccountRefusal;

export interface ChoiceInput {
  /** The pinned account, or null for any. */
  email: string | null;
  /** The request's own slot limit, replacing the account's maxJobs when given. */
  maxJobsOverride: number | null;
  now: number;
  /** Uniform [0, 1) source; Math.random when absent. */
  random?: (() => number) | undefined;
}

/**
 * The selection rule: given every account of the user with its current load, which one takes the
 * job? Pinned → that account or why not; unpinned → uniformly random among healthy accounts with a
 * free slot (useapi's documented load balancing). The slot limit is the per-job override when given,
 * else the account's maxJobs.
 */
export function chooseAccount(loads: readonly AccountLoad[], input: ChoiceInput): AccountChoice {
  const limitOf = (account: Account) => input.maxJobsOverride ?? account.maxJobs;
  const hasRoom = (load: AccountLoad) => load.executing < limitOf(load.account);

  if (input.email !== null) {
    const load = loads.find((l) => l.account.email === input.email);
    if (!load) return { ok: false, reason: 'unknown_account' };
    if (!isHealthy(load.account, input.now))
      return { ok: false, reason: 'account_unhealthy', account: load.account };
    if (!hasRoom(load)) return { ok: false, reason: 'account_full', account: load.account };
    return { ok: true, account: load.account };
  }

  if (loads.length === 0) return { ok: false, reason: 'no_accounts' };
  const candidates = loads.filter((l) => isHealthy(l.account, input.now) && hasRoom(l));
  if (candidates.length === 0) return { ok: false, reason: 'none_free' };
  return {
    ok: true,
    account: candidates[candidateIndex((input.random ?? Math.random)(), candidates.length)]!.account,
  };
}

/**
 * Which of `n` candidates (n ≥ 1) a uniform draw `r` in [0, 1) picks: number floor(r·n). A store that
 * finds free accounts through an index (rather than reading every load) applies the same rule to the
 * free accounts in email order, so both ways pick alike.
 */
export function candidateIndex(r: number, n: number): number {
  // Clamp: a misbehaving source returning 1 (or a tiny negative) must still pick a candidate.
  return Math.min(n - 1, Math.max(0, Math.floor(r * n)));
}

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
    ...healthy.map((l) => ({
      pinnedEmail: l.account.email,
      plainFits: l.executing < l.account.maxJobs,
      overrideAbove: l.executing,
    })),
  ];
}

/**
 * Whether a queued job fits a free slot now: the condition `fitClasses` hands to SQL, evaluated in
 * memory (a batch of dispatches re-checks jobs it read earlier against loads it has since raised).
 */
export function fitsClasses(
  job: { pinnedEmail: string | null; maxJobsOverride: number | null },
  classes: readonly FitClass[],
): boolean {
  const cls = classes.find((c) => c.pinnedEmail === job.pinnedEmail);
  if (!cls) return false;
  return job.maxJobsOverride === null ? cls.plainFits : job.maxJobsOverride > cls.overrideAbove;
}
