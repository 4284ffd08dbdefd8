/** Account model: one provider API key owned by one tenant. */

export const MAX_JOBS_LIMIT = 8;

export const ACCOUNT_STATES = ['ok', 'cooldown', 'error'] as const;
export type AccountState = (typeof ACCOUNT_STATES)[number];

export interface Account {
  userId: number;
  /** The provider the key belongs to (Provider.id). */
  provider: string;
  email: string;
  /** Encrypted API key (see security/secretBox.ts); the store never sees the plain key. */
  apiKeyEnc: string;
  maxJobs: number;
  state: AccountState;
  /** Why the account is not `ok`, shown in 596 answers and /scheduler/available. */
  reason: string | null;
  /** Epoch ms until which a `cooldown` account is skipped. */
  cooldownUntil: number | null;
  /**
   * The provider webhook registered for the account (e.g. in its platform console), or null when it
   * has none. With one, jobs of operations that accept it carry its id and the provider reports their
   * end at once; polling then only backs it up. The secret is sealed like the API key.
   */
  webhookId: string | null;
  webhookSecretEnc: string | null;
  createdAt: number;
  updatedAt: number;
}

/** An account is eligible for new work when healthy, or when its cool-down has passed. */
export function isHealthy(account: Pick<Account, 'state' | 'cooldownUntil'>, now: number): boolean {
  if (account.state === 'ok') return true;
  if (account.state === 'cooldown') return (account.cooldownUntil ?? 0) <= now;
  return false;
}
