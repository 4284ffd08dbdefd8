/**
 * Accounts parked for running out of credits come back by themselves once their balance
 * returns (a top-up, a new billing month): the sweeper asks the provider for the balance of each
 * parked account now and then, and clears the error when credits are there again.
 * Re-posting the account clears it at once as well. Parked accounts are remembered in memory;
 * after a restart only re-posting (or the next out-of-credits answer) brings one back here.
 */
import type { ParkedAccounts, SchedulerContext } from './context.ts';

export const OUT_OF_CREDITS = 'out of credits';

export class CreditWatch implements ParkedAccounts {
  private readonly parked = new Map<string, { userId: number; email: string; nextCheck: number }>();

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly everyMs: number,
    private readonly onRecovered: (userId: number) => void,
  ) {}

  park(userId: number, email: string): void {
    this.parked.set(`${userId}\u0000${email}`, { userId, email, nextCheck: this.ctx.now() + this.everyMs });
  }

  async check(): Promise<void> {
    const now = this.ctx.now();
    for (const [key, entry] of this.parked) {
      if (entry.nextCheck > now) continue;
      entry.nextCheck = now + this.everyMs;
      const account = await this.ctx.store.getAccount(entry.userId, entry.email);
      // Gone, re-posted or otherwise changed: no longer ours to watch.
      if (account?.state !== 'error' || account.reason !== OUT_OF_CREDITS) {
        this.parked.delete(key);
        continue;
      }
      try {
        const balance = await this.ctx.upstream.balance(this.ctx.keys.open(account));
        if (balance.creditMonthly + balance.creditPackage <= 0) continue;
        await this.ctx.store.setAccountHealth(entry.userId, entry.email, {
          state: 'ok',
          reason: null,
          cooldownUntil: null,
          now: this.ctx.now(),
        });
        this.parked.delete(key);
        this.ctx.log.info({ email: entry.email }, 'credits are back; account unparked');
        this.onRecovered(entry.userId);
      } catch (err) {
        this.ctx.log.warn(
          { email: entry.email, err: err instanceof Error ? err.message : String(err) },
          'balance check failed',
        );
      }
    }
  }
}
