/**
 * Provider accounts of a tenant: saving one checks its key with the provider, seals the key,
 * writes the account and tells the scheduler its capacity changed (a queued job may start now).
 */
import type { Account } from '../domain/account.ts';
import { EngineError } from '../domain/outcomes.ts';
import { maskSecret } from '../security/secretBox.ts';
import type { EngineParts } from './engine.ts';
import { isProviderError } from './failures.ts';

export interface AccountInput {
  apiKey: string;
  maxJobs: number;
  /** undefined keeps the stored webhook, null removes it. */
  webhook: { id: string; secret: string } | null | undefined;
}

const NOT_CONFIGURED = 'Configuration not found. To create configuration use POST /accounts/email.';

export class AccountService {
  constructor(private readonly engine: EngineParts) {}

  /**
   * Creates or updates an account. A key the provider rejects outright is refused now rather than
   * failing every job later; an unreachable provider does not block configuration (`onUnverified`).
   */
  async save(
    userId: number,
    email: string,
    input: AccountInput,
    onUnverified: (err: unknown) => void,
  ): Promise<Account> {
    const { store, scheduler, upstream, now } = this.engine;
    try {
      await upstream.balance(input.apiKey);
    } catch (err) {
      if (isProviderError(err) && err.errorClass === 'auth')
        throw new EngineError(
          'bad_credentials',
          `PixVerse rejected the API key for ${email}: ${err.message}`,
        );
      onUnverified(err);
    }
    const { webhook } = input;
    const { account } = await store.upsertAccount({
      userId,
      provider: scheduler.ctx.provider.id,
      email,
      apiKeyEnc: scheduler.keys.seal(userId, email, input.apiKey),
      maxJobs: input.maxJobs,
      webhook: webhook && {
        id: webhook.id,
        secretEnc: scheduler.keys.sealWebhookSecret(userId, email, webhook.secret),
      },
      now: now(),
    });
    scheduler.capacityChanged(userId);
    return account;
  }

  /** Points an account at a (new) provider webhook, keeping its key and limit. */
  async setWebhook(account: Account, webhook: { id: string; secret: string }): Promise<Account> {
    const { store, scheduler, now } = this.engine;
    const { userId, email } = account;
    const saved = await store.upsertAccount({
      userId,
      email,
      apiKeyEnc: account.apiKeyEnc,
      maxJobs: account.maxJobs,
      webhook: { id: webhook.id, secretEnc: scheduler.keys.sealWebhookSecret(userId, email, webhook.secret) },
      now: now(),
    });
    scheduler.capacityChanged(userId);
    return saved.account;
  }

  /** The tenant's accounts; not_found when it has none (useapi's answer). */
  async list(userId: number): Promise<Account[]> {
    const accounts = await this.engine.store.listAccounts(userId);
    if (accounts.length === 0) throw new EngineError('not_found', NOT_CONFIGURED);
    return accounts;
  }

  async get(userId: number, email: string): Promise<Account> {
    const account = await this.engine.store.getAccount(userId, email);
    if (!account) throw new EngineError('not_found', NOT_CONFIGURED);
    return account;
  }

  /** The account or null, for callers to whom a missing account is not an error. */
  find(userId: number, email: string): Promise<Account | null> {
    return this.engine.store.getAccount(userId, email);
  }

  /** Deletes an account; its running jobs are cancelled and their slots freed. */
  async remove(userId: number, email: string): Promise<{ cancelled: number; remaining: number }> {
    const cancelled = await this.engine.scheduler.deleteAccount(userId, email);
    if (!cancelled) throw new EngineError('not_found', `Account ${email} not found`);
    const remaining = (await this.engine.store.listAccounts(userId)).length;
    return { cancelled: cancelled.length, remaining };
  }

  /** The account a provider read targets: `email`, or the tenant's only account. */
  async pick(userId: number, email: string | undefined): Promise<Account> {
    const accounts = await this.engine.store.listAccounts(userId);
    let chosen = email;
    if (chosen === undefined) {
      if (accounts.length === 0)
        throw new EngineError(
          'not_found',
          'No PixVerse account configured. To add one use POST /accounts/{email}.',
        );
      if (accounts.length > 1)
        throw new EngineError('invalid', 'email is required when more than one account is configured');
      chosen = accounts[0]!.email;
    }
    const account = accounts.find((a) => a.email === chosen);
    if (!account) throw new EngineError('not_found', `Account ${chosen} not found`);
    return account;
  }

  /** The account's API key, masked for display. */
  maskedKey(account: Account): string {
    return maskSecret(this.engine.scheduler.keys.open(account));
  }
}
