/** Accounts of a tenant: create/replace, health, deletion (which frees slots) and per-account load. */
import type { Job } from '../../domain/job.ts';
import type { AccountStore } from '../store.ts';
import { accountFromRow, jobFromRow, num, webhookColumns, type AccountRow, type JobRow } from '../rows.ts';
import { sqliteDialect, type Dialect } from './dialect.ts';
import { all, notify, one, run, type Exec } from './op.ts';
import { emitOutbox, type OutboxRef } from './outbox.ts';
import { CLEAR_LEASE, HOLDS_SLOT, SLOT_HELD, TRACKED_SLOT } from './states.ts';

/**
 * Every account of a user with the number of slots its jobs hold. A correlated COUNT per account
 * walks the partial index of live jobs (`jobs_active`; PostgreSQL `jobs_active_per_account`), so its
 * cost does not grow with history. Ordered by email (byte order) so callers, and reserve's random
 * pick, see a stable order. A plain read: it never waits for reserve()'s locks.
 */
export function loadsSql(d: Pick<Dialect, 'bytewise'>, param: string): string {
  return `
  SELECT a.*,
         (SELECT COUNT(*) FROM jobs j
           WHERE j.user_id = a.user_id AND j.email = a.email AND j.${TRACKED_SLOT})
         + (SELECT COUNT(*) FROM jobs h
           WHERE h.user_id = a.user_id AND h.email = a.email AND h.${SLOT_HELD}) AS executing
    FROM accounts a
   WHERE a.user_id = ${param}
   ORDER BY ${d.bytewise('a.email')}`;
}

/** LOADS_SQL for SQLite's positional callers (admission, dispatch). */
export const LOADS_SQL = loadsSql(sqliteDialect, '?');
export type LoadRow = AccountRow & { executing: number };

/** Error recorded on jobs cancelled because their account was deleted. */
export const ACCOUNT_DELETED = 'account deleted';

export function accountStore(x: Exec, outbox: OutboxRef): AccountStore {
  const { d } = x;
  return {
    /**
     * Creates or replaces an account. Re-posting is how an operator clears an error or cool-down
     * (useapi: 596 lasts until the account is re-posted), so health is reset; created_at is kept. The
     * webhook pair is kept unless the input names one (or null to remove it): a re-post without
     * webhook fields must not wipe it. PostgreSQL tells insert from update by `xmax = 0` (true only for
     * a freshly inserted row version) within the one atomic statement, and the row lock ON CONFLICT
     * takes makes a concurrent reserve() wait for the new max_jobs rather than count against the old
     * one; SQLite reads first, which `BEGIN IMMEDIATE` makes exact.
     */
    upsertAccount: (input) =>
      x.write(function* () {
        const existed =
          d.name === 'sqlite' &&
          (yield* one('SELECT 1 AS x FROM accounts WHERE user_id = $1 AND email = $2', [
            input.userId,
            input.email,
          ])) !== undefined;
        const webhook = webhookColumns(input.webhook);
        // Without a provider the column's default applies; a re-post keeps the account's provider.
        const given = input.provider !== undefined;
        const row = (yield* one<AccountRow & { created?: boolean }>(
          `INSERT INTO accounts (user_id, email, api_key_enc, max_jobs, state, reason, cooldown_until,
                                 webhook_id, webhook_secret_enc, created_at, updated_at${given ? ', provider' : ''})
           VALUES ($1, $2, $3, $4, 'ok', NULL, NULL, $6, $7, $5, $5${given ? ', $9' : ''})
           ON CONFLICT (user_id, email) DO UPDATE
             SET api_key_enc = excluded.api_key_enc, max_jobs = excluded.max_jobs,
                 state = 'ok', reason = NULL, cooldown_until = NULL,
                 webhook_id         = CASE WHEN $8 THEN accounts.webhook_id         ELSE excluded.webhook_id         END,
                 webhook_secret_enc = CASE WHEN $8 THEN accounts.webhook_secret_enc ELSE excluded.webhook_secret_enc END,
                 updated_at = excluded.updated_at
           RETURNING *${d.name === 'postgres' ? ', (xmax = 0) AS created' : ''}`,
          [
            input.userId,
            input.email,
            input.apiKeyEnc,
            input.maxJobs,
            input.now,
            webhook.webhookId,
            webhook.webhookSecretEnc,
            d.bool(webhook.keepWebhook === 1),
            ...(given ? [input.provider] : []),
          ],
        ))!;
        // New or healthier capacity: a waiting queue may be able to start something now.
        yield* notify('slots', { event: 'account', userId: num(row.user_id), email: row.email });
        return { account: accountFromRow(row), created: row.created ?? !existed };
      }),

    getAccount: (userId, email) =>
      x
        .read(() =>
          one<AccountRow>('SELECT * FROM accounts WHERE user_id = $1 AND email = $2', [userId, email]),
        )
        .then((row) => (row ? accountFromRow(row) : null)),

    listAccounts: (userId) =>
      x
        .read(() =>
          all<AccountRow>(`SELECT * FROM accounts WHERE user_id = $1 ORDER BY ${d.bytewise('email')}`, [
            userId,
          ]),
        )
        .then((rows) => rows.map(accountFromRow)),

    setAccountHealth: (userId, email, update) =>
      x.write(function* () {
        const n = yield* run(
          'UPDATE accounts SET state = $3, reason = $4, cooldown_until = $5, updated_at = $6 WHERE user_id = $1 AND email = $2',
          [userId, email, update.state, update.reason, update.cooldownUntil, update.now],
        );
        if (n > 0 && update.state === 'ok') yield* notify('slots', { event: 'account', userId, email });
      }),

    /**
     * Deletes an account and cancels, in one transaction, its slot-holding jobs and the queued jobs
     * pinned to it (nothing else could ever run them), writing their callbacks: there is no moment
     * where the account is gone but its jobs hold slots.
     *
     * PostgreSQL: the account row is locked first, FOR UPDATE, which conflicts with the FOR NO KEY
     * UPDATE that reserve() and dispatch() take on it, so they serialise:
     *  - a reserve()/dispatch() that locked the row before us commits its job first; our UPDATE, a
     *    new statement with a new snapshot taken after we got the lock, sees that job and cancels it;
     *  - one that comes after us blocks on the row, then finds it deleted (a locking read skips a row
     *    deleted by a committed transaction) and answers unknown_account / binds elsewhere.
     * enqueue() of a job pinned here holds FOR KEY SHARE on the row for the same reason.
     *
     * The queued jobs are cancelled before the slot holders: cancelling a queued job updates the
     * tenant's queued_count (PostgreSQL trigger), which waits for the users row that requeue() holds
     * while it waits for a `submitting` job's row. Holding no slot holder's row at that moment is what
     * keeps the two from waiting for each other. Two statements so each keeps its partial index.
     * Compare-and-swap on the state like finish(): a job finishing concurrently keeps its outcome.
     */
    deleteAccount: (userId, email, now) =>
      x.write(function* () {
        if (
          !(yield* one(`SELECT 1 AS x FROM accounts WHERE user_id = $1 AND email = $2${d.forUpdate}`, [
            userId,
            email,
          ]))
        )
          return null;
        const cancel = `UPDATE jobs SET state = 'cancelled', finished_at = $3, error = $4, next_poll_at = NULL, ${CLEAR_LEASE}`;
        const queued = yield* all<JobRow>(
          `${cancel} WHERE user_id = $1 AND state = 'queued' AND pinned_email = $2 RETURNING *`,
          [userId, email, now, ACCOUNT_DELETED],
        );
        const holding = yield* all<JobRow>(
          `${cancel} WHERE user_id = $1 AND email = $2 AND ${HOLDS_SLOT} RETURNING *`,
          [userId, email, now, ACCOUNT_DELETED],
        );
        // Held slots of timed-out jobs go with the account, as its running jobs' slots do: a later
        // release would otherwise count down a re-added account of the same email.
        yield* run(
          `UPDATE jobs SET slot_held_until = NULL WHERE user_id = $1 AND email = $2 AND ${SLOT_HELD}`,
          [userId, email],
        );
        yield* run('DELETE FROM accounts WHERE user_id = $1 AND email = $2', [userId, email]);
        // RETURNING order is unspecified; report oldest first like every other job list.
        const cancelled: Job[] = [...holding, ...queued].map(jobFromRow).sort((a, b) => a.id - b.id);
        yield* emitOutbox(outbox, cancelled, 'final', now);
        if (holding.length > 0)
          yield* notify('slots', { event: 'account_deleted', userId, email, freed: holding.length });
        return { cancelled };
      }),

    accountLoads: (userId) =>
      x
        .read(() => all<LoadRow>(loadsSql(d, '$1'), [userId]))
        .then((rows) => rows.map((r) => ({ account: accountFromRow(r), executing: num(r.executing) }))),
  };
}
