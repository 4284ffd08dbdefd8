/**
 * Job state, per-key concurrency accounting, credits and trace-id replay.
 *
 * No timer per job: a job's status is derived from (createdAt, endAt) whenever it is read, and each
 * key keeps a min-heap of running jobs by endAt. `settle()` pops every job whose time has passed,
 * which frees its slot, counts its outcome and refunds it — lazily, on the next request touching
 * that key. Everything here is synchronous, so a create (replay check → limit check → charge →
 * insert) is atomic with respect to other requests in the event loop. The one exception is a job
 * with a webhook, whose end must be noticed without a request: webhooks.ts times those.
 */
import {
  charge,
  newAccount,
  rememberTrace,
  statsOf,
  statusAt,
  type Account,
  type FinalStatus,
  type Job,
  type UploadKind,
} from './account.ts';
import { ERR, RawInt, SimError, successText } from './envelope.ts';
import { IdGenerator } from './ids.ts';
import { modelDurationMs } from './latency.ts';
import { NO_MARKERS, type Markers } from './markers.ts';
import type { KeyStats, ResolvedOptions, SimStats } from './options.ts';
import { createRng, deriveSeed, uniformInt, type Rng } from './random.ts';
import type { JobSpec, Lookup, VideoSpec } from './validate/index.ts';
import { Webhooks } from './webhooks.ts';
import { mp4, parseMediaPath, png, type MediaFile } from './media.ts';
import { imageDimensions } from './catalog.ts';

const ID_FIELD = { video: 'video_id', image: 'image_id' } as const;

/** Marker refusals that apply after validation (markers.ts). */
function markerRefusal(markers: Markers, spec: JobSpec): SimError | null {
  switch (markers.reject) {
    case 'http500':
      return new SimError(ERR.database, 'database error (simulated)', 500, true);
    case 'moderation':
      return new SimError(ERR.moderation, 'prompt failed content moderation');
    case 'overload':
      return new SimError(ERR.overloaded);
    case 'out-of-credits':
      return new SimError(ERR.insufficientBalance);
    case 'no-subject':
    case 'no-person': {
      if (spec.kind !== 'video' || spec.mode !== 'mimic') return null;
      return new SimError(markers.reject === 'no-subject' ? ERR.mimicNoSubject : ERR.mimicNoPerson);
    }
    default:
      return null;
  }
}

export class Engine {
  private readonly accounts = new Map<string, Account>();
  private readonly ids: IdGenerator;
  private readonly rng: Rng;
  /** Draws for the failure-rate options, apart from job draws so they do not shift durations. */
  readonly faultRng: Rng;
  /** Trace ids already refused once by #sim:busy: the retry goes through, as it would at PixVerse. */
  readonly busyRefused = new Set<string>();
  /** The console's webhooks and the deliveries in progress. */
  readonly webhooks: Webhooks;
  private media = 'http://127.0.0.1';

  /** Base URL of result files: the simulator's own address, known once it listens. */
  get mediaBase(): string {
    return this.media;
  }

  set mediaBase(url: string) {
    this.media = url;
    this.webhooks.mediaBase = url;
  }

  constructor(private readonly options: ResolvedOptions) {
    this.ids = new IdGenerator(createRng(deriveSeed(options.seed, 1)), options.bigIds);
    this.rng = createRng(deriveSeed(options.seed, 2));
    this.faultRng = createRng(deriveSeed(options.seed, 3));
    this.webhooks = new Webhooks(options);
  }

  /** Stops webhook deliveries (timers and requests in flight); the job state stays readable. */
  close(): void {
    this.webhooks.close();
  }

  /** Missing/empty keys, `sim-invalid*` keys and keys outside `apiKeys` are rejected. */
  isValidKey(key: string | undefined): key is string {
    if (!key || key.trim() === '' || key.startsWith('sim-invalid')) return false;
    return this.options.apiKeys === null || this.options.apiKeys.has(key);
  }

  account(key: string): Account {
    let acc = this.accounts.get(key);
    if (!acc) {
      acc = newAccount(key, this.options.keyLimits[key] ?? this.options.maxConcurrent);
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
  submit(acc: Account, traceId: string, spec: JobSpec, now: number, markers: Markers = NO_MARKERS): string {
    const refusal = markerRefusal(markers, spec);
    if (refusal) throw refusal;
    if (this.options.overloadRate > 0 && this.faultRng() < this.options.overloadRate)
      throw new SimError(ERR.overloaded);

    this.settle(acc, now);
    if (acc.running.size >= acc.limit) {
      acc.violations++;
      throw new SimError(ERR.concurrencyLimit);
    }
    const cost = spec.cost;
    if (acc.creditMonthly + acc.creditPackage < cost) throw new SimError(ERR.insufficientBalance);

    const job = this.newJob(spec, markers, cost, now);
    const split = charge(acc, cost);
    job.chargedMonthly = split.monthly;
    job.chargedPackage = split.pkg;
    acc.jobs.set(job.id, job);
    acc.running.push(job);
    acc.created++;
    acc.peak = Math.max(acc.peak, acc.running.size);
    if (spec.kind === 'video' && spec.webhookId !== null)
      this.webhooks.track(acc.key, job, traceId, spec.webhookId, markers);

    const body = successText({ [ID_FIELD[spec.kind]]: new RawInt(job.id), [spec.creditField]: cost });
    // Only successful creates are remembered: a refusal had no effect, so a retry with the same
    // trace id is a fresh attempt (and is counted as a violation again if still over the limit).
    rememberTrace(acc, traceId, body);
    return body;
  }

  /** A synchronous billable call (mask selection): charges `cost` and remembers the answer. */
  chargeCall(acc: Account, traceId: string, cost: number, body: string): string {
    this.settle(acc, Date.now());
    if (acc.creditMonthly + acc.creditPackage < cost) throw new SimError(ERR.insufficientBalance);
    charge(acc, cost);
    rememberTrace(acc, traceId, body);
    return body;
  }

  private newJob(spec: JobSpec, markers: Markers, cost: number, now: number): Job {
    const { durationMs, stuckReleaseMs, failRate, moderateRate } = this.options;
    // Draw the same numbers every time so a marker on one job does not shift the others' draws.
    const draws = [this.rng(), this.rng(), this.rng()] as const;
    const roll = this.rng();
    const randomSeedValue = uniformInt(this.rng, 1, 2_147_483_647);
    let outcome: FinalStatus = roll < failRate ? 8 : roll < failRate + moderateRate ? 7 : 1;
    const modelled = markers.durationMs === null && durationMs === null;
    let duration =
      markers.durationMs ??
      (durationMs
        ? durationMs.min + Math.floor(draws[0] * (durationMs.max - durationMs.min + 1))
        : modelDurationMs(spec, this.options.latency, this.options.timeScale, draws));
    if (markers.outcome === 'fail') outcome = 8;
    if (markers.outcome === 'moderate') outcome = 7;
    // A modelled duration in the lognormal's tail beyond the auto-release is released as failed
    // then; durations given explicitly (#sim:duration, durationMs) are taken literally.
    if (markers.outcome === 'stuck' || (modelled && duration >= stuckReleaseMs)) {
      outcome = 8;
      duration = stuckReleaseMs;
    }
    const requestedSeed = spec.kind === 'video' ? spec.seed : null;
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
      deletedAt: null,
    };
  }

  /** A job of this key and kind; another key's id or another kind's id is "not found". */
  job(acc: Account, id: string, kind: JobSpec['kind'], now: number): Job | undefined {
    this.settle(acc, now);
    const job = acc.jobs.get(id);
    return job && job.spec.kind === kind ? job : undefined;
  }

  /** What validators may see of this key: its uploads and its videos with their current status. */
  lookup(acc: Account, now: number): Lookup {
    return {
      upload: (id) => acc.uploads.get(id),
      video: (id) => {
        const job = this.job(acc, id, 'video', now);
        return job ? { status: statusAt(job, now), spec: job.spec as VideoSpec } : undefined;
      },
      webhook: (id) => this.webhooks.usable(id, acc.key),
    };
  }

  /**
   * The file behind a completed job's result URL (any key: result URLs are public, as on a CDN).
   * Null while the job runs, when it failed, was deleted, or never existed.
   */
  mediaFile(path: string, now: number): MediaFile | null {
    const ref = parseMediaPath(path);
    if (!ref) return null;
    for (const acc of this.accounts.values()) {
      const job = acc.jobs.get(ref.id);
      if (!job || job.spec.kind !== ref.kind) continue;
      if (statusAt(job, now) !== 1) return null;
      if (job.spec.kind === 'video') return { contentType: 'video/mp4', body: mp4(job.spec.duration * 1000) };
      const { width, height } = imageDimensions(job.spec.quality, job.spec.aspectRatio);
      return { contentType: 'image/png', body: png(width, height, job.seed) };
    }
    return null;
  }

  /** Marks a job of any key deleted (status 6). Its slot and credits are accounted as before. */
  deleteJob(id: string, now: number): boolean {
    for (const acc of this.accounts.values()) {
      const job = acc.jobs.get(id);
      if (job) {
        job.deletedAt ??= now;
        this.webhooks.deleted(id);
        return true;
      }
    }
    return false;
  }

  recordUpload(acc: Account, kind: UploadKind): string {
    const id = this.ids.take();
    acc.uploads.set(id, kind);
    return id;
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
    return statsOf(acc);
  }

  stats(now: number): SimStats {
    const keys: Record<string, KeyStats> = {};
    const totals: KeyStats = {
      limit: 0,
      peak: 0,
      violations: 0,
      created: 0,
      completed: 0,
      failed: 0,
      moderated: 0,
      active: 0,
    };
    for (const key of this.accounts.keys()) {
      const one = this.keyStats(key, now);
      // defineProperty, not assignment: an API key literally named "__proto__" must still be listed.
      Object.defineProperty(keys, key, { value: one, enumerable: true, writable: true, configurable: true });
      for (const field of Object.keys(totals) as (keyof KeyStats)[]) totals[field] += one[field];
    }
    return { keys, totals, webhooks: this.webhooks.stats() };
  }
}

export type { Account, Job, UploadKind };
