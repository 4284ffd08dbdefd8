/** Dialect-free parts of Idempotency-Key storage shared by both stores. */
import type { IdempotencyRecord } from './store.ts';
import { num, numOrNull, type DbInt } from './rows.ts';

/** Tokens scope keys; a create without a token (internal callers) uses the pseudo-token 0. */
export function keyScope(tokenId: number | null): number {
  return tokenId ?? 0;
}

/**
 * Thrown inside a reserve/enqueue transaction when a live row already holds the key, so the job
 * inserted a moment earlier in the same transaction rolls back with it. Caught by the store and
 * turned into `{ ok: false, reason: 'key_taken' }`; never escapes the store.
 */
export class KeyTakenRollback extends Error {
  constructor() {
    super('idempotency key taken');
  }
}

export interface IdempotencyRow {
  token_id: DbInt;
  idem_key: string;
  user_id: DbInt;
  fingerprint: string;
  job_id: DbInt;
  status: DbInt | null;
  body: string | null;
  created_at: DbInt;
  expires_at: DbInt;
}

export function idempotencyFromRow(row: IdempotencyRow): IdempotencyRecord {
  return {
    tokenId: num(row.token_id),
    key: row.idem_key,
    userId: num(row.user_id),
    fingerprint: row.fingerprint,
    jobId: num(row.job_id),
    status: numOrNull(row.status),
    body: row.body,
    createdAt: num(row.created_at),
    expiresAt: num(row.expires_at),
  };
}
