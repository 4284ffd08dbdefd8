/**
 * Idempotency-Key rows on SQLite. `claim` runs inside the reserve/enqueue transaction (BEGIN
 * IMMEDIATE), so the key and its job commit together; the other statements are single writes.
 */
import type { IdempotencyClaim, IdempotencyRecord } from '../store.ts';
import { idempotencyFromRow, keyScope, KeyTakenRollback, type IdempotencyRow } from '../idempotency.ts';
import type { StatementCache } from './database.ts';

/**
 * A new key, or one whose previous holder expired but was not swept yet (the upsert's WHERE lets
 * only an expired row be overwritten; a live one leaves `changes` at 0).
 */
const CLAIM_SQL = `
  INSERT INTO idempotency_keys (token_id, idem_key, user_id, fingerprint, job_id, status, body, created_at, expires_at)
  VALUES (@tokenId, @key, @userId, @fingerprint, @jobId, NULL, NULL, @now, @expiresAt)
  ON CONFLICT (token_id, idem_key) DO UPDATE SET
    user_id = excluded.user_id, fingerprint = excluded.fingerprint, job_id = excluded.job_id, status = NULL, body = NULL,
    created_at = excluded.created_at, expires_at = excluded.expires_at
  WHERE idempotency_keys.expires_at <= @now`;

const MOVE_SQL = `
  UPDATE idempotency_keys SET job_id = @jobId
   WHERE token_id = @tokenId AND idem_key = @key AND job_id = @replaces AND status IS NULL`;

export class IdempotencyQueries {
  constructor(private readonly sql: StatementCache) {}

  /** Inside the caller's transaction: binds the key to `jobId`, or throws KeyTakenRollback. */
  claim(userId: number, tokenId: number | null, jobId: number, claim: IdempotencyClaim, now: number): void {
    const scope = { tokenId: keyScope(tokenId), key: claim.key, jobId };
    const changes =
      claim.replacesJobId !== undefined
        ? this.sql.get(MOVE_SQL).run({ ...scope, replaces: claim.replacesJobId }).changes
        : this.sql
            .get(CLAIM_SQL)
            .run({ ...scope, userId, fingerprint: claim.fingerprint, now, expiresAt: claim.expiresAt })
            .changes;
    if (changes !== 1) throw new KeyTakenRollback();
  }

  get(tokenId: number, key: string, now: number): IdempotencyRecord | null {
    const row = this.sql
      .get('SELECT * FROM idempotency_keys WHERE token_id = ? AND idem_key = ? AND expires_at > ?')
      .get(tokenId, key, now) as IdempotencyRow | undefined;
    return row ? idempotencyFromRow(row) : null;
  }

  record(
    tokenId: number,
    key: string,
    jobId: number,
    answer: { status: number; body: string },
    now: number,
  ): boolean {
    return (
      this.sql
        .get(
          `UPDATE idempotency_keys SET status = ?, body = ?
            WHERE token_id = ? AND idem_key = ? AND job_id = ? AND status IS NULL AND expires_at > ?`,
        )
        .run(answer.status, answer.body, tokenId, key, jobId, now).changes === 1
    );
  }

  deleteExpired(now: number, limit: number): number {
    return this.sql
      .get(
        `DELETE FROM idempotency_keys WHERE (token_id, idem_key) IN (
           SELECT token_id, idem_key FROM idempotency_keys WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
      )
      .run(now, limit).changes;
  }
}
