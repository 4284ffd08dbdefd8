/**
 * Job state, per-key concurrency accounting, credits and trace-id replay.
 *
 * No timer per job: a job's status is derived from (createdAt, endAt) whenever it is read, and each
 * key keeps a min-heap of running jobs by endAt. `settle()` pops every job whose time has passed,
 * which frees its slot, counts its outcome and refunds it — lazily, on the next request touching
 * that key. Everything here is synchronous, so a create (replay check → limit check → charge →
 * insert) is atomic with respect to other requests in the event loop.
 */
import { ERR, RawInt, SimError, successText } from './envelope.ts';
import { accountIdFor, IdGenerator } from './ids.ts';
import { parseMarkers, type Markers } from './markers.ts';
import type { KeyStats, ResolvedOptions, SimStats } from './options.ts';
import { DEFAULT_CREDIT_MONTHLY, DEFAULT_CREDIT_PACKAGE } from './options.ts';
import { costOf } from './pricing.ts';
import { createRng, deriveSeed, uniformInt, type Rng } from './random.ts';
import { MinHeap } from './heap.ts';
import type { JobSpec } from './validate.ts';

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
}

interface Account {
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

/** Bounds memory in long benches; the oldest trace ids are forgotten first. */
const MAX_TRACES_PER_KEY = 200_000;
const ID_FIELD = { video: 'video_id', image: 'image_id', music: 'audio_id' } as const;

export class Engine {
  private readonly accounts = new Map<string, Account>();
  private readonly ids: IdGenerator;
  private readonly rng: Rng;

  constructor(private readonly options: ResolvedOptions) {
    this.ids = new IdGenerator(createRng(deriveSeed(options.seed, 1)), options.bigIds);
    this.rng = createRng(deriveSeed(options.seed, 2));
  }

  /** Missing/empty keys, `sim-invalid*` keys and keys outside `apiKeys` are rejected. */
  isValidKey(key: string | undefined): key is string {
    if (!key || key.trim() === '' || key.startsWith('sim-invalid')) return false;
    return this.options.apiKeys === null || this.options.apiKeys.has(key);
  }

  account(key: string): Account {
    let acc = this.accounts.get(key);
    if (!acc) {
      acc = {
        key,
        accountId: accountIdFor(key),
        limit: this.options.keyLimits[key] ?? this.options.maxConcurrent,
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
      this.accounts.set(key, acc);
    }
    return acc;
  }

  /** Frees the slots of jobs whose time has passed, counting outcomes and refunding 7/8. */
  settle(acc: Account, now: number): void {
    for (let job = acc.running.peek(); job && job.endAt <= now; job = acc.running.peek()) {
      acc.running.pop();
      if (job.outcome === 1) {
        acc.completed++;
        continue;
      }
      if (job.outcome === 7) acc.moderated++;
      else acc.failed++;
      // Moderated credits are refunded officially; failed ones by inference (reference §9).
      acc.creditMonthly += job.chargedMonthly;
      acc.creditPackage += job.chargedPackage;
      job.refunded = true;
    }
  }

  /** The stored answer to an earlier create with this Ai-trace-id, if any. */
  replay(acc: Account, traceId: string): string | undefined {
    return acc.traces.get(traceId);
  }

  /** Runs a validated create; returns the success body or throws the refusal. */
  submit(acc: Account, traceId: string, spec: JobSpec, now: number): string {
    const markers = parseMarkers(spec.prompt);
    if (markers.reject === 'http500') throw new SimError(ERR.database, 'database error (simulated)', 500, true);
    if (markers.reject === 'moderation') throw new SimError(ERR.moderation, 'prompt failed content moderation');
    if (markers.reject === 'overload') throw new SimError(ERR.overloaded);

    this.settle(acc, now);
    if (acc.running.size >= acc.limit) {
      acc.violations++;
      throw new SimError(ERR.concurrencyLimit);
    }
    const cost = costOf(spec);
    if (acc.creditMonthly + acc.creditPackage < cost) throw new SimError(ERR.insufficientBalance);

    const job = this.newJob(spec, markers, cost, now);
    // Monthly (plan) credits go first, purchased package credits after (reference §9).
    job.chargedMonthly = Math.min(acc.creditMonthly, cost);
    job.chargedPackage = cost - job.chargedMonthly;
    acc.creditMonthly -= job.chargedMonthly;
    acc.creditPackage -= job.chargedPackage;
    acc.jobs.set(job.id, job);
    acc.running.push(job);
    acc.created++;
    acc.peak = Math.max(acc.peak, acc.running.size);

    const body = successText({ [ID_FIELD[spec.kind]]: new RawInt(job.id), credits: cost });
    // Only successful creates are remembered: a refusal had no effect, so a retry with the same
    // trace id is a fresh attempt (and is counted as a violation again if still over the limit).
    acc.traces.set(traceId, body);
    if (acc.traces.size > MAX_TRACES_PER_KEY) acc.traces.delete(acc.traces.keys().next().value!);
    return body;
  }

  private newJob(spec: JobSpec, markers: Markers, cost: number, now: number): Job {
    const { durationMs, stuckReleaseMs, failRate, moderateRate } = this.options;
    // Draw both numbers every time so a marker on one job does not shift the others' draws.
    const drawnDuration = uniformInt(this.rng, durationMs.min, durationMs.max);
    const roll = this.rng();
    const randomSeedValue = uniformInt(this.rng, 1, 2_147_483_647);
    let outcome: FinalStatus = roll < failRate ? 8 : roll < failRate + moderateRate ? 7 : 1;
    let duration = markers.durationMs ?? drawnDuration;
    if (markers.outcome === 'fail') outcome = 8;
    if (markers.outcome === 'moderate') outcome = 7;
    if (markers.outcome === 'stuck') {
      outcome = 8;
      duration = stuckReleaseMs;
    }
    const requestedSeed = spec.kind === 'music' ? null : spec.seed;
    return {
      id: this.ids.take(),
      spec,
      createdAt: now,
      endAt: now + duration,
      outcome,
      seed: requestedSeed || randomSeedValue,
      cost,
      chargedMonthly: 0,
      chargedPackage: 0,
      refunded: false,
    };
  }

  /** A job of this key and kind; another key's id or another kind's id is "not found". */
  job(acc: Account, id: string, kind: JobSpec['kind'], now: number): Job | undefined {
    this.settle(acc, now);
    const job = acc.jobs.get(id);
    return job && job.spec.kind === kind ? job : undefined;
  }

  recordUpload(acc: Account, kind: UploadKind): string {
    const id = this.ids.take();
    acc.uploads.set(id, kind);
    return id;
  }

  hasImage(acc: Account, id: string): boolean {
    return acc.uploads.get(id) === 'image';
  }

  balance(acc: Account, now: number): { accountId: number; creditMonthly: number; creditPackage: number } {
    this.settle(acc, now);
    return { accountId: acc.accountId, creditMonthly: acc.creditMonthly, creditPackage: acc.creditPackage };
  }

  setLimit(key: string, limit: number): void {
    if (!Number.isInteger(limit) || limit < 0) throw new Error(`invalid limit ${limit}`);
    this.account(key).limit = limit;
  }

  setCredits(key: string, monthly: number | undefined, pkg: number | undefined): void {
    const acc = this.account(key);
    if (monthly !== undefined) acc.creditMonthly = monthly;
    if (pkg !== undefined) acc.creditPackage = pkg;
  }

  /** Peak restarts from what is running now (not 0), so it never under-reports live jobs. */
  resetStats(now: number): void {
    for (const acc of this.accounts.values()) {
      this.settle(acc, now);
      acc.peak = acc.running.size;
      acc.violations = 0;
    }
  }

  keyStats(key: string, now: number): KeyStats {
    const acc = this.account(key);
    this.settle(acc, now);
    const { limit, peak, violations, created, completed, failed, moderated } = acc;
    return { limit, peak, violations, created, completed, failed, moderated, active: acc.running.size };
  }

  stats(now: number): SimStats {
    const keys: Record<string, KeyStats> = {};
    const totals: KeyStats = { limit: 0, peak: 0, violations: 0, created: 0, completed: 0, failed: 0, moderated: 0, active: 0 };
    for (const key of this.accounts.keys()) {
      const one = this.keyStats(key, now);
      // defineProperty, not assignment: an API key literally named "__proto__" must still be listed.
      Object.defineProperty(keys, key, { value: one, enumerable: true, writable: true, configurable: true });
      for (const field of Object.keys(totals) as (keyof KeyStats)[]) totals[field] += one[field];
    }
    return { keys, totals };
  }
}

export type { Account };
