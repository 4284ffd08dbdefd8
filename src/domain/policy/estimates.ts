/**
 * Estimates for waiting: when each slot should free up, when the job at each queue position should
 * start, the wait of a job entering the queue at a position, and Retry-After. Positions come from
 * queueOrder.ts's dispatchOrder (the real stride rule); starts replay slot hand-offs from the running
 * jobs' expected ends. Estimates only: pins and health changes can reorder.
 */
import type { Account } from '../account.ts';
import { opensAt } from '../capacity.ts';

/**
 * When each slot of `accounts` is expected to free up, given the expected ends of the jobs running
 * on each (by email). An account the capacity rule closes offers its slots from its opensAt (the end
 * of a cool-down), or none; a request's maxJobs override limits the slots it may use.
 */
export function slotFreeTimes(
  accounts: readonly Pick<Account, 'email' | 'maxJobs' | 'state' | 'cooldownUntil'>[],
  runningEnds: ReadonlyMap<string, readonly number[]>,
  now: number,
  maxJobs: number | null = null,
): number[] {
  const times: number[] = [];
  for (const account of accounts) {
    const from = opensAt(account, now);
    if (from === null) continue;
    const busy = [...(runningEnds.get(account.email) ?? [])].sort((a, b) => a - b);
    const slots = maxJobs === null ? account.maxJobs : Math.min(account.maxJobs, maxJobs);
    for (let slot = 0; slot < slots; slot++) times.push(Math.max(from, busy[slot] ?? now));
  }
  return times;
}

/**
 * Expected start time (epoch ms) of the jobs at positions 0..count-1: each position takes the
 * earliest slot to free up, and that slot frees again one expected duration later.
 */
export function startTimes(
  slotFreeAt: readonly number[],
  count: number,
  expectedMs: number,
  now: number,
): number[] {
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

/** Wait (ms) assumed when no slot can ever free (every account in error): ask again in a minute. */
export const NO_SLOT_WAIT_MS = 60_000;

/**
 * Expected wait before a job entering the queue at `position` (0 = next) starts: startTimes's slot
 * replay, answered without replaying every position (a full queue may hold 100k jobs, asked on every
 * refused enqueue). In the replay slot i starts jobs at s_i, s_i + E, s_i + 2E, …, so position p
 * starts at the (p+1)-th smallest of those times: found by bisecting on the count of starts ≤ T.
 */
export function waitAtPosition(
  slotFreeAt: readonly number[],
  position: number,
  expectedMs: number,
  now: number,
): number {
  if (slotFreeAt.length === 0) return NO_SLOT_WAIT_MS;
  const slots = slotFreeAt.map((t) => Math.max(t, now));
  const period = Math.max(1, expectedMs);
  const startsBy = (at: number) => {
    let n = 0;
    for (const s of slots) if (s <= at) n += Math.floor((at - s) / period) + 1;
    return n;
  };
  const first = Math.min(...slots);
  let lo = first - 1;
  let hi = first + position * period;
  for (let i = 0; i < 100 && hi - lo > 1e-3; i++) {
    const mid = (lo + hi) / 2;
    if (startsBy(mid) >= position + 1) hi = mid;
    else lo = mid;
  }
  // The count rises only at some s_i + kE: the first of those after `lo` is the start sought.
  let start = hi;
  for (const s of slots) {
    if (s > lo) {
      start = Math.min(start, s);
      continue;
    }
    let k = Math.ceil((lo - s) / period);
    if (s + k * period <= lo) k++;
    start = Math.min(start, s + k * period);
  }
  return Math.max(0, start - now);
}

/** Retry-After in whole seconds (1…300) until `at`; 5 when no slot is expected to free. */
export function retryAfterSeconds(at: number, now: number): number {
  if (!Number.isFinite(at)) return 5;
  return Math.min(300, Math.max(1, Math.ceil((at - now) / 1000)));
}
