/**
 * The engine's front door: wires admission, tracker and sweeper around one store and one
 * upstream, and offers the operations the HTTP layer needs. Knows nothing of HTTP or SQL.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { EngineError } from '../domain/outcomes.ts';
import type { Job } from '../domain/job.ts';
import { occupiesSlot } from '../domain/job.ts';
import { QUEUE_EMAIL, type JobRef } from '../domain/ids.ts';
import type { SecretBox } from '../security/secretBox.ts';
import type { JobListFilter, JobPage, Store, User } from '../store/store.ts';
import type { Provider, Upstream } from './provider.ts';
import { AccountKeys } from './accountKeys.ts';
import { Admission, type SubmitInput } from './admission.ts';
import { Dispatcher } from './dispatcher.ts';
import { Launcher } from './launcher.ts';
import type { SchedulerContext, SchedulerTuning } from './context.ts';
import { DurationEstimator } from './durationEstimator.ts';
import { SchedulerEvents } from './events.ts';
import { DEFAULT_POLL_POLICY } from '../domain/policy/pollSchedule.ts';
import { ChangeFeed } from './changeFeed.ts';
import { ViewCache } from './viewCache.ts';
import { CreditWatch } from './creditWatch.ts';
import { Sweeper } from './sweeper.ts';
import { Heartbeat } from './heartbeat.ts';
import { slotFreeTimes } from './queueEstimate.ts';
import { dispatchOrder } from '../domain/policy/queueOrder.ts';
import { startTimes } from '../domain/policy/estimates.ts';
import { ShortCache } from './snapshotCache.ts';

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
  // Beat every second, dead after five: a stalled event loop or a slow store round trip must not
  // make a live instance look dead (which costs a harmless same-trace-id replay), while a dead
  // one's submits come back within seconds plus one sweep.
  heartbeatMs: 1_000,
  silentAfterMs: 5_000,
  creditCheckEveryMs: 5 * 60_000,
  idempotencyTtlMs: 24 * 60 * 60_000,
  poll: DEFAULT_POLL_POLICY,
};

export interface SchedulerOptions {
  store: Store;
  provider: Provider;
  /** The provider's client, built with `provider.connect` (the gateway wraps it in metrics first). */
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
  private readonly heartbeat: Heartbeat;
  private readonly webhooks: WebhookIntake;

  constructor(options: SchedulerOptions) {
    this.keys = new AccountKeys(options.secretBox);
    this.views = new ViewCache(this.changes, options.viewMaxAgeMs ?? 60_000);
    this.ctx = {
      // Writes through the scheduler's store bump the change feed that read caches follow.
      store: this.changes.watch(options.store),
      provider: options.provider,
      upstream: options.upstream,
      keys: this.keys,
      estimator: new DurationEstimator(options.expectedDurationMs ?? null, options.provider),
      events: this.events,
      log: options.log,
      now: options.now ?? Date.now,
      tuning: {
        ...DEFAULT_TUNING,
        ...options.tuning,
        poll: { ...DEFAULT_TUNING.poll, ...options.tuning?.poll },
      },
      instanceId: `${process.pid}-${randomUUID().slice(0, 8)}`,
    };
    this.ctx.creditWatch = new CreditWatch(this.ctx, this.ctx.tuning.creditCheckEveryMs, (userId) =>
      this.capacityChanged(userId),
    );
    const launcher = new Launcher(this.ctx);
    this.dispatcher = new Dispatcher(this.ctx, launcher);
    this.admission = new Admission(
      this.ctx,
      launcher,
      (job) => {
        this.events.emit('queued', job);
        this.dispatcher.jobQueued(job.userId);
      },
      (userId) => this.user(userId),
    );
    this.tracker = new Tracker(this.ctx);
    this.sweeper = new Sweeper(this.ctx);
    this.heartbeat = new Heartbeat(this.ctx);
    this.webhooks = new WebhookIntake(this.ctx, () => this.tracker.wake());
    // A newly running job may be due sooner than the tracker's current sleep.
    this.events.on('running', () => this.tracker.wake());
    // A freed slot is refilled from the queue at once (if the tenant has anything queued).
    this.events.on('final', (job) => this.dispatcher.slotFreed(job.userId));
    this.events.on('slotReleased', (job) => this.capacityChanged(job.userId));
  }

  get store(): Store {
    return this.ctx.store;
  }

  start(): void {
    this.heartbeat.start();
    this.tracker.start();
    this.sweeper.start();
    this.dispatcher.start();
  }

  /** Stops claiming work, lets in-flight submits and polls finish, releases leases. */
  async stop(): Promise<void> {
    await this.dispatcher.stop();
    await this.sweeper.stop();
    await this.tracker.stop();
    this.heartbeat.stop();
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
  async upstreamWebhook(
    header: (name: string) => string | undefined,
    rawBody: string,
  ): Promise<WebhookOutcome> {
    const outcome = await this.webhooks.receive(header, rawBody);
    this.events.emit('webhook', outcome);
    return outcome;
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

  /** A tenant's settings changed: the next read sees them, not a cached copy. */
  forgetUser(userId: number): void {
    this.users.delete(userId);
  }

  submit(input: SubmitInput): Promise<Job> {
    return this.admission.submit(input);
  }

  /** The tenant's queue in expected dispatch order with estimated start times (first `limit` jobs). */
  async queueSnapshot(userId: number, limit = 1000): Promise<QueueSnapshot> {
    const { store, estimator } = this.ctx;
    const [queued, turns, total, slots] = await Promise.all([
      store.queuedJobs(userId, limit),
      store.queueTurns(userId),
      store.countQueued(userId),
      slotFreeTimes(this.ctx, userId),
    ]);
    // The dispatcher's own rule from the stored passes, so positions follow the real turns.
    const order = dispatchOrder(queued, turns);
    const expected = order.length > 0 ? estimator.expected(order[0]!) : 0;
    const starts = startTimes(slots, order.length, expected, this.ctx.now());
    return {
      total,
      items: order.map((job, index) => ({ job, position: index + 1, estimatedStart: starts[index]! })),
    };
  }

  /** Snapshots behind queuePlace, reused for half a second (positions are estimates anyway). */
  private readonly places = new ShortCache<QueueSnapshot>(500, () => this.ctx.now());

  /** Position and estimated start of one queued job, as fields of its GET view. */
  async queuePlace(
    userId: number,
    jobId: number,
  ): Promise<{ queue_position: number | null; queue_eta: string | null }> {
    const snapshot = await this.places.get(userId, () => this.queueSnapshot(userId));
    const item = snapshot.items.find((entry) => entry.job.id === jobId);
    if (!item) return { queue_position: null, queue_eta: null };
    const eta = Number.isFinite(item.estimatedStart) ? new Date(item.estimatedStart).toISOString() : null;
    return { queue_position: item.position, queue_eta: eta };
  }

  /** Runs a sweep now (timeouts, orphaned submits); used at start-up and by tests. */
  sweep(): Promise<void> {
    return this.sweeper.sweep();
  }

  /** Finds a tenant's job by its public id (deleted jobs are gone); 403 when the id names another tenant. */
  async findJob(userId: number, ref: JobRef): Promise<Job | null> {
    const job = await this.lookup(userId, ref);
    return job && job.deletedAt === null ? job : null;
  }

  private async lookup(userId: number, ref: JobRef): Promise<Job | null> {
    if (ref.userId !== userId)
      throw new EngineError('forbidden', `Unauthorized access to user:${ref.userId} detected`);
    if (ref.rowId !== null) {
      const job = await this.ctx.store.getJob(ref.rowId);
      if (!job || job.userId !== userId || job.type !== ref.type || job.provider !== ref.provider)
        return null;
      // The queue form names the job by row for life; the pending form only until submitted.
      if (ref.queued)
        return job.queuedAt !== null && (job.pinnedEmail ?? QUEUE_EMAIL) === ref.email ? job : null;
      return job.queuedAt === null && job.email === ref.email ? job : null;
    }
    // The tail is the provider's to read: a tail that cannot be one of its ids names no job.
    if (ref.provider !== this.ctx.provider.id || ref.upstreamId === null) return null;
    const upstreamId = this.ctx.provider.parseIdTail(ref.upstreamId);
    return upstreamId === null ? null : this.ctx.store.findJob(userId, ref.email, ref.type, upstreamId);
  }

  /**
   * DELETE /scheduler/{id}. A job in flight is untracked: its slot is freed at once, but the
   * provider goes on (the engine has no upstream cancel), so the job keeps being polled without a slot and its
   * result stays readable; its end is called back only with `callback`. A job still waiting in
   * the queue was never sent, so it is cancelled. Null when the id is not tracked.
   */
  async untrack(
    userId: number,
    ref: JobRef,
    callback = false,
  ): Promise<{ job: Job; action: 'untracked' | 'cancelled' } | null> {
    const job = await this.findJob(userId, ref);
    if (!job) return null;
    if (job.state === 'queued') {
      const cancelled = await this.cancelQueued(job);
      return cancelled ? { job: cancelled, action: 'cancelled' } : null;
    }
    const untracked = await this.ctx.store.untrackJob(job.id, this.ctx.now(), callback);
    if (!untracked) return null;
    this.capacityChanged(userId);
    return { job: untracked, action: 'untracked' };
  }

  private async cancelQueued(job: Job): Promise<Job | null> {
    const finished = await this.ctx.store.finish(
      job.id,
      { state: 'cancelled', error: 'cancelled by DELETE before it started' },
      this.ctx.now(),
      {
        from: ['queued'],
      },
    );
    if (finished) this.events.emit('final', finished);
    return finished;
  }

  /**
   * DELETE /videos|images/{id}: hides the job from lists and reads; a job in flight is untracked
   * (no callback), a queued one cancelled. The provider keeps its copy: the engine has no upstream delete.
   */
  async deleteJob(
    userId: number,
    ref: JobRef,
  ): Promise<{ job: Job; action: 'deleted' | 'untracked' | 'cancelled' } | null> {
    const job = await this.findJob(userId, ref);
    if (!job) return null;
    // Hidden first: the outbox builder sends nothing for a hidden job, so a cancel or an end
    // observed from here on is not called back.
    const hidden = await this.ctx.store.hideJob(job.id, this.ctx.now());
    if (!hidden) return null;
    if (hidden.state === 'queued') {
      const cancelled = await this.cancelQueued(hidden);
      if (cancelled) return { job: cancelled, action: 'cancelled' };
    }
    if (occupiesSlot(hidden)) {
      const untracked = await this.ctx.store.untrackJob(hidden.id, this.ctx.now(), false);
      if (untracked) {
        this.capacityChanged(userId);
        return { job: untracked, action: 'untracked' };
      }
    }
    return { job: hidden, action: 'deleted' };
  }

  /** GET /videos|images|music: the tenant's own records, newest first. */
  listJobs(userId: number, filter: JobListFilter): Promise<JobPage> {
    return this.ctx.store.listJobs(userId, filter);
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
