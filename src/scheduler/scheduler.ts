/**
 * The engine's front door: wires admission, tracker and sweeper around one store and one
 * upstream, and offers the operations the HTTP layer needs. Knows nothing of HTTP or SQL.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { GatewayError } from '../domain/errors.ts';
import type { Job } from '../domain/job.ts';
import { holdsSlot } from '../domain/job.ts';
import type { JobRef } from '../domain/ids.ts';
import type { SecretBox } from '../security/secretBox.ts';
import type { Store } from '../store/store.ts';
import type { Upstream } from '../upstream/upstream.ts';
import { AccountKeys } from './accountKeys.ts';
import { Admission, type SubmitInput } from './admission.ts';
import type { SchedulerContext, SchedulerTuning } from './context.ts';
import { DurationEstimator } from './durationEstimator.ts';
import { SchedulerEvents } from './events.ts';
import { DEFAULT_POLL_POLICY } from './pollSchedule.ts';
import { Sweeper } from './sweeper.ts';
import { Tracker } from './tracker.ts';

export const DEFAULT_TUNING: SchedulerTuning = {
  jobTimeoutMs: 15 * 60_000,
  staleSubmitMs: 2 * 60_000,
  concurrencyBackoffMs: 5_000,
  rateLimitCooldownMs: 30_000,
  leaseMs: 30_000,
  pollConcurrency: 32,
  idleWakeMs: 1_000,
  sweepEveryMs: 5_000,
  poll: DEFAULT_POLL_POLICY,
};

export interface SchedulerOptions {
  store: Store;
  upstream: Upstream;
  secretBox: SecretBox;
  log: Logger;
  tuning?: Partial<SchedulerTuning>;
  /** Fixed expected job duration (ms) instead of learned estimates. */
  expectedDurationMs?: number | null;
  now?: () => number;
}

export class Scheduler {
  readonly events = new SchedulerEvents();
  readonly keys: AccountKeys;
  readonly ctx: SchedulerContext;
  private readonly admission: Admission;
  private readonly tracker: Tracker;
  private readonly sweeper: Sweeper;

  constructor(options: SchedulerOptions) {
    this.keys = new AccountKeys(options.secretBox);
    this.ctx = {
      store: options.store,
      upstream: options.upstream,
      keys: this.keys,
      estimator: new DurationEstimator(options.expectedDurationMs ?? null),
      events: this.events,
      log: options.log,
      now: options.now ?? Date.now,
      tuning: { ...DEFAULT_TUNING, ...options.tuning, poll: { ...DEFAULT_TUNING.poll, ...options.tuning?.poll } },
      instanceId: `${process.pid}-${randomUUID().slice(0, 8)}`,
    };
    this.admission = new Admission(this.ctx);
    this.tracker = new Tracker(this.ctx);
    this.sweeper = new Sweeper(this.ctx);
    // A newly running job may be due sooner than the tracker's current sleep.
    this.events.on('running', () => this.tracker.wake());
  }

  get store(): Store {
    return this.ctx.store;
  }

  start(): void {
    this.tracker.start();
    this.sweeper.start();
  }

  async stop(): Promise<void> {
    await this.sweeper.stop();
    await this.tracker.stop();
  }

  submit(input: SubmitInput): Promise<Job> {
    return this.admission.submit(input);
  }

  /** Runs a sweep now (timeouts, orphaned submits); used at start-up and by tests. */
  sweep(): Promise<void> {
    return this.sweeper.sweep();
  }

  /** Finds a tenant's job by its public id; 403 when the id names another tenant. */
  async findJob(userId: number, ref: JobRef): Promise<Job | null> {
    if (ref.userId !== userId) throw new GatewayError(403, `Unauthorized access to user:${ref.userId} detected`);
    if (ref.rowId !== null) {
      const job = await this.ctx.store.getJob(ref.rowId);
      return job && job.userId === userId && job.email === ref.email && job.type === ref.type ? job : null;
    }
    return this.ctx.store.findJob(userId, ref.email, ref.type, ref.upstreamId!);
  }

  /** DELETE /scheduler/{id}: stops tracking a slot-holding job and frees its slot. */
  async cancel(userId: number, ref: JobRef): Promise<Job | null> {
    const job = await this.findJob(userId, ref);
    if (!job || !holdsSlot(job.state)) return null;
    const finished = await this.ctx.store.finish(job.id, { state: 'cancelled', error: 'cancelled by DELETE /scheduler' }, this.ctx.now(), {
      from: ['submitting', 'running'],
    });
    if (finished) this.events.emit('final', finished);
    return finished;
  }

  /** Deletes an account; its running jobs are cancelled and their slots freed. */
  async deleteAccount(userId: number, email: string): Promise<Job[] | null> {
    const result = await this.ctx.store.deleteAccount(userId, email, this.ctx.now());
    if (!result) return null;
    for (const job of result.cancelled) this.events.emit('final', job);
    return result.cancelled;
  }
}
