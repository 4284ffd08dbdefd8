/** Account model: one PixVerse Platform API key owned by one tenant. */

export const MAX_JOBS_LIMIT = 8;

export const ACCOUNT_STATES = ['ok', 'cooldown', 'error'] as const;
export type AccountState = (typeof ACCOUNT_STATES)[number];

export interface Account {
  userId: number;
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
   * PixVerse webhook (created in the account's platform console), or null when the account has none.
   * With one, text- and image-to-video jobs carry `webhook_id` and PixVerse reports their end at once;
   * polling then only backs it up. The secret is sealed like the API key.
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
