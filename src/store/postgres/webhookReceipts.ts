/** Provider webhook deliveries already acted on (the replay guard's memory shared by instances). */
import type { Queryable } from './pool.ts';

export async function webhookReceiptSeen(db: Queryable, receipt: string, now: number): Promise<boolean> {
  const res = await db.query('SELECT 1 FROM webhook_receipts WHERE receipt = $1 AND expires_at > $2', [receipt, now]);
  return (res.rowCount ?? 0) > 0;
}

/** Records the receipt and drops expired ones (through the expiry index: a handful per call). */
export async function recordWebhookReceipt(db: Queryable, receipt: string, expiresAt: number, now: number): Promise<void> {
  await db.query('DELETE FROM webhook_receipts WHERE expires_at <= $1', [now]);
  await db.query(
    `INSERT INTO webhook_receipts (receipt, expires_at) VALUES ($1, $2)
     ON CONFLICT (receipt) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
    [receipt, expiresAt],
  );
}
