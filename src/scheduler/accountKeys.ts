/** Decrypts account API keys, caching plain keys in memory keyed by their ciphertext. */
import type { Account } from '../domain/account.ts';
import { accountAad, type SecretBox } from '../security/secretBox.ts';

export class AccountKeys {
  // Keyed by ciphertext: a re-posted account gets a new ciphertext, so stale keys never linger.
  private readonly cache = new Map<string, string>();

  constructor(private readonly box: SecretBox) {}

  seal(userId: number, email: string, apiKey: string): string {
    const sealed = this.box.encrypt(apiKey, accountAad(userId, email));
    this.cache.set(sealed, apiKey);
    return sealed;
  }

  open(account: Pick<Account, 'userId' | 'email' | 'apiKeyEnc'>): string {
    const hit = this.cache.get(account.apiKeyEnc);
    if (hit !== undefined) return hit;
    const plain = this.box.decrypt(account.apiKeyEnc, accountAad(account.userId, account.email));
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(account.apiKeyEnc, plain);
    return plain;
  }
}
