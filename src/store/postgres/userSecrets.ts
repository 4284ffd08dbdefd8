/** Tenant callback signing secrets as stored (sealed or, before the sealing migration, clear). */
import type { StoredWebhookSecrets } from '../store.ts';
import type { Queryable } from './pool.ts';

export async function listWebhookSecrets(db: Queryable): Promise<StoredWebhookSecrets[]> {
  const res = await db.query<{ id: string | number; webhook_secret: string; webhook_secret_prev: string | null }>(
    'SELECT id, webhook_secret, webhook_secret_prev FROM users ORDER BY id',
  );
  return res.rows.map((r) => ({ userId: Number(r.id), current: r.webhook_secret, previous: r.webhook_secret_prev }));
}

/** Compare-and-swap: a rotation that landed since `from` was read wins (it wrote sealed values). */
export async function replaceWebhookSecrets(db: Queryable, from: StoredWebhookSecrets, to: Omit<StoredWebhookSecrets, 'userId'>): Promise<boolean> {
  const res = await db.query(
    `UPDATE users SET webhook_secret = $4, webhook_secret_prev = $5
      WHERE id = $1 AND webhook_secret = $2 AND webhook_secret_prev IS NOT DISTINCT FROM $3`,
    [from.userId, from.current, from.previous, to.current, to.previous],
  );
  return (res.rowCount ?? 0) > 0;
}
