/** Tenants, their settings and webhook secrets, and API tokens. Single-statement operations: no explicit transaction or lock needed. */
import { DEFAULT_TENANT_SETTINGS, type TenantSettings, type TokenRecord, type User } from '../store.ts';
import type { Queryable } from './pool.ts';
import { tenantSettingsColumns, tokenFromRow, userFromRow, type TokenRow, type UserRow } from '../rows.ts';
import { assertTokenWeight } from '../fairness.ts';

export async function createUser(db: Queryable, name: string | null, now: number, webhookSecret: string): Promise<User> {
  const res = await db.query<UserRow>(
    `INSERT INTO users (name, created_at, webhook_secret, queue_by_default, max_queue_length, max_queue_wait_ms)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
    [
      name,
      now,
      webhookSecret,
      DEFAULT_TENANT_SETTINGS.queueByDefault,
      DEFAULT_TENANT_SETTINGS.maxQueueLength,
      DEFAULT_TENANT_SETTINGS.maxQueueWaitMs,
    ],
  );
  return userFromRow(res.rows[0]!);
}

export async function getUser(db: Queryable, userId: number): Promise<User | null> {
  const res = await db.query<UserRow>('SELECT * FROM users WHERE id = $1', [userId]);
  return res.rows[0] ? userFromRow(res.rows[0]) : null;
}

export async function listUsers(db: Queryable): Promise<User[]> {
  const res = await db.query<UserRow>('SELECT * FROM users ORDER BY id');
  return res.rows.map(userFromRow);
}

export async function setUserReplyUrl(db: Queryable, userId: number, replyUrl: string | null): Promise<void> {
  await db.query('UPDATE users SET reply_url = $2 WHERE id = $1', [userId, replyUrl]);
}

/** Writes only the settings given (undefined leaves a setting as it is); null when the user is unknown. */
export async function updateTenantSettings(db: Queryable, userId: number, settings: TenantSettings): Promise<User | null> {
  const c = tenantSettingsColumns(settings);
  const res = await db.query<UserRow>(
    `UPDATE users
        SET reply_url         = CASE WHEN $2 THEN reply_url         ELSE $3 END,
            queue_by_default  = CASE WHEN $4 THEN queue_by_default  ELSE $5 END,
            max_queue_length  = CASE WHEN $6 THEN max_queue_length  ELSE $7 END,
            max_queue_wait_ms = CASE WHEN $8 THEN max_queue_wait_ms ELSE $9 END
      WHERE id = $1
      RETURNING *`,
    [
      userId,
      c.keepReplyUrl === 1,
      c.replyUrl,
      c.keepQueueByDefault === 1,
      c.queueByDefault === 1,
      c.keepMaxQueueLength === 1,
      c.maxQueueLength,
      c.keepMaxQueueWaitMs === 1,
      c.maxQueueWaitMs,
    ],
  );
  return res.rows[0] ? userFromRow(res.rows[0]) : null;
}

/**
 * The current secret becomes the previous one, valid until `prevUntil`. One UPDATE reading and
 * writing the same row, so two concurrent rotations serialise on the row lock and the second
 * demotes the first's new secret (nothing is lost). An empty current secret (a tenant from before
 * secrets existed) was never handed out, so it is not kept as a previous one.
 */
export async function rotateWebhookSecret(db: Queryable, userId: number, secret: string, prevUntil: number): Promise<User | null> {
  const res = await db.query<UserRow>(
    `UPDATE users
        SET webhook_secret_prev = NULLIF(webhook_secret, ''),
            webhook_secret_prev_until = CASE WHEN webhook_secret = '' THEN NULL ELSE $3::bigint END,
            webhook_secret = $2
      WHERE id = $1
      RETURNING *`,
    [userId, secret, prevUntil],
  );
  return res.rows[0] ? userFromRow(res.rows[0]) : null;
}

/** Scoped by user like revokeToken. Revoked tokens keep a weight too (their queued jobs still run). */
export async function setTokenWeight(db: Queryable, userId: number, tokenId: number, weight: number): Promise<boolean> {
  assertTokenWeight(weight);
  const res = await db.query('UPDATE tokens SET weight = $3 WHERE id = $2 AND user_id = $1', [userId, tokenId, weight]);
  return (res.rowCount ?? 0) > 0;
}

export async function addToken(db: Queryable, userId: number, hash: string, label: string | null, now: number): Promise<TokenRecord> {
  const res = await db.query<TokenRow>(
    'INSERT INTO tokens (user_id, hash, label, created_at) VALUES ($1, $2, $3, $4) RETURNING *',
    [userId, hash, label, now],
  );
  return tokenFromRow(res.rows[0]!);
}

export async function activeTokens(db: Queryable, userId: number): Promise<TokenRecord[]> {
  const res = await db.query<TokenRow>('SELECT * FROM tokens WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id', [userId]);
  return res.rows.map(tokenFromRow);
}

export async function listTokens(db: Queryable, userId: number): Promise<TokenRecord[]> {
  const res = await db.query<TokenRow>('SELECT * FROM tokens WHERE user_id = $1 ORDER BY id', [userId]);
  return res.rows.map(tokenFromRow);
}

/** `revoked_at IS NULL` makes the update a compare-and-swap: only the first revocation reports true. */
export async function revokeToken(db: Queryable, userId: number, tokenId: number, now: number): Promise<boolean> {
  const res = await db.query(
    'UPDATE tokens SET revoked_at = $3 WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL',
    [userId, tokenId, now],
  );
  return (res.rowCount ?? 0) > 0;
}
