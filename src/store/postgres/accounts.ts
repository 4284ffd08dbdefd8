/** Accounts: create/replace, health, deletion (which frees slots) and per-account load. */
import type { Account } from '../../domain/account.ts';
import type { Job } from '../../domain/job.ts';
import type { AccountHealthUpdate, AccountLoad, UpsertAccountInput } from '../store.ts';
import { withTransaction, type Queryable } from './pool.ts';
import { accountFromRow, jobFromRow, num, webhookColumns, type AccountRow, type JobRow } from '../rows.ts';
import type pg from 'pg';
import { notify, type Channels } from './notify.ts';
import { writeOutbox, type OutboxRef } from './outbox.ts';

/**
 * Creates or replaces an account. Re-posting is how an operator clears an error or cool-down,
 * so the update resets health. `xmax = 0` holds only for a freshly inserted row version, which
 * tells insert from update within the same atomic statement (no read-then-write race).
 * The account row lock taken by ON CONFLICT DO UPDATE makes a concurrent reserve() of this
 * account wait for the new max_jobs rather than count against the old one.
 */
export async function upsertAccount(
  pool: pg.Pool,
  channels: Channels,
  input: UpsertAccountInput,
): Promise<{ account: Account; created: boolean }> {
  const webhook = webhookColumns(input.webhook);
  // Without a provider the column's default applies.
  const given = input.provider !== undefined;
  return withTransaction(pool, async (tx) => {
    // The webhook: a new account takes the given pair (NULLs when omitted); an existing one keeps its
    // stored pair when the input omits it ($8), so re-posting an account without webhook fields (to
    // change its key or clear its health) does not wipe it; null removes it.
    const res = await tx.query<AccountRow & { created: boolean }>(
      `INSERT INTO accounts (user_id, email, api_key_enc, max_jobs, state, reason, cooldown_until,
                             webhook_id, webhook_secret_enc, created_at, updated_at${given ? ', provider' : ''})
       VALUES ($1, $2, $3, $4, 'ok', NULL, NULL, $6, $7, $5, $5${given ? ', $9' : ''})
       ON CONFLICT (user_id, email) DO UPDATE
         SET api_key_enc = EXCLUDED.api_key_enc,
             max_jobs = EXCLUDED.max_jobs,
             state = 'ok',
             reason = NULL,
             cooldown_until = NULL,
             webhook_id = CASE WHEN $8::boolean THEN accounts.webhook_id ELSE EXCLUDED.webhook_id END,
             webhook_secret_enc = CASE WHEN $8::boolean THEN accounts.webhook_secret_enc ELSE EXCLUDED.webhook_secret_enc END,
             updated_at = EXCLUDED.updated_at
       RETURNING *, (xmax = 0) AS created`,
      [input.userId, input.email, input.apiKeyEnc, input.maxJobs, input.now, webhook.webhookId, webhook.webhookSecretEnc, webhook.keepWebhook === 1, ...(given ? [input.provider] : [])],
    );
    const row = res.rows[0]!;
    // New or healthier capacity: a waiting queue may be able to start something now.
    await notify(tx, channels.slots, { event: 'account', userId: num(row.user_id), email: row.email });
    return { account: accountFromRow(row), created: row.created };
  });
}

export async function getAccount(db: Queryable, userId: number, email: string): Promise<Account | null> {
  const res = await db.query<AccountRow>('SELECT * FROM accounts WHERE user_id = $1 AND email = $2', [userId, email]);
  return res.rows[0] ? accountFromRow(res.rows[0]) : null;
}

export async function listAccounts(db: Queryable, userId: number): Promise<Account[]> {
  const res = await db.query<AccountRow>('SELECT * FROM accounts WHERE user_id = $1 ORDER BY email COLLATE "C"', [userId]);
  return res.rows.map(accountFromRow);
}

export async function setAccountHealth(
  pool: pg.Pool,
  channels: Channels,
  userId: number,
  email: string,
  update: AccountHealthUpdate,
): Promise<void> {
  await withTransaction(pool, async (tx) => {
    const res = await tx.query(
      `UPDATE accounts SET state = $3, reason = $4, cooldown_until = $5, updated_at = $6
       WHERE user_id = $1 AND email = $2`,
      [userId, email, update.state, update.reason, update.cooldownUntil, update.now],
    );
    if ((res.rowCount ?? 0) > 0 && update.state === 'ok') {
      await notify(tx, channels.slots, { event: 'account', userId, email });
    }
  });
}

/** Error recorded on jobs cancelled because their account was deleted. */
export const ACCOUNT_DELETED = 'account deleted';

/**
 * Deletes an account and cancels, in one transaction, its slot-holding jobs and the queued jobs
 * pinned to it (nothing else could ever run them), writing their callbacks.
 *
 * The account row is locked first, FOR UPDATE, which conflicts with the FOR NO KEY UPDATE that
 * reserve() and dispatch() take on it, so they serialise:
 *  - a reserve()/dispatch() that locked the row before us commits its job first; our UPDATE, a
 *    new statement with a new snapshot taken after we got the lock, sees that job and cancels it;
 *  - one that comes after us blocks on the row, then finds it deleted (a locking read skips a row
 *    deleted by a committed transaction) and answers unknown_account / binds elsewhere.
 * Without the lock a job could be bound between our cancel and our delete and keep running on an
 * account that no longer exists. enqueue() of a job pinned here holds FOR KEY SHARE on the row
 * for the same reason: a pinned job is either queued before our UPDATE (and cancelled by it) or
 * refused as unknown_account after our commit, never left queued for a deleted account.
 *
 * The queued jobs are cancelled before the slot holders: cancelling a queued job updates the
 * tenant's queued_count (trigger, migration 3), which waits for the users row that requeue() holds
 * while it waits for a `submitting` job's row. Holding no slot holder's row at that moment is what
 * keeps the two from waiting for each other (see queue.ts).
 */
export async function deleteAccount(
  pool: pg.Pool,
  channels: Channels,
  outbox: OutboxRef,
  userId: number,
  email: string,
  now: number,
): Promise<{ cancelled: Job[] } | null> {
  return withTransaction(pool, async (tx) => {
    const locked = await tx.query('SELECT 1 FROM accounts WHERE user_id = $1 AND email = $2 FOR UPDATE', [userId, email]);
    if (locked.rowCount === 0) return null;
    // Compare-and-swap on the state like finish(): a job finishing concurrently keeps its own
    // outcome. Two statements so each keeps its partial index (queued jobs pinned here: jobs_queue;
    // slot holders: jobs_active_per_account) instead of one OR over the whole job history. Queued
    // first (see above).
    const cancel = `UPDATE jobs
                       SET state = 'cancelled', finished_at = $3, error = $4, next_poll_at = NULL,
                           lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL`;
    const queued = await tx.query<JobRow>(
      `${cancel} WHERE user_id = $1 AND state = 'queued' AND pinned_email = $2 RETURNING *`,
      [userId, email, now, ACCOUNT_DELETED],
    );
    const holding = await tx.query<JobRow>(
      `${cancel} WHERE user_id = $1 AND email = $2 AND state IN ('submitting', 'running') RETURNING *`,
      [userId, email, now, ACCOUNT_DELETED],
    );
    await tx.query('DELETE FROM accounts WHERE user_id = $1 AND email = $2', [userId, email]);
    const cancelled = [...holding.rows, ...queued.rows].map(jobFromRow).sort((a, b) => a.id - b.id);
    await writeOutbox(tx, channels, outbox, cancelled, 'final', now);
    const freed = holding.rows.length;
    if (freed > 0) await notify(tx, channels.slots, { event: 'account_deleted', userId, email, freed });
    return { cancelled };
  });
}

/**
 * Every account of a user with its slot holders. A plain MVCC read: it never waits for
 * reserve()'s row locks, so /scheduler/available stays fast while admissions run.
 */
export async function accountLoads(db: Queryable, userId: number): Promise<AccountLoad[]> {
  const res = await db.query<AccountRow & { executing: number }>(
    `SELECT a.*, COALESCE(c.n, 0)::int AS executing
       FROM accounts a
       LEFT JOIN (SELECT email, count(*) AS n
                    FROM jobs
                   WHERE user_id = $1 AND state IN ('submitting', 'running') AND untracked_at IS NULL
                   GROUP BY email) c ON c.email = a.email
      WHERE a.user_id = $1
      ORDER BY a.email COLLATE "C"`,
    [userId],
  );
  return res.rows.map((row) => ({ account: accountFromRow(row), executing: row.executing }));
}
