/** Provider webhook deliveries already acted on (the replay guard's durable memory). */
import type { StatementCache } from './database.ts';

export class WebhookReceiptQueries {
  constructor(private readonly sql: StatementCache) {}

  seen(receipt: string, now: number): boolean {
    return this.sql.get('SELECT 1 FROM webhook_receipts WHERE receipt = ? AND expires_at > ?').get(receipt, now) !== undefined;
  }

  /** Records the receipt and drops expired ones (through the expiry index: a handful per call). */
  record(receipt: string, expiresAt: number, now: number): void {
    this.sql.get('DELETE FROM webhook_receipts WHERE expires_at <= ?').run(now);
    this.sql
      .get('INSERT INTO webhook_receipts (receipt, expires_at) VALUES (?, ?) ON CONFLICT (receipt) DO UPDATE SET expires_at = excluded.expires_at')
      .run(receipt, expiresAt);
  }
}
