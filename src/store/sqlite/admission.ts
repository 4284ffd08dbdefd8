/**
 * reserve(): choose an account and take one of its slots — design invariant 1 (never overbook).
 *
 * Counting the account's slot-holding jobs and inserting the new `submitting` job happen in ONE
 * `BEGIN IMMEDIATE` transaction. IMMEDIATE takes SQLite's single write lock before the count, so no
 * other connection (another process, or another store on the same file) can insert between our
 * count and our insert. A count outside the transaction — or in a DEFERRED one, whose snapshot may
 * be stale by the time it writes — would let two callers both see "one slot free" and both insert.
 */
import type { ReserveInput, ReserveResult } from '../store.ts';
import { accountFromRow, jobFromRow, type JobRow } from '../rows.ts';
import { chooseAccount } from '../fairness.ts';
import { immediate, type Db, type StatementCache } from './database.ts';
import { LOADS_SQL, type LoadRow } from './accounts.ts';
import { KeyTakenRollback } from '../idempotency.ts';
import type { IdempotencyQueries } from './idempotency.ts';

// The selection rule lives in the dialect-free ../fairness.ts; re-exported for existing importers.
export { chooseAccount, type AccountChoice } from '../fairness.ts';

export class AdmissionQueries {
  private readonly reserveTx: (input: ReserveInput) => ReserveResult;

  constructor(
    db: Db,
    private readonly sql: StatementCache,
    idempotency: IdempotencyQueries,
  ) {
    this.reserveTx = immediate(db, (input: ReserveInput): ReserveResult => {
      const loads = (this.sql.get(LOADS_SQL).all(input.userId) as LoadRow[]).map((r) => ({
        account: accountFromRow(r),
        executing: r.executing,
      }));
      const choice = chooseAccount(loads, input);
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
      if (input.idempotency) idempotency.claim(input.userId, input.tokenId, job.id, input.idempotency, input.now);
      return { ok: true, job, account: choice.account };
    });
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
