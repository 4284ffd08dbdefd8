/** Tenants and their API tokens. Plain single-statement reads and writes: no transaction needed. */
import { DEFAULT_TENANT_SETTINGS, type TenantSettings, type TokenRecord, type User } from '../store.ts';
import { tenantSettingsColumns, tokenFromRow, userFromRow, type TokenRow, type UserRow } from '../rows.ts';
import { assertTokenWeight } from '../fairness.ts';
import type { StatementCache } from './database.ts';

export class UserQueries {
  constructor(private readonly sql: StatementCache) {}

  createUser(name: string | null, now: number, webhookSecret: string): User {
    const row = this.sql
      .get(
        `INSERT INTO users (name, reply_url, created_at, queue_by_default, max_queue_length, max_queue_wait_ms, webhook_secret)
         VALUES (?, NULL, ?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(
        name,
        now,
        DEFAULT_TENANT_SETTINGS.queueByDefault ? 1 : 0,
        DEFAULT_TENANT_SETTINGS.maxQueueLength,
        DEFAULT_TENANT_SETTINGS.maxQueueWaitMs,
        webhookSecret,
      ) as UserRow;
    return userFromRow(row);
  }

  getUser(userId: number): User | null {
    const row = this.sql.get('SELECT * FROM users WHERE id = ?').get(userId) as UserRow | undefined;
    return row ? userFromRow(row) : null;
  }

  listUsers(): User[] {
    return (this.sql.get('SELECT * FROM users ORDER BY id').all() as UserRow[]).map(userFromRow);
  }

  setUserReplyUrl(userId: number, replyUrl: string | null): void {
    this.sql.get('UPDATE users SET reply_url = ? WHERE id = ?').run(replyUrl, userId);
  }

  /** Only the settings present change; the rest keep their stored values. */
  updateTenantSettings(userId: number, settings: TenantSettings): User | null {
    const row = this.sql
      .get(
        `UPDATE users
            SET reply_url         = CASE WHEN @keepReplyUrl       THEN reply_url         ELSE @replyUrl       END,
                queue_by_default  = CASE WHEN @keepQueueByDefault THEN queue_by_default  ELSE @queueByDefault END,
                max_queue_length  = CASE WHEN @keepMaxQueueLength THEN max_queue_length  ELSE @maxQueueLength END,
                max_queue_wait_ms = CASE WHEN @keepMaxQueueWaitMs THEN max_queue_wait_ms ELSE @maxQueueWaitMs END
          WHERE id = @userId
        RETURNING *`,
      )
      .get({ ...tenantSettingsColumns(settings), userId }) as UserRow | undefined;
    return row ? userFromRow(row) : null;
  }

  /**
   * The current secret becomes the previous one, valid until `prevUntil`. A user migrated without a
   * secret ('') has no previous secret worth keeping, so prev stays empty then.
   */
  rotateWebhookSecret(userId: number, secret: string, prevUntil: number): User | null {
    const row = this.sql
      .get(
        `UPDATE users
            SET webhook_secret_prev       = NULLIF(webhook_secret, ''),
                webhook_secret_prev_until = CASE WHEN webhook_secret = '' THEN NULL ELSE @prevUntil END,
                webhook_secret            = @secret
          WHERE id = @userId
        RETURNING *`,
      )
      .get({ userId, secret, prevUntil }) as UserRow | undefined;
    return row ? userFromRow(row) : null;
  }

  /** Scoped by user like revokeToken. Revoked tokens keep a weight too (their queued jobs still run). */
  setTokenWeight(userId: number, tokenId: number, weight: number): boolean {
    assertTokenWeight(weight);
    const info = this.sql.get('UPDATE tokens SET weight = ? WHERE id = ? AND user_id = ?').run(weight, tokenId, userId);
    return info.changes > 0;
  }

  addToken(userId: number, hash: string, label: string | null, now: number): TokenRecord {
    const row = this.sql
      .get('INSERT INTO tokens (user_id, hash, label, created_at) VALUES (?, ?, ?, ?) RETURNING *')
      .get(userId, hash, label, now) as TokenRow;
    return tokenFromRow(row);
  }

  activeTokens(userId: number): TokenRecord[] {
    const rows = this.sql
      .get('SELECT * FROM tokens WHERE user_id = ? AND revoked_at IS NULL ORDER BY id')
      .all(userId) as TokenRow[];
    return rows.map(tokenFromRow);
  }

  listTokens(userId: number): TokenRecord[] {
    const rows = this.sql.get('SELECT * FROM tokens WHERE user_id = ? ORDER BY id').all(userId) as TokenRow[];
    return rows.map(tokenFromRow);
  }

  /** Scoped by user so one tenant can never revoke another's token by guessing its id. */
  revokeToken(userId: number, tokenId: number, now: number): boolean {
    const info = this.sql
      .get('UPDATE tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL')
      .run(now, tokenId, userId);
    return info.changes > 0;
  }
}
