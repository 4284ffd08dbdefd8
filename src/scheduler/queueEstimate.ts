/**
 * Gathers what the estimates of domain/policy/estimates.ts need from the store: when each slot of
 * the tenant's accounts should free up (running jobs' expected ends), and the wait of a job entering
 * the queue at a position. The rules themselves are the policy's.
 */
import { slotFreeTimes as slotTimes, waitAtPosition } from '../domain/policy/estimates.ts';
import type { SchedulerContext } from './context.ts';

/** When each slot of the tenant's accounts (or of one account) is expected to free up. */
export async function slotFreeTimes(
  ctx: Pick<SchedulerContext, 'store' | 'estimator' | 'now'>,
  userId: number,
  email: string | null = null,
  maxJobs: number | null = null,
): Promise<number[]> {
  const now = ctx.now();
  const [all, active] = await Promise.all([ctx.store.listAccounts(userId), ctx.store.activeJobs(userId)]);
  const accounts = email === null ? all : all.filter((account) => account.email === email);
  const ends = new Map<string, number[]>();
  for (const job of active) {
    if (job.email === null) continue;
    const list = ends.get(job.email) ?? [];
    list.push((job.startedAt ?? now) + ctx.estimator.expected(job));
    ends.set(job.email, list);
  }
  return slotTimes(accounts, ends, now, maxJobs);
}

/** Expected wait before a job entering at `position` starts, in ms. */
export async function estimateWaitMs(
  ctx: SchedulerContext,
  userId: number,
  position: number,
): Promise<number> {
  const slots = await slotFreeTimes(ctx, userId);
  const expected = ctx.estimator.typical('video');
  return waitAtPosition(slots, position, expected, ctx.now());
}
