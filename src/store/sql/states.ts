/**
 * State lists of SQL, derived from the domain's (never spelled out by hand). Kept textual, not bound:
 * SQLite only uses a partial index (`jobs_active`, …) when the query repeats the index's predicate
 * exactly, and PostgreSQL proves a partial index applies only from literal text as well.
 */
import { JOB_STATES, SLOT_STATES, TERMINAL_STATES, isTerminal, type JobState } from '../../domain/job.ts';

const list = (states: readonly string[]) => states.map((s) => `'${s}'`).join(', ');

/** States a job can still leave: the `state IN (…)` of every compare-and-swap. */
export const NON_TERMINAL_STATES: readonly JobState[] = JOB_STATES.filter((s) => !isTerminal(s));

/** Jobs holding an account slot (design: from `submitting` until a terminal state). */
export const HOLDS_SLOT = `state IN (${list(SLOT_STATES)})`;

/**
 * In-flight jobs that count against their account: DELETE /scheduler/{id} untracks a job (it stays in
 * flight, polled, but frees its slot at once). HOLDS_SLOT by itself selects what timeouts and account
 * deletion end.
 */
export const TRACKED_SLOT = `${HOLDS_SLOT} AND untracked_at IS NULL`;

/**
 * A job the gateway timed out while the provider may still run it keeps its slot (`slot_held_until`
 * set) until the provider reports it final or the hold's cap passes: freeing it at the timeout let
 * the next submit exceed the key's real concurrency. A slot count is TRACKED_SLOT jobs plus
 * SLOT_HELD jobs (disjoint: held jobs are terminal), counted as two terms rather than one OR so each
 * repeats its own partial index's predicate (jobs_active…, jobs_slot_held).
 */
export const SLOT_HELD = 'slot_held_until IS NOT NULL';

/** Emails of a tenant's slot-holding jobs, one row per slot: GROUP BY email over it counts them. */
export const SLOT_HOLDERS_OF_USER = `SELECT email FROM jobs WHERE user_id = $1 AND ${TRACKED_SLOT}
   UNION ALL SELECT email FROM jobs WHERE user_id = $1 AND ${SLOT_HELD}`;

/** Jobs a compare-and-swap may still move. */
export const NOT_TERMINAL = `state IN (${list(NON_TERMINAL_STATES)})`;

/** Jobs that ended badly (the dashboard's recent failures): terminal, neither completed nor cancelled on request. */
export const FAILED = `state IN (${list(TERMINAL_STATES.filter((s) => s !== 'completed' && s !== 'cancelled'))})`;

/** SET-clause part that drops a lease; every transition out of a leased phase includes it. */
export const CLEAR_LEASE = 'lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL';
