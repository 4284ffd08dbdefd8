/**
 * Estimates for waiting jobs: position in the tenant's queue and when it should start.
 * Positions follow the dispatcher's rule (fair turns across tokens by weight; within a token
 * priority, then queue rank, then id — the store's compareQueued) from a snapshot of the queue;
 * start times replay slot hand-offs from the running jobs' expected ends. Estimates only: pins
 * and health changes can reorder.
 */
import { opensAt } from '../domain/capacity.ts';
import type { Job } from '../domain/job.ts';
import { compareQueued } from '../store/fairness.ts';
import type { SchedulerContext } from './context.ts';

/** Queued jobs reordered as the dispatcher would take them (stride scheduling by token weight). */
export function dispatchOrder(queued: readonly Job[], weights: ReadonlyMap<number, number>): Job[] {
  const perToken = new Map<number, Job[]>();
  for (const job of queued) {
    const key = job.tokenId ?? 0;
    let list = perToken.get(key);
    if (!list) perToken.set(key, (list = []));
    list.push(job);
  }
  const lanes = [...perToken.entries()].map(([token, jobs]) => ({
    token,
    pass: 0,
    stride: 1 / Math.max(weights.get(token) ?? 1, 1e-6),
    jobs: jobs.sort(compareQueued),
    next: 0,
  }));
  const order: Job[] = [];
  while (lanes.length > 0) {
    let best = 0;
    for (let i = 1; i < lanes.length; i++) {
      const lane = lanes[i]!;
      const chosen = lanes[best]!;
      if (lane.pass < chosen.pass || (lane.pass === chosen.pass && lane.token < chosen.token)) best = i;
    }
    const lane = lanes[best]!;
    order.push(lane.jobs[lane.next++]!);
    lane.pass += lane.stride;
    if (lane.next >= lane.jobs.length) lanes.splice(best, 1);
  }
  return order;
}

/**
 * Expected start time (epoch ms) of the jobs at positions 0..count-1: each position takes the
 * earliest slot to free up, and that slot frees again one expected duration later.
 */
export function startTimes(slotFreeAt: number[], count: number, expectedMs: number, now: number): number[] {
  const slots = slotFreeAt.map((t) => Math.max(t, now)).sort((a, b) => a - b);
  if (slots.length === 0) return Array.from({ length: count }, () => Number.POSITIVE_INFINITY);
  const result: number[] = [];
  // Slots are kept sorted; inserting the refreshed time keeps this O(count × slots) at worst,
  // fine for the few thousand positions shown.
  for (let i = 0; i < count; i++) {
    const start = slots.shift()!;
    result.push(start);
    const again = start + expectedMs;
    let at = slots.findIndex((t) => t > again);
    if (at < 0) at = slots.length;
    slots.splice(at, 0, again);
  }
  return result;
}

/**
 * When each slot of the tenant's accounts (or of one account) is expected to free up. An account
 * the capacity rule closes offers its slots from its opensAt (the end of a cool-down), or none.
 */
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
  const times: number[] = [];
  for (const account of accounts) {
    const from = opensAt(account, now);
    if (from === null) continue;
    const busy = (ends.get(account.email) ?? []).sort((a, b) => a - b);
    // A request's maxJobs override limits the slots it may use, and so when one frees for it.
    const slots = maxJobs === null ? account.maxJobs : Math.min(account.maxJobs, maxJobs);
    for (let slot = 0; slot < slots; slot++) times.push(Math.max(from, busy[slot] ?? now));
  }
  return times;
}

/** Expected wait before a job entering at `position` starts, in ms. */
export async function estimateWaitMs(ctx: SchedulerContext, userId: number, position: number): Promise<number> {
  const slots = await slotFreeTimes(ctx, userId);
  if (slots.length === 0) return 60_000;
  const now = ctx.now();
  const expected = ctx.estimator.typical('video');
  // Whole rounds of every slot turning over, plus the first free slot.
  const rounds = Math.floor(position / slots.length);
  const first = Math.min(...slots) - now;
  return Math.max(0, first) + rounds * expected;
}
