/** Accounts of a tenant, their health, and the per-account slot counts behind /scheduler/available. */
import type { Account } from '../../domain/account.ts';
import type { Job } from '../../domain/job.ts';
import type { AccountHealthUpdate, AccountLoad, UpsertAccountInput } from '../store.ts';
import { accountFromRow, jobFromRow, webhookColumns, type AccountRow, type JobRow } from '../rows.ts';
import { immediate, type Db, type StatementCache } from './database.ts';
import { CLEAR_LEASE, COUNTS_SLOT, HOLDS_SLOT } from './fragments.ts';
import type { Outbox } from './outbox.ts';

/**
 * Every account of a user with the number of slots its jobs hold. A correlated COUNT per account
 * walks the partial index `jobs_active` (live jobs only), so its cost does not grow with history.
 * Ordered by email so callers (and reserve's random pick) see a stable order.
 */
export const LOADS_SQL = `
  SELECT a.*,
         (SELECT COUNT(*) FROM jobs j
           WHERE j.user_id = a.user_id AND j.email = a.email AND j.${COUNTS_SLOT}) AS executing
    FROM accounts a
   WHERE a.user_id = ?
   ORDER BY a.email`;

export type LoadRow = AccountRow & { executing: number };

export class AccountQueries {
  /** Read-then-write (does the row exist?) so `created` is exact; IMMEDIATE keeps it atomic. */
  private readonly upsertTx: (input: UpsertAccountInput) => { account: Account; created: boolean };
  /** Cancel + delete in one transaction: no moment where the account is gone but its jobs hold slots. */
  private readonly deleteTx: (userId: number, email: string, now: number) => { cancelled: Job[] } | null;

  constructor(
    db: Db,
    private readonly sql: StatementCache,
    private readonly outbox: Outbox,
  ) {
    this.upsertTx = immediate(db, (input: UpsertAccountInput) => {
      const existing = this.getAccount(input.userId, input.email);
      const webhook = webhookColumns(input.webhook);
      if (existing) {
        // Re-posting an account is how an operator clears an error/cool-down (useapi: 596 lasts until
        // the account is re-posted), so health is reset; created_at is kept. The webhook is kept unless
        // the input names one (or null to remove it): a re-post without webhook fields must not wipe it.
        const row = this.sql
          .get(
            `UPDATE accounts
                SET api_key_enc = @apiKeyEnc, max_jobs = @maxJobs, state = 'ok', reason = NULL, cooldown_until = NULL,
                    webhook_id         = CASE WHEN @keepWebhook THEN webhook_id         ELSE @webhookId        END,
                    webhook_secret_enc = CASE WHEN @keepWebhook THEN webhook_secret_enc ELSE @webhookSecretEnc END,
                    updated_at = @now
              WHERE user_id = @userId AND email = @email
          RETURNING *`,
          )
          .get({ ...webhook, apiKeyEnc: input.apiKeyEnc, maxJobs: input.maxJobs, now: input.now, userId: input.userId, email: input.email }) as AccountRow;
        return { account: accountFromRow(row), created: false };
      }
      // Without a provider the column's default applies (two statement texts, both cached).
      const given = input.provider !== undefined;
      const row = this.sql
        .get(
          `INSERT INTO accounts (user_id, email, api_key_enc, max_jobs, state, reason, cooldown_until,
                                 webhook_id, webhook_secret_enc, created_at, updated_at${given ? ', provider' : ''})
           VALUES (?, ?, ?, ?, 'ok', NULL, NULL, ?, ?, ?, ?${given ? ', ?' : ''})
           RETURNING *`,
        )
        .get(input.userId, input.email, input.apiKeyEnc, input.maxJobs, webhook.webhookId, webhook.webhookSecretEnc, input.now, input.now, ...(given ? [input.provider] : [])) as AccountRow;
      return { account: accountFromRow(row), created: true };
    });

    this.deleteTx = immediate(db, (userId: number, email: string, now: number) => {
      if (!this.getAccount(userId, email)) return null;
      const cancel = `SET state = 'cancelled', error = 'account deleted', finished_at = ?, next_poll_at = NULL, ${CLEAR_LEASE}`;
      // Two statements so each keeps its index: slot holders through jobs_active (exact predicate),
      // queued jobs pinned to the account through the partial queue index.
      const holding = this.sql
        .get(`UPDATE jobs ${cancel} WHERE user_id = ? AND email = ? AND ${HOLDS_SLOT} RETURNING *`)
        .all(now, userId, email) as JobRow[];
      const queued = this.sql
        .get(`UPDATE jobs ${cancel} WHERE user_id = ? AND state = 'queued' AND pinned_email = ? RETURNING *`)
        .all(now, userId, email) as JobRow[];
      this.sql.get('DELETE FROM accounts WHERE user_id = ? AND email = ?').run(userId, email);
      // RETURNING order is unspecified; report oldest first like every other job list.
      const cancelled = [...holding, ...queued].map(jobFromRow).sort((a, b) => a.id - b.id);
      for (const job of cancelled) this.outbox.emit(job, 'final', now);
      return { cancelled };
    });
  }

  upsertAccount(input: UpsertAccountInput): { account: Account; created: boolean } {
    return this.upsertTx(input);
  }

  getAccount(userId: number, email: string): Account | null {
    const row = this.sql.get('SELECT * FROM accounts WHERE user_id = ? AND email = ?').get(userId, email) as
      | AccountRow
      | undefined;
    return row ? accountFromRow(row) : null;
  }

  listAccounts(userId: number): Account[] {
    const rows = this.sql.get('SELECT * FROM accounts WHERE user_id = ? ORDER BY email').all(userId) as AccountRow[];
    return rows.map(accountFromRow);
  }

  deleteAccount(userId: number, email: string, now: number): { cancelled: Job[] } | null {
    return this.deleteTx(userId, email, now);
  }

  setAccountHealth(userId: number, email: string, update: AccountHealthUpdate): void {
    this.sql
      .get('UPDATE accounts SET state = ?, reason = ?, cooldown_until = ?, updated_at = ? WHERE user_id = ? AND email = ?')
      .run(update.state, update.reason, update.cooldownUntil, update.now, userId, email);
  }

  accountLoads(userId: number): AccountLoad[] {
    const rows = this.sql.get(LOADS_SQL).all(userId) as LoadRow[];
    return rows.map((r) => ({ account: accountFromRow(r), executing: r.executing }));
  }
}
