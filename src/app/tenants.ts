/**
 * Tenants, their API tokens and their settings. A settings write drops the scheduler's cached
 * copy of the tenant (every create reads it), so the next create follows the new settings. It does
 * not poke the dispatcher: queue settings and token weights decide admission and order, never
 * whether a queued job fits a slot, and a poke that binds nothing would mark the tenant stalled
 * (measured: the queue's next burst of creates then waited for the coalescing timer and overflowed
 * a short queue).
 */
import { checkCallbackUrl } from '../callbacks/ssrf.ts';
import { EngineError } from '../domain/outcomes.ts';
import { generateToken, hashToken } from '../security/tokens.ts';
import type { TenantSettings, TokenRecord, User } from '../store/store.ts';
import type { EngineParts } from './engine.ts';

export type { TokenRecord, User };

export class TenantService {
  constructor(private readonly engine: EngineParts) {}

  /** A new tenant and its first API token (the secret is shown once). */
  async create(name: string | null, tokenLabel = 'initial'): Promise<{ user: User; token: string }> {
    const { store, now } = this.engine;
    const user = await store.createUser(name, now(), '');
    const token = generateToken(user.id);
    await store.addToken(user.id, hashToken(token), tokenLabel, now());
    return { user, token };
  }

  list(): Promise<User[]> {
    return this.engine.store.listUsers();
  }

  /** The tenant or null (the dashboard asks about tenants that may not exist). */
  find(userId: number): Promise<User | null> {
    return this.engine.store.getUser(userId);
  }

  async get(userId: number): Promise<User> {
    const user = await this.engine.store.getUser(userId);
    if (!user) throw new EngineError('not_found', `User ${userId} not found`);
    return user;
  }

  async updateSettings(userId: number, settings: TenantSettings): Promise<User> {
    const user = await this.engine.store.updateTenantSettings(userId, settings);
    if (!user) throw new EngineError('not_found', `User ${userId} not found`);
    this.engine.scheduler.forgetUser(userId);
    return user;
  }

  /** The tenant's default replyUrl (null clears it); the URL must pass the callback policy. */
  async setReplyUrl(userId: number, replyUrl: string | null): Promise<void> {
    if (replyUrl !== null) await checkCallbackUrl(replyUrl, this.engine.callbackPolicy);
    await this.engine.store.setUserReplyUrl(userId, replyUrl);
    this.engine.scheduler.forgetUser(userId);
  }

  async setTokenWeight(userId: number, tokenId: number, weight: number): Promise<void> {
    if (!(await this.engine.store.setTokenWeight(userId, tokenId, weight)))
      throw new EngineError('not_found', `Token ${tokenId} of user ${userId} not found`);
  }

  /** Another API token for the tenant (the secret is shown once). */
  async issueToken(userId: number, label: string | null): Promise<{ record: TokenRecord; token: string }> {
    await this.get(userId);
    const token = generateToken(userId);
    const record = await this.engine.store.addToken(userId, hashToken(token), label, this.engine.now());
    return { record, token };
  }

  async tokens(userId: number): Promise<TokenRecord[]> {
    await this.get(userId);
    return this.engine.store.listTokens(userId);
  }

  /** The tenant's tokens that authenticate (authentication and open dashboard streams check these). */
  activeTokens(userId: number): Promise<TokenRecord[]> {
    return this.engine.store.activeTokens(userId);
  }

  async revokeToken(userId: number, tokenId: number): Promise<void> {
    if (!(await this.engine.store.revokeToken(userId, tokenId, this.engine.now())))
      throw new EngineError('not_found', `Active token ${tokenId} of user ${userId} not found`);
  }
}
