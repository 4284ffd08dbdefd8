/** Tenants and their API tokens. Plain single-statement reads and writes: no transaction needed. */
import type { TokenRecord, User } from '../store.ts';
import { tokenFromRow, userFromRow, type TokenRow, type UserRow } from '../rows.ts';
import type { StatementCache } from './database.ts';

export class UserQueries {
  constructor(private readonly sql: StatementCache) {}

  createUser(name: string | null, now: number): User {
    const row = this.sql
      .get('INSERT INTO users (name, reply_url, created_at) VALUES (?, NULL, ?) RETURNING *')
      .get(name, now) as UserRow;
    return userFromRow(row);
  }

  getUser(userId: number): User | null {
    const row = this.sql.get('SELECT * FROM users WHERE id = ?').get(userId) as UserRow | undefined;
    return row ? userFromRow(row) : null;
  }

  setUserReplyUrl(userId: number, replyUrl: string | null): void {
    this.sql.get('UPDATE users SET reply_url = ? WHERE id = ?').run(replyUrl, userId);
  }

  addToken(userId: number, hash: string, label: string | null, now: number): TokenRecord {
    const row = this.sql
      .get('INSERT INTO tokens (user_id, hash, label, created_at) VALUES (?, ?, ?, ?) RETURNING *')
      .get(userId, hash, label, now) as TokenRow;
    return tokenFromRow(row);
  }

  activeTokens(userId: number): TokenRecord[] {
    const rows = this.sql
      .get('SELECT * FROM tokens WHERE user_id = ? AND revoked_at IS NULL ORDER BY id')
      .all(userId) as TokenRow[];
    return rows.map(tokenFromRow);
  }

  listTokens(userId: number): TokenRecord[] {
    const rows = this.sql.get('SELECT * FROM tokens WHERE user_id = ? ORDER BY id').all(userId) as TokenRow[];
    return rows.map(tokenFromRow);
  }

  /** Scoped by user so one tenant can never revoke another's token by guessing its id. */
  revokeToken(userId: number, tokenId: number, now: number): boolean {
    const info = this.sql
      .get('UPDATE tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL')
      .run(now, tokenId, userId);
    return info.changes > 0;
  }
}
