/**
 * Tenants, their settings and webhook secrets, their API tokens, and the provider webhook receipts.
 * Single statements (autocommit makes each atomic): no explicit transaction or lock needed.
 */
import {
  DEFAULT_TENANT_SETTINGS,
  type StoredWebhookSecrets,
  type TenantStore,
  type TokenRecord,
  type User,
} from '../store.ts';
import {
  num,
  tenantSettingsColumns,
  tokenFromRow,
  userFromRow,
  type DbInt,
  type TokenRow,
  type UserRow,
} from '../rows.ts';
import { assertTokenWeight } from '../fairness.ts';
import { all, notify, one, run, type Exec } from './op.ts';

/** The webhook receipt half of TrackingStore: which provider deliveries were already acted on. */
export interface ReceiptStore {
  webhookReceiptSeen(receipt: string, now: number): Promise<boolean>;
  recordWebhookReceipt(receipt: string, expiresAt: number, now: number): Promise<void>;
}

export function tenantStore(x: Exec): TenantStore & ReceiptStore {
  const { d } = x;
  const users = (sql: string, params: unknown[] = []) =>
    x.read(() => all<UserRow>(sql, params)).then((rows) => rows.map(userFromRow));
  const user = (sql: string, params: unknown[]) => users(sql, params).then((list) => list[0] ?? null);
  const tokens = (sql: string, params: unknown[]) =>
    x.read(() => all<TokenRow>(sql, params)).then((rows) => rows.map(tokenFromRow));
  const changed = (sql: string, params: unknown[]) => x.read(() => run(sql, params)).then((n) => n > 0);
  return {
    createUser: (name, now, webhookSecret) =>
      user(
        `INSERT INTO users (name, reply_url, created_at, queue_by_default, max_queue_length, max_queue_wait_ms, webhook_secret)
         VALUES ($1, NULL, $2, $3, $4, $5, $6) RETURNING *`,
        [
          name,
          now,
          d.bool(DEFAULT_TENANT_SETTINGS.queueByDefault),
          DEFAULT_TENANT_SETTINGS.maxQueueLength,
          DEFAULT_TENANT_SETTINGS.maxQueueWaitMs,
          webhookSecret,
        ],
      ) as Promise<User>,
    getUser: (userId) => user('SELECT * FROM users WHERE id = $1', [userId]),
    listUsers: () => users('SELECT * FROM users ORDER BY id'),
    setUserReplyUrl: async (userId, replyUrl) => {
      await changed('UPDATE users SET reply_url = $2 WHERE id = $1', [userId, replyUrl]);
    },
    /** Only the settings present change; the rest keep their stored values. */
    updateTenantSettings: (userId, settings) => {
      const c = tenantSettingsColumns(settings);
      return user(
        `UPDATE users
            SET reply_url         = CASE WHEN $2 THEN reply_url         ELSE $3 END,
                queue_by_default  = CASE WHEN $4 THEN queue_by_default  ELSE $5 END,
                max_queue_length  = CASE WHEN $6 THEN max_queue_length  ELSE $7 END,
                max_queue_wait_ms = CASE WHEN $8 THEN max_queue_wait_ms ELSE $9 END
          WHERE id = $1
        RETURNING *`,
        [
          userId,
          d.bool(c.keepReplyUrl === 1),
          c.replyUrl,
          d.bool(c.keepQueueByDefault === 1),
          d.bool(c.queueByDefault === 1),
          d.bool(c.keepMaxQueueLength === 1),
          c.maxQueueLength,
          d.bool(c.keepMaxQueueWaitMs === 1),
          c.maxQueueWaitMs,
        ],
      );
    },
    /**
     * The current secret becomes the previous one, valid until `prevUntil`. One UPDATE reading and
     * writing the same row, so two concurrent rotations serialise on the row and the second demotes
     * the first's new secret (nothing is lost). An empty current secret (a tenant from before secrets
     * existed) was never handed out, so it is not kept as a previous one.
     */
    rotateWebhookSecret: (userId, secret, prevUntil) =>
      user(
        `UPDATE users
            SET webhook_secret_prev       = NULLIF(webhook_secret, ''),
                webhook_secret_prev_until = CASE WHEN webhook_secret = '' THEN NULL ELSE CAST($3 AS BIGINT) END,
                webhook_secret            = $2
          WHERE id = $1
        RETURNING *`,
        [userId, secret, prevUntil],
      ),
    /** Scoped by user like revokeToken. Revoked tokens keep a weight too (their queued jobs still run). */
    setTokenWeight: async (userId, tokenId, weight) => {
      assertTokenWeight(weight);
      return changed('UPDATE tokens SET weight = $3 WHERE id = $2 AND user_id = $1', [
        userId,
        tokenId,
        weight,
      ]);
    },
    addToken: (userId, hash, label, now) =>
      tokens('INSERT INTO tokens (user_id, hash, label, created_at) VALUES ($1, $2, $3, $4) RETURNING *', [
        userId,
        hash,
        label,
        now,
      ]).then((list) => list[0] as TokenRecord),
    activeTokens: (userId) =>
      tokens('SELECT * FROM tokens WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id', [userId]),
    listTokens: (userId) => tokens('SELECT * FROM tokens WHERE user_id = $1 ORDER BY id', [userId]),
    /**
     * Scoped by user so one tenant can never revoke another's token by guessing its id; `revoked_at IS
     * NULL` makes it a compare-and-swap (only the first revocation reports true). Other instances cache
     * verified tokens for a few seconds: the notification tells them to forget it now.
     */
    revokeToken: (userId, tokenId, now) =>
      x.write(function* () {
        const n = yield* run(
          'UPDATE tokens SET revoked_at = $3 WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL',
          [userId, tokenId, now],
        );
        if (n > 0) yield* notify('slots', { event: 'token_revoked', userId, tokenId });
        return n > 0;
      }),
    listWebhookSecrets: () =>
      x
        .read(() =>
          all<{ id: DbInt; webhook_secret: string; webhook_secret_prev: string | null }>(
            'SELECT id, webhook_secret, webhook_secret_prev FROM users ORDER BY id',
          ),
        )
        .then((rows): StoredWebhookSecrets[] =>
          rows.map((r) => ({
            userId: num(r.id),
            current: r.webhook_secret,
            previous: r.webhook_secret_prev,
          })),
        ),
    /** Compare-and-swap: a rotation that landed since `from` was read wins (it wrote sealed values). */
    replaceWebhookSecrets: (from, to) =>
      changed(
        `UPDATE users SET webhook_secret = $4, webhook_secret_prev = $5
          WHERE id = $1 AND webhook_secret = $2 AND (webhook_secret_prev = $3 OR (webhook_secret_prev IS NULL AND $3 IS NULL))`,
        [from.userId, from.current, from.previous, to.current, to.previous],
      ),
    webhookReceiptSeen: (receipt, now) =>
      x
        .read(() =>
          one('SELECT 1 AS x FROM webhook_receipts WHERE receipt = $1 AND expires_at > $2', [receipt, now]),
        )
        .then((row) => row !== undefined),
    /** Records the receipt and drops expired ones (through the expiry index: a handful per call). */
    recordWebhookReceipt: (receipt, expiresAt, now) =>
      x.read(function* () {
        yield* run('DELETE FROM webhook_receipts WHERE expires_at <= $1', [now]);
        yield* run(
          'INSERT INTO webhook_receipts (receipt, expires_at) VALUES ($1, $2) ON CONFLICT (receipt) DO UPDATE SET expires_at = excluded.expires_at',
          [receipt, expiresAt],
        );
      }),
  };
}
