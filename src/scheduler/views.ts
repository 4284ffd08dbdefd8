/**
 * Read models for /scheduler and /scheduler/available. They read local records only,
 * never the provider (invariant 6). The executing list and the per-account counts are
 * computed from the same snapshot of active jobs so one response always agrees with itself.
 */
import { capacityRow, effectiveState, type CapacityRow } from '../domain/capacity.ts';
import { publicJobId } from '../domain/ids.ts';
import type { Job, JobType } from '../domain/job.ts';
import { elapsed, isoUtc } from '../domain/time.ts';
import type { Account } from '../domain/account.ts';
import type { Store } from '../store/store.ts';

export interface ExecutingItem {
  id: string;
  type: JobType;
  started: string;
  elapsed: string;
  replyUrl?: string;
  replyRef?: string;
}

export interface AvailableRow extends CapacityRow {
  state: Account['state'];
  reason?: string;
  cooldownUntil?: string;
}

export const publicId = publicJobId;

export function executingItem(job: Job, now: number): ExecutingItem {
  const started = job.startedAt ?? now;
  const item: ExecutingItem = {
    id: publicId(job),
    type: job.type,
    started: isoUtc(started),
    elapsed: elapsed(started, now),
  };
  if (job.replyUrl) item.replyUrl = job.replyUrl;
  if (job.replyRef) item.replyRef = job.replyRef;
  return item;
}

/** useapi's row; `available` follows the capacity rule, `state`/`reason`/`cooldownUntil` say why it is 0. */
export function availableRow(account: Account, executing: number, now: number): AvailableRow {
  const state = effectiveState(account, now);
  const row: AvailableRow = { ...capacityRow(account, executing, now), state };
  if (state === 'ok') return row;
  if (account.reason) row.reason = account.reason;
  if (state === 'cooldown' && account.cooldownUntil) row.cooldownUntil = isoUtc(account.cooldownUntil);
  return row;
}

export async function executingList(store: Store, userId: number, now: number): Promise<ExecutingItem[]> {
  return (await store.activeJobs(userId)).map((job) => executingItem(job, now));
}

export async function schedulerAvailable(
  store: Store,
  userId: number,
  now: number,
): Promise<{ executing: ExecutingItem[]; available: AvailableRow[] }> {
  // Availability from the store's slot counts, not from the executing list: a job the gateway timed
  // out keeps its slot (the provider may still run it) while it no longer shows as executing.
  const [jobs, loads] = await Promise.all([store.activeJobs(userId), store.accountLoads(userId)]);
  return {
    executing: jobs.map((job) => executingItem(job, now)),
    available: loads.map((load) => availableRow(load.account, load.executing, now)),
  };
}
