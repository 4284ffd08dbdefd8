/**
 * Per-API-key state: concurrency slots (a min-heap of running jobs by end time), credits, uploads,
 * remembered Ai-trace-ids and the counters `/_sim/stats` reports.
 */
import { MinHeap } from './heap.ts';
import { accountIdFor } from './ids.ts';
import type { KeyStats } from './options.ts';
import { DEFAULT_CREDIT_MONTHLY, DEFAULT_CREDIT_PACKAGE } from './options.ts';
import type { JobSpec } from './validate/index.ts';

export type FinalStatus = 1 | 7 | 8;
export type UploadKind = 'image' | 'video' | 'audio';

export interface Job {
  id: string;
  spec: JobSpec;
  createdAt: number;
  /** When the job leaves status 5 and frees its slot (createdAt + stuckReleaseMs for stuck jobs). */
  endAt: number;
  outcome: FinalStatus;
  /** Seed actually used: the request's, or a random one when 0/unset (reference §11.5). */
  seed: number;
  cost: number;
  chargedMonthly: number;
  chargedPackage: number;
  refunded: boolean;
  /** Set by the control plane: the job reads as status 6 (deleted) from then on. */
  deletedAt: number | null;
}

export interface Account {
  key: string;
  accountId: number;
  limit: number;
  creditMonthly: number;
  creditPackage: number;
  running: MinHeap<Job>;
  jobs: Map<string, Job>;
  uploads: Map<string, UploadKind>;
  /** Ai-trace-id → body of the first successful create made with it. */
  traces: Map<string, string>;
  peak: number;
  violations: number;
  created: number;
  completed: number;
  failed: number;
  moderated: number;
}

export function newAccount(key: string, limit: number): Account {
  return {
    key,
    accountId: accountIdFor(key),
    limit,
    creditMonthly: DEFAULT_CREDIT_MONTHLY,
    creditPackage: DEFAULT_CREDIT_PACKAGE,
    running: new MinHeap<Job>((job) => job.endAt),
    jobs: new Map(),
    uploads: new Map(),
    traces: new Map(),
    peak: 0,
    violations: 0,
    created: 0,
    completed: 0,
    failed: 0,
    moderated: 0,
  };
}

/** Status of a job at `now`: 6 once deleted, 5 until it ends, then its outcome. */
export function statusAt(job: Job, now: number): 1 | 5 | 6 | 7 | 8 {
  if (job.deletedAt !== null && now >= job.deletedAt) return 6;
  return now < job.endAt ? 5 : job.outcome;
}

export function statsOf(acc: Account): KeyStats {
  const { limit, peak, violations, created, completed, failed, moderated } = acc;
  return { limit, peak, violations, created, completed, failed, moderated, active: acc.running.size };
}

/** Bounds memory in long benches; the oldest trace ids are forgotten first. */
const MAX_TRACES_PER_KEY = 200_000;

export function rememberTrace(acc: Account, traceId: string, body: string): void {
  acc.traces.set(traceId, body);
  if (acc.traces.size > MAX_TRACES_PER_KEY) acc.traces.delete(acc.traces.keys().next().value!);
}

/**
 * Takes `cost` credits, monthly (plan) credits first and purchased package credits after
 * (reference §9); returns the split so a refund can put them back where they came from.
 */
export function charge(acc: Account, cost: number): { monthly: number; pkg: number } {
  const monthly = Math.min(acc.creditMonthly, cost);
  const pkg = cost - monthly;
  acc.creditMonthly -= monthly;
  acc.creditPackage -= pkg;
  return { monthly, pkg };
}
