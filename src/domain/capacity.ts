/**
 * Capacity truth: the one rule for how many jobs an account can take now. /scheduler/available,
 * the queue's start estimates and Retry-After all read it, so none of them can promise a slot that
 * admission would refuse (an account in error answers 596, one cooling down 429).
 */
import { isHealthy, type Account } from './account.ts';

export interface CapacityRow {
  email: string;
  maxJobs: number;
  executing: number;
  available: number;
}

type CapacityAccount = Pick<Account, 'email' | 'maxJobs' | 'state' | 'cooldownUntil'>;

/** `available` is 0 while the account cannot take a job (error, or a cool-down not yet over). */
export function capacityRow(account: CapacityAccount, executing: number, now: number): CapacityRow {
  const free = isHealthy(account, now) ? Math.max(0, account.maxJobs - executing) : 0;
  return { email: account.email, maxJobs: account.maxJobs, executing, available: free };
}

/**
 * The state a reader should see: a cool-down whose end has passed is over (admission takes the
 * account again), even before anything rewrote the stored state.
 */
export function effectiveState(
  account: Pick<Account, 'state' | 'cooldownUntil'>,
  now: number,
): Account['state'] {
  return account.state === 'cooldown' && isHealthy(account, now) ? 'ok' : account.state;
}

/**
 * Earliest time the account can take new work: now when healthy, the end of its cool-down, or null
 * for an account in error (it waits for the operator or for its credits to return).
 */
export function opensAt(account: Pick<Account, 'state' | 'cooldownUntil'>, now: number): number | null {
  if (account.state === 'error') return null;
  if (isHealthy(account, now)) return now;
  return account.cooldownUntil ?? now;
}
