/**
 * SQL fragments repeated across statement families. Kept textual (not bound parameters) on purpose:
 * SQLite only uses the partial index `jobs_active` when a query's WHERE contains the index's exact
 * predicate, and a bound list would hide it from the planner.
 */
import { NON_TERMINAL_STATES } from '../rows.ts';
import { SLOT_STATES } from '../../domain/job.ts';

const list = (states: readonly string[]) => states.map((s) => `'${s}'`).join(',');

/** Jobs holding an account slot (design: from `submitting` until a terminal state). */
export const HOLDS_SLOT = `state IN (${list(SLOT_STATES)})`;

/**
 * In-flight jobs that count against their account: DELETE /scheduler/{id} untracks a job (it
 * stays in flight, polled, but frees its slot at once). Every slot count uses this, never HOLDS_SLOT
 * alone; HOLDS_SLOT by itself selects what timeouts and account deletion end.
 */
export const COUNTS_SLOT = `${HOLDS_SLOT} AND untracked_at IS NULL`;

/** Jobs a compare-and-swap may still move. */
export const NOT_TERMINAL = `state IN (${list(NON_TERMINAL_STATES)})`;

/** SET-clause part that drops a lease; every transition out of a leased phase includes it. */
export const CLEAR_LEASE = 'lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL';

/** A lease another owner may take over: none, or expired at `@now`. */
export const LEASE_FREE = '(lease_token IS NULL OR lease_expires_at <= @now)';
