/**
 * Admission: choose an account and take one of its slots, atomically (design invariant 1).
 *
 * The race this file exists to prevent: two gateway instances (or two requests on one pool)
 * both count 2 running jobs on an account with maxJobs 3, both see a free slot, both insert,
 * and the account runs 4. A bare "count then insert" is that bug, in any isolation level short
 * of SERIALIZABLE.
 *
 * The fix is a row lock on the account(s) taken with SELECT … FOR NO KEY UPDATE in the same
 * transaction that counts and inserts. Every reserve() and dispatch() touching an account queues
 * on that row; the next one in line only counts after the previous one committed its job.
 * NO KEY UPDATE rather than UPDATE: the two conflict with each other (and with the row locks that
 * upsertAccount, setAccountHealth and deleteAccount take), so admissions serialise exactly as
 * before, but NO KEY UPDATE lets the FOR KEY SHARE of a pinned enqueue() through — enqueueing
 * never waits for an admission or a dispatch to finish with the account.
 *
 * Why the count is its own statement, after the lock: under READ COMMITTED each statement
 * takes a new snapshot. The FOR UPDATE statement may wait for another reserve() to commit; a
 * count run as part of that same statement would use the snapshot from before the wait and miss
 * the job just inserted. The count statement that follows starts after the lock is granted, so
 * it sees every job committed by whoever held the lock before.
 *
 * Slots are freed without the account lock (finish() etc. touch only the job row): freeing can
 * only make a count smaller, so a stale count can refuse a slot that just freed (the caller
 * retries or queues) but can never overbook.
 */
import type { Job } from '../../domain/job.ts';
import type { AccountLoad, ReserveInput, ReserveResult } from '../store.ts';
import { chooseAccount } from '../fairness.ts';
import { withTransaction } from './pool.ts';
import { SLOT_HOLDERS_OF_USER } from '../sql/states.ts';
import { accountFromRow, jobFromRow, type AccountRow, type JobRow } from '../rows.ts';
import type pg from 'pg';
import { claimKey, orKeyTaken } from './idempotency.ts';

export async function reserve(pool: pg.Pool, input: ReserveInput): Promise<ReserveResult> {
  return orKeyTaken(
    withTransaction(pool, async (tx): Promise<ReserveResult> => {
      // Pinned: lock only the requested account; other accounts of the tenant stay free for
      // concurrent admissions. Unpinned: lock every account of the tenant, always in email order
      // (byte order, COLLATE "C", the same order SQLite uses, so an injected random source picks
      // the same account on both stores whatever the database's locale). A fixed order means two
      // transactions locking overlapping sets queue behind each other instead of deadlocking (each
      // holding one row the other wants). Tenants have a handful of accounts, and admissions of one
      // tenant serialise here by design: that is what makes the "free slot" seen below real.
      const locked = await lockAccounts(tx, input.userId, input.email);
      const loads = await loadsOf(tx, input.userId, locked, input.email ?? undefined);
      const choice = chooseAccount(loads, input);
      if (!choice.ok) return choice;
      const job = await insertJob(tx, input, choice.account.email);
      if (input.idempotency)
        await claimKey(tx, input.userId, input.tokenId, job.id, input.idempotency, input.now);
      return { ok: true, job, account: choice.account };
    }),
  );
}

/** The account columns, spelled out (a prepared `SELECT *` breaks when a later migration adds a column). */
export const ACCOUNT_COLUMNS =
  'user_id, provider, email, api_key_enc, max_jobs, state, reason, cooldown_until, webhook_id, webhook_secret_enc, created_at, updated_at';

/**
 * Locks the tenant's accounts (or the one pinned account) FOR NO KEY UPDATE in email byte order and
 * returns them in that order. See the file comment for why the lock, and why the loads are read
 * by a separate statement afterwards. (dispatch() takes the same lock through its own prepared
 * statement, queue.ts DISPATCH_LOCK_ACCOUNTS.)
 */
export async function lockAccounts(
  tx: pg.PoolClient,
  userId: number,
  email: string | null,
): Promise<AccountRow[]> {
  // Named (prepared once per connection): these run on every admission and dispatch.
  const res =
    email !== null
      ? await tx.query<AccountRow>({
          name: 'pixgate_lock_account_nk',
          text: `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE user_id = $1 AND email = $2 FOR NO KEY UPDATE`,
          values: [userId, email],
        })
      : await tx.query<AccountRow>({
          name: 'pixgate_lock_accounts_nk',
          text: `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE user_id = $1 ORDER BY email COLLATE "C" FOR NO KEY UPDATE`,
          values: [userId],
        });
  return res.rows;
}

/** The locked accounts with their current slot holders (a new statement, so a new snapshot). */
export async function loadsOf(
  tx: pg.PoolClient,
  userId: number,
  rows: readonly AccountRow[],
  email?: string,
): Promise<AccountLoad[]> {
  if (rows.length === 0) return [];
  const held = await countSlots(tx, userId, email);
  return rows.map((row) => ({ account: accountFromRow(row), executing: held.get(row.email) ?? 0 }));
}

/**
 * Slot holders per account of the tenant (or of one account); served by the partial index
 * jobs_active_per_account, so the cost follows the live jobs, not the job history.
 */
async function countSlots(tx: pg.PoolClient, userId: number, email?: string): Promise<Map<string, number>> {
  const res = await tx.query<{ email: string; n: number }>({
    name: 'pixgate_count_slots',
    text: `SELECT email, count(*)::int AS n FROM (${SLOT_HOLDERS_OF_USER}) holders
            WHERE $2::text IS NULL OR email = $2
            GROUP BY email`,
    values: [userId, email ?? null],
  });
  return new Map(res.rows.map((row) => [row.email, row.n]));
}

async function insertJob(tx: pg.PoolClient, input: ReserveInput, email: string): Promise<Job> {
  const res = await tx.query<JobRow>(
    `INSERT INTO jobs (user_id, token_id, email, pinned_email, max_jobs_override, priority, type, state, trace_id,
                       upstream_json, request_json, reply_url, reply_ref, created_at, queued_at, started_at, provider)
     VALUES ($1, $2, $3, $11, $12, 0, $4, 'submitting', $5, $6, $7, $8, $9, $10, NULL, $10, $13)
     RETURNING *`,
    [
      input.userId,
      input.tokenId,
      email,
      input.type,
      input.traceId,
      JSON.stringify(input.upstream),
      JSON.stringify(input.request),
      input.replyUrl,
      input.replyRef,
      input.now,
      input.email,
      input.maxJobsOverride,
      input.provider,
    ],
  );
  return jobFromRow(res.rows[0]!);
}
