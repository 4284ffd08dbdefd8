/** Tenant callback signing secrets as stored (sealed or, before the sealing migration, clear). */
import type { StoredWebhookSecrets } from '../store.ts';
import type { StatementCache } from './database.ts';

export class UserSecretQueries {
  constructor(private readonly sql: StatementCache) {}

  list(): StoredWebhookSecrets[] {
    const rows = this.sql.get('SELECT id, webhook_secret, webhook_secret_prev FROM users ORDER BY id').all() as { id: number; webhook_secret: string; webhook_secret_prev: string | null }[];
    return rows.map((r) => ({ userId: r.id, current: r.webhook_secret, previous: r.webhook_secret_prev }));
  }

  /** Compare-and-swap: a rotation that landed since `from` was read wins (it wrote sealed values). */
  replace(from: StoredWebhookSecrets, to: Omit<StoredWebhookSecrets, 'userId'>): boolean {
    const info = this.sql
      .get(
        `UPDATE users SET webhook_secret = @toCurrent, webhook_secret_prev = @toPrevious
          WHERE id = @userId AND webhook_secret = @current AND webhook_secret_prev IS @previous`,
      )
      .run({ userId: from.userId, current: from.current, previous: from.previous, toCurrent: to.current, toPrevious: to.previous });
    return info.changes > 0;
  }
}
