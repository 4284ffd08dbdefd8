/**
 * Bearer-token authentication. Tokens are checked against stored SHA-256 hashes in
 * constant time; verified tokens are cached briefly so hot read endpoints don't hit the
 * store on every request (a revoke clears the cache of this process at once).
 */
import { hashToken, sameHash, tokenUserId } from '../security/tokens.ts';

/** Where the tenants' active token hashes are read (the tenant service; any store fits). */
export interface TokenSource {
  activeTokens(userId: number): Promise<{ id: number; hash: string }[]>;
}

export interface Caller {
  userId: number;
  tokenId: number;
}

const CACHE_TTL_MS = 5_000;

export class Authenticator {
  private readonly cache = new Map<string, { caller: Caller; until: number }>();

  constructor(
    private readonly tokens: TokenSource,
    private readonly adminTokenHash: string,
  ) {}

  static bearer(header: string | undefined): string | null {
    if (!header) return null;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match ? match[1]! : null;
  }

  isAdmin(token: string | null): boolean {
    return token !== null && sameHash(hashToken(token), this.adminTokenHash);
  }

  async user(token: string | null): Promise<Caller | null> {
    if (token === null) return null;
    const userId = tokenUserId(token);
    if (userId === null) return null;
    const hash = hashToken(token);
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.until > now) return hit.caller;
    let found: Caller | null = null;
    // Compare against every active token of the user without stopping early.
    for (const record of await this.tokens.activeTokens(userId)) {
      if (sameHash(hash, record.hash)) found = { userId, tokenId: record.id };
    }
    if (found) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(hash, { caller: found, until: now + CACHE_TTL_MS });
    }
    return found;
  }

  forget(): void {
    this.cache.clear();
  }
}
