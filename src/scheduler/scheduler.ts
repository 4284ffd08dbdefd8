/**
 * The engine's front door: wires admission, tracker and sweeper around one store and one
 * upstream, and offers the operations the HTTP layer needs. Knows nothing of HTTP or SQL.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { GatewayError } from '../domain/errors.ts';
import type { Job } from '../domain/job.ts';
import { holdsSlot } from '../domain/job.ts';
import { QUEUE_EMAIL, type JobRef } from '../domain/ids.ts';
import type { SecretBox } from '../security/secretBox.ts';
import type { Store, User } from '../store/store.ts';
import type { Upstream } from '../upstream/upstream.ts';
import { AccountKeys } from './accountKeys.ts';
import { Admission, type SubmitInput } from './admission.ts';
import { Dispatcher } from './dispatcher.ts';
import { Launcher } from './launcher.ts';
import type { SchedulerContext, SchedulerTuning } from './context.ts';
import { DurationEstimator } from './durationEstimator.ts';
import { SchedulerEvents } from './events.ts';
import { DEFAULT_POLL_POLICY } from './pollSchedule.ts';
import { ChangeFeed } from './changeFeed.ts';
import { ViewCache } from './viewCache.ts';
import { CreditWatch } from './creditWatch.ts';
import { Sweeper } from './sweeper.ts';
import { dispatchOrder, slotFreeTimes, startTimes } from './queueEstimate.ts';

export interface QueueSnapshot {
  /** All queued jobs of the tenant (items may list fewer). */
  total: number;
  items: { job: Job; position: number; estimatedStart: number }[];
}
import { Tracker } from './tracker.ts';
import { WebhookIntake, type WebhookOutcome } from './webhookIntake.ts';

export const DEFAULT_TUNING: SchedulerTuning = {
  jobTimeoutMs: 15 * 60_000,
  staleSubmitMs: 2 * 60_000,
  concurrencyBackoffMs: 5_000,
  rateLimitCooldownMs: 30_000,
  leaseMs: 30_000,
  pollConcurrency: 32,
  idleWakeMs: 1_000,
  sweepEveryMs: 5_000,
  creditCheckEveryMs: 5 * 60_000,
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
  /**
   * Longest a cached view may be served without re-reading the store. One process owning the
   * store sees every change, so only a shared store (other instances writing) needs this short.
   */
  viewMaxAgeMs?: number;
  now?: () => number;
}

export class Scheduler {
  readonly events = new SchedulerEvents();
  readonly changes = new ChangeFeed();
  readonly views: ViewCache;
  readonly keys: AccountKeys;
  private readonly users = new Map<number, { user: User | null; until: number }>();
  readonly ctx: SchedulerContext;
  private readonly admission: Admission;
  private readonly dispatcher: Dispatcher;
  private readonly tracker: Tracker;
  private readonly sweeper: Sweeper;
  private readonly webhooks: WebhookIntake;

  constructor(options: SchedulerOptions) {
    this.keys = new AccountKeys(options.secretBox);
    this.views = new ViewCache(this.changes, options.viewMaxAgeMs ?? 60_000);
    this.ctx = {
      // Writes through the scheduler's store bump the change feed that read caches follow.
      store: this.changes.watch(options.store),
      upstream: options.upstream,
      keys: this.keys,
      estimator: new DurationEstimator(options.expectedDurationMs ?? null),
      events: this.events,
      log: options.log,
      now: options.now ?? Date.now,
      tuning: { ...DEFAULT_TUNING, ...options.tuning, poll: { ...DEFAULT_TUNING.poll, ...options.tuning?.poll } },
      instanceId: `${process.pid}-${randomUUID().slice(0, 8)}`,
    };
    this.ctx.creditWatch = new CreditWatch(this.ctx, this.ctx.tuning.creditCheckEveryMs, (userId) => this.capacityChanged(userId));
    const launcher = new Launcher(this.ctx);
    this.dispatcher = new Dispatcher(this.ctx, launcher);
    this.admission = new Admission(this.ctx, launcher, (job) => {
      this.events.emit('queued', job);
      this.dispatcher.jobQueued(job.userId);
    }, (userId) => this.user(userId));
    this.tracker = new Tracker(this.ctx);
    this.sweeper = new Sweeper(this.ctx);
    this.webhooks = new WebhookIntake(this.ctx, () => this.tracker.wake());
    // A newly running job may be due sooner than the tracker's current sleep.
    this.events.on('running', () => this.tracker.wake());
    // A freed slot is refilled from the queue at once (if the tenant has anything queued).
    this.events.on('final', (job) => this.dispatcher.slotFreed(job.userId));
  }

  get store(): Store {
    return this.ctx.store;
  }

  start(): void {
    this.tracker.start();
    this.sweeper.start();
    this.dispatcher.start();
  }

  /** Stops claiming work, lets in-flight submits and polls finish, releases leases. */
  async stop(): Promise<void> {
    await this.dispatcher.stop();
    await this.sweeper.stop();
    await this.tracker.stop();
  }

  /** Capacity or the queue changed (here or on another instance): try to dispatch. */
  capacityChanged(userId: number): void {
    this.changes.bump();
    this.dispatcher.poke(userId);
    this.events.emit('changed', userId);
  }

  /** Another instance started a job: its first poll may be due before the tracker's next look. */
  jobsChanged(): void {
    this.changes.bump();
    this.tracker.wake();
    this.events.emit('changed', null);
  }

  /** A provider webhook delivery (see webhookIntake.ts). */
  upstreamWebhook(header: (name: string) => string | undefined, rawBody: string): Promise<WebhookOutcome> {
    return this.webhooks.receive(header, rawBody);
  }

  /** Tenant settings, cached for a second: every create reads them. */
  async user(userId: number): Promise<User | null> {
    const now = this.ctx.now();
    const hit = this.users.get(userId);
    if (hit && hit.until > now) return hit.user;
    const user = await this.ctx.store.getUser(userId);
    if (this.users.size > 10_000) this.users.clear();
    this.users.set(userId, { user, until: now + 1000 });
    return user;
  }

  submit(input: SubmitInput): Promise<Job> {
    return this.admission.submit(input);
  }

  /** The tenant's queue in expected dispatch order with estimated start times (first `limit` jobs). */
  async queueSnapshot(userId: number, limit = 1000): Promise<QueueSnapshot> {
    const { store, estimator } = this.ctx;
    const [queued, tokens, total, slots] = await Promise.all([
      store.queuedJobs(userId, limit),
      store.listTokens(userId),
      store.countQueued(userId),
      slotFreeTimes(this.ctx, userId),
    ]);
    const order = dispatchOrder(queued, new Map(tokens.map((t) => [t.id, t.weight])));
    const expected = order.length > 0 ? estimator.expected(order[0]!) : 0;
    const starts = startTimes(slots, order.length, expected, this.ctx.now());
    return { total, items: order.map((job, index) => ({ job, position: index + 1, estimatedStart: starts[index]! })) };
  }

  /** Position and estimated start of one queued job, as fields of its GET view. */
  async queuePlace(userId: number, jobId: number): Promise<{ queue_position: number | null; queue_eta: string | null }> {
    const item = (await this.queueSnapshot(userId)).items.find((entry) => entry.job.id === jobId);
    if (!item) return { queue_position: null, queue_eta: null };
    const eta = Number.isFinite(item.estimatedStart) ? new Date(item.estimatedStart).toISOString() : null;
    return { queue_position: item.position, queue_eta: eta };
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
      if (!job || job.userId !== userId || job.type !== ref.type) return null;
      // The queue form names the job by row for life; the pending form only until submitted.
      if (ref.queued) return job.queuedAt !== null && (job.pinnedEmail ?? QUEUE_EMAIL) === ref.email ? job : null;
      return job.queuedAt === null && job.email === ref.email ? job : null;
    }
    return this.ctx.store.findJob(userId, ref.email, ref.type, ref.upstreamId!);
  }

  /** DELETE /scheduler/{id}: stops tracking a slot-holding or queued job (freeing its slot). */
  async cancel(userId: number, ref: JobRef): Promise<Job | null> {
    const job = await this.findJob(userId, ref);
    if (!job || !(holdsSlot(job.state) || job.state === 'queued')) return null;
    const finished = await this.ctx.store.finish(job.id, { state: 'cancelled', error: 'cancelled by DELETE /scheduler' }, this.ctx.now(), {
      from: ['queued', 'submitting', 'running'],
    });
    if (finished) this.events.emit('final', finished);
    return finished;
  }

  /** Deletes an account; its running jobs are cancelled and their slots freed. */
  async deleteAccount(userId: number, email: string): Promise<Job[] | null> {
    const result = await this.ctx.store.deleteAccount(userId, email, this.ctx.now());
    if (!result) return null;
    for (const job of result.cancelled) this.events.emit('final', job);
    this.events.emit('account', userId, email);
    return result.cancelled;
  }
}
