/**
 * Idempotency-Key rows on PostgreSQL. `claim` runs inside the reserve/enqueue transaction, so the
 * key and its job commit together or not at all.
 *
 * Two instances claiming the same key at once: both insert; the primary key makes the second INSERT
 * wait for the first transaction. If the first commits, the second's ON CONFLICT finds a live row,
 * updates nothing (the WHERE only lets an expired row be replaced), returns no row, and the second
 * transaction rolls back with its job. If the first rolls back, the second inserts. No account or
 * tenant lock is needed for this: the key's own index entry is the lock.
 */
import type pg from 'pg';
import type { IdempotencyClaim, IdempotencyRecord } from '../store.ts';
import { idempotencyFromRow, keyScope, KeyTakenRollback, type IdempotencyRow } from '../idempotency.ts';

export async function claimKey(
  tx: pg.PoolClient,
  userId: number,
  tokenId: number | null,
  jobId: number,
  claim: IdempotencyClaim,
  now: number,
): Promise<void> {
  const scope = keyScope(tokenId);
  const res =
    claim.replacesJobId !== undefined
      ? await tx.query({
          name: 'pixgate_idem_move',
          text: `UPDATE idempotency_keys SET job_id = $3
                  WHERE token_id = $1 AND idem_key = $2 AND job_id = $4 AND status IS NULL`,
          values: [scope, claim.key, jobId, claim.replacesJobId],
        })
      : await tx.query({
          name: 'pixgate_idem_claim',
          text: `INSERT INTO idempotency_keys (token_id, idem_key, user_id, fingerprint, job_id, status, body, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6, $7)
                 ON CONFLICT (token_id, idem_key) DO UPDATE SET
                   user_id = EXCLUDED.user_id, fingerprint = EXCLUDED.fingerprint, job_id = EXCLUDED.job_id,
                   status = NULL, body = NULL, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
                 WHERE idempotency_keys.expires_at <= $6`,
          values: [scope, claim.key, userId, claim.fingerprint, jobId, now, claim.expiresAt],
        });
  if (res.rowCount !== 1) throw new KeyTakenRollback();
}

export async function getKey(
  pool: pg.Pool,
  tokenId: number,
  key: string,
  now: number,
): Promise<IdempotencyRecord | null> {
  const res = await pool.query<IdempotencyRow>({
    name: 'pixgate_idem_get',
    text: `SELECT token_id, idem_key, user_id, fingerprint, job_id, status, body, created_at, expires_at
             FROM idempotency_keys WHERE token_id = $1 AND idem_key = $2 AND expires_at > $3`,
    values: [tokenId, key, now],
  });
  return res.rows[0] ? idempotencyFromRow(res.rows[0]) : null;
}

export async function recordAnswer(
  pool: pg.Pool,
  tokenId: number,
  key: string,
  jobId: number,
  answer: { status: number; body: string },
  now: number,
): Promise<boolean> {
  const res = await pool.query({
    name: 'pixgate_idem_record',
    text: `UPDATE idempotency_keys SET status = $4, body = $5
            WHERE token_id = $1 AND idem_key = $2 AND job_id = $3 AND status IS NULL AND expires_at > $6`,
    values: [tokenId, key, jobId, answer.status, answer.body, now],
  });
  return res.rowCount === 1;
}

export async function deleteExpired(pool: pg.Pool, now: number, limit: number): Promise<number> {
  const res = await pool.query(
    `DELETE FROM idempotency_keys WHERE (token_id, idem_key) IN (
       SELECT token_id, idem_key FROM idempotency_keys WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2
       FOR UPDATE SKIP LOCKED)`,
    [now, limit],
  );
  return res.rowCount ?? 0;
}

/** Runs a reserve/enqueue transaction, turning a taken key (which rolled it back) into a result. */
export async function orKeyTaken<T>(run: Promise<T>): Promise<T | { ok: false; reason: 'key_taken' }> {
  try {
    return await run;
  } catch (err) {
    if (err instanceof KeyTakenRollback) return { ok: false, reason: 'key_taken' };
    throw err;
  }
}
