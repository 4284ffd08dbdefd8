/**
 * reserve(): choose an account and take one of its slots — design invariant 1 (never overbook).
 *
 * Counting the account's slot-holding jobs and inserting the new `submitting` job happen in ONE
 * `BEGIN IMMEDIATE` transaction. IMMEDIATE takes SQLite's single write lock before the count, so no
 * other connection (another process, or another store on the same file) can insert between our
 * count and our insert. A count outside the transaction — or in a DEFERRED one, whose snapshot may
 * be stale by the time it writes — would let two callers both see "one slot free" and both insert.
 *
 * Which account: the free healthy accounts come from `accounts_free`, the index of accounts whose
 * trigger-kept `executing` count is below `max_jobs` (see slotCounts.ts), read under the same write
 * lock. The rule is chooseAccount's: uniformly at random among them, candidate number
 * candidateIndex(r, n) in email order. Only a per-request maxJobs override (a limit the index does
 * not know) still reads the load of every account.
 */
import type { AccountLoad, ReserveInput, ReserveResult } from '../store.ts';
import { accountFromRow, jobFromRow, type AccountRow, type JobRow } from '../rows.ts';
import { candidateIndex, chooseAccount, type AccountChoice } from '../fairness.ts';
import { immediate, type Db, type StatementCache } from './database.ts';
import { LOADS_SQL, type LoadRow } from '../sql/accounts.ts';
import { KeyTakenRollback } from '../idempotency.ts';
import type { IdempotencyQueries } from './idempotency.ts';

// The selection rule lives in the dialect-free ../fairness.ts; re-exported for existing importers.
export { chooseAccount, type AccountChoice } from '../fairness.ts';

const ACCOUNT_SQL = 'SELECT * FROM accounts WHERE user_id = ? AND email = ?';

/**
 * Free and healthy (isHealthy: ok, or a cool-down that has ended). `executing < max_jobs` is the
 * partial index's own predicate, spelled out so the planner uses it; every column the test reads is
 * in the index, so counting and stepping never touch the table (measured with 500 free accounts on
 * a busy machine: count ~50 µs, step ~19 µs; the former pool scan: ~1.5 ms).
 */
const FREE_WHERE = `user_id = @userId AND executing < max_jobs
  AND (state = 'ok' OR (state = 'cooldown' AND COALESCE(cooldown_until, 0) <= @now))`;
const FREE_COUNT_SQL = `SELECT COUNT(*) FROM accounts INDEXED BY accounts_free WHERE ${FREE_WHERE}`;
/** The email only, so stepping over `offset` entries stays in the index (with `*`: ~4× the CPU at 500 accounts). */
const FREE_PICK_SQL = `SELECT email FROM accounts INDEXED BY accounts_free WHERE ${FREE_WHERE} ORDER BY email LIMIT 1 OFFSET @offset`;
const ANY_ACCOUNT_SQL = 'SELECT 1 FROM accounts WHERE user_id = ? LIMIT 1';

export class AdmissionQueries {
  private readonly reserveTx: (input: ReserveInput) => ReserveResult;

  constructor(
    db: Db,
    private readonly sql: StatementCache,
    idempotency: IdempotencyQueries,
  ) {
    this.reserveTx = immediate(db, (input: ReserveInput): ReserveResult => {
      const choice = this.choose(input);
      if (!choice.ok) return choice;
      // started_at = created_at = now: the slot is held from this instant (elapsed/timeout clock).
      const row = this.sql
        .get(
          `INSERT INTO jobs (user_id, token_id, provider, email, pinned_email, type, state, trace_id, upstream_json, request_json,
                             reply_url, reply_ref, priority, max_jobs_override, created_at, queued_at, started_at)
           VALUES (@userId, @tokenId, @provider, @email, @pinnedEmail, @type, 'submitting', @traceId, @upstream, @request,
                   @replyUrl, @replyRef, 0, @maxJobsOverride, @now, NULL, @now)
           RETURNING *`,
        )
        .get({
          userId: input.userId,
          tokenId: input.tokenId,
          provider: input.provider,
          email: choice.account.email,
          pinnedEmail: input.email,
          maxJobsOverride: input.maxJobsOverride,
          type: input.type,
          traceId: input.traceId,
          upstream: JSON.stringify(input.upstream),
          request: JSON.stringify(input.request),
          replyUrl: input.replyUrl,
          replyRef: input.replyRef,
          now: input.now,
        }) as JobRow;
      const job = jobFromRow(row);
      if (input.idempotency)
        idempotency.claim(input.userId, input.tokenId, job.id, input.idempotency, input.now);
      return { ok: true, job, account: choice.account };
    });
  }

  private choose(input: ReserveInput): AccountChoice {
    if (input.email !== null) {
      const row = this.sql.get(ACCOUNT_SQL).get(input.userId, input.email) as
        | (AccountRow & { executing: number })
        | undefined;
      return chooseAccount(row ? [{ account: accountFromRow(row), executing: row.executing }] : [], input);
    }
    if (input.maxJobsOverride !== null) {
      const loads: AccountLoad[] = (this.sql.get(LOADS_SQL).all(input.userId) as LoadRow[]).map((r) => ({
        account: accountFromRow(r),
        executing: r.executing,
      }));
      return chooseAccount(loads, input);
    }
    const free = this.sql.get(FREE_COUNT_SQL).pluck().get({ userId: input.userId, now: input.now }) as number;
    if (free === 0) {
      const any = this.sql.get(ANY_ACCOUNT_SQL).get(input.userId);
      return { ok: false, reason: any === undefined ? 'no_accounts' : 'none_free' };
    }
    const offset = candidateIndex((input.random ?? Math.random)(), free);
    const email = this.sql.get(FREE_PICK_SQL).pluck().get({ userId: input.userId, now: input.now, offset }) as
      | string
      | undefined;
    const row =
      email === undefined
        ? undefined
        : (this.sql.get(ACCOUNT_SQL).get(input.userId, email) as AccountRow | undefined);
    // Same transaction, same lock: the n-th free account counted above is still there.
    if (!row) throw new Error(`free account ${offset} of ${free} vanished inside the reserve transaction`);
    return { ok: true, account: accountFromRow(row) };
  }

  reserve(input: ReserveInput): ReserveResult {
    try {
      return this.reserveTx(input);
    } catch (err) {
      if (err instanceof KeyTakenRollback) return { ok: false, reason: 'key_taken' };
      throw err;
    }
  }
}
