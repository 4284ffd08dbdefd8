/** Seals and opens account secrets (API keys, webhook secrets), caching plain text keyed by ciphertext. */
import type { Account } from '../domain/account.ts';
import { accountAad, type SecretBox } from '../security/secretBox.ts';

export class AccountKeys {
  // Keyed by ciphertext: a re-posted account gets a new ciphertext, so stale keys never linger.
  private readonly cache = new Map<string, string>();

  /** Also seals tenant callback secrets (callbacks/secrets.ts). */
  constructor(readonly box: SecretBox) {}

  seal(userId: number, email: string, apiKey: string): string {
    const sealed = this.box.encrypt(apiKey, accountAad(userId, email));
    this.cache.set(sealed, apiKey);
    return sealed;
  }

  open(account: Pick<Account, 'userId' | 'email' | 'apiKeyEnc'>): string {
    return this.decrypt(account.apiKeyEnc, accountAad(account.userId, account.email));
  }

  // A distinct associated data: a sealed webhook secret can never be opened as the API key, or back.
  sealWebhookSecret(userId: number, email: string, secret: string): string {
    const sealed = this.box.encrypt(secret, webhookAad(userId, email));
    this.cache.set(sealed, secret);
    return sealed;
  }

  /** The account's webhook secret, or null when it has none. Throws when it cannot be decrypted. */
  openWebhookSecret(account: Pick<Account, 'userId' | 'email' | 'webhookSecretEnc'>): string | null {
    if (account.webhookSecretEnc === null) return null;
    return this.decrypt(account.webhookSecretEnc, webhookAad(account.userId, account.email));
  }

  private decrypt(sealed: string, aad: string): string {
    const hit = this.cache.get(sealed);
    if (hit !== undefined) return hit;
    const plain = this.box.decrypt(sealed, aad);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(sealed, plain);
    return plain;
  }
}

function webhookAad(userId: number, email: string): string {
  return `${accountAad(userId, email)}:webhook`;
}
