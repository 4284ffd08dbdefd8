/**
 * What the gateway asks of an account's provider outside a job: uploads, catalogue pages and the
 * credit balance. None takes a slot. A refusal comes back as an engine outcome.
 */
import type { Account } from '../domain/account.ts';
import type { Balance, CatalogKind, CatalogPage, UploadResult } from '../scheduler/provider.ts';
import type { EngineParts } from './engine.ts';
import { providerRefusal } from './failures.ts';

export type { CatalogKind };

export class ProviderReads {
  constructor(private readonly engine: EngineParts) {}

  private key(account: Account): string {
    return this.engine.scheduler.keys.open(account);
  }

  async upload(account: Account, body: Buffer, contentType: string, name: string): Promise<UploadResult> {
    try {
      return await this.engine.upstream.upload(this.key(account), body, contentType, name);
    } catch (err) {
      throw providerRefusal(err, (e) => `PixVerse refused the upload: ${e.message}`);
    }
  }

  async catalogPage(
    account: Account,
    kind: CatalogKind,
    page: { num: number; size: number },
  ): Promise<CatalogPage> {
    try {
      return await this.engine.upstream.catalog(this.key(account), kind, page);
    } catch (err) {
      throw providerRefusal(err, (e) => refusedRead(e, account.email, kind));
    }
  }

  async balance(account: Account): Promise<Balance> {
    try {
      return await this.engine.upstream.balance(this.key(account));
    } catch (err) {
      throw providerRefusal(err, (e) => refusedRead(e, account.email, 'balance'));
    }
  }
}

function refusedRead(err: { errorClass: string; message: string }, email: string, what: string): string {
  if (err.errorClass === 'auth')
    return `Account ${email} in error state: ${err.message}. Re-post the account with a valid API key.`;
  return `PixVerse refused the ${what} read for ${email}: ${err.message}`;
}
