/** Tenants and API tokens. Single-statement operations: no explicit transaction or lock needed. */
import type { TokenRecord, User } from '../store.ts';
import type { Queryable } from './pool.ts';
import { tokenFromRow, userFromRow, type TokenRow, type UserRow } from '../rows.ts';

export async function createUser(db: Queryable, name: string | null, now: number): Promise<User> {
  const res = await db.query<UserRow>('INSERT INTO users (name, created_at) VALUES ($1, $2) RETURNING *', [name, now]);
  return userFromRow(res.rows[0]!);
}

export async function getUser(db: Queryable, userId: number): Promise<User | null> {
  const res = await db.query<UserRow>('SELECT * FROM users WHERE id = $1', [userId]);
  return res.rows[0] ? userFromRow(res.rows[0]) : null;
}

export async function setUserReplyUrl(db: Queryable, userId: number, replyUrl: string | null): Promise<void> {
  await db.query('UPDATE users SET reply_url = $2 WHERE id = $1', [userId, replyUrl]);
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
