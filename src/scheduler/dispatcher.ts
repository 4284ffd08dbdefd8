/**
 * Dispatcher: late binding. Whenever a slot frees, a job is queued or an account changes,
 * the tenant is marked and the loop asks the store to dispatch its next fair job onto a free
 * slot (the account is chosen now, not at submit). Each dispatch is one atomic store step, so
 * several instances may dispatch for the same tenant without overbooking. A backstop pass over
 * every tenant with queued jobs covers missed wake-ups (e.g. lost notifications).
 *
 * It runs on the claim loop: a claim is one dispatch batch of one marked tenant (the store binds
 * the jobs to slots, moving them to `submitting`), the work is each job's submit. A job no longer
 * `submitting` when its failed submit is recorded (cancelled, or taken over as an orphan) is
 * reported as a lost claim, like a lost lease.
 */
import type { Job } from '../domain/job.ts';
import type { Dispatched } from '../store/store.ts';
import type { SchedulerContext } from './context.ts';
import type { Launcher } from './launcher.ts';
import { ClaimLoop, type Claimed, type Lease } from '../workers/index.ts';
import { reportingTo } from './workerReports.ts';

/** Most jobs bound to slots in one store transaction. */
const DISPATCH_BATCH = 16;
/**
 * How long a new queued job of a stalled tenant waits for the next dispatch attempt. A stalled
 * tenant's last attempt bound nothing (typically every slot busy), so during a burst of creates an
 * attempt per create would be a write transaction that binds nothing; one per few milliseconds
 * keeps the event loop for the creates and for the freed slots, which are never delayed.
 */
const STALLED_ENQUEUE_DELAY_MS = 5;

export class Dispatcher {
  private readonly loop: ClaimLoop<Dispatched, number>;
  private readonly dirty = new Set<number>();
  /** Tenants known to have queued jobs; a freed slot of any other tenant needs no dispatch. */
  private readonly queued = new Set<number>();
  /** Tenants whose last dispatch attempt bound nothing, and no slot or account changed since. */
  private readonly stalled = new Set<number>();
  /** New queued jobs of stalled tenants, waiting for the coalescing timer. */
  private readonly deferred = new Set<number>();
  private deferTimer: NodeJS.Timeout | null = null;
  private lastBackstop = 0;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly launcher: Launcher,
  ) {
    this.loop = new ClaimLoop<Dispatched, number>({
      worker: 'dispatcher',
      key: (dispatched) => dispatched.job.id,
      // Submits are bounded by the free slots the store hands out, not by the loop.
      concurrency: Number.POSITIVE_INFINITY,
      claim: () => this.claim(),
      work: (dispatched, lease) => this.launch(dispatched, lease),
      errorBackoffMs: ctx.tuning.idleWakeMs,
      ...reportingTo(ctx, 'dispatcher loop error'),
    });
  }

  start(): void {
    if (this.loop.state !== 'idle' && this.loop.state !== 'stopped') return;
    this.lastBackstop = 0; // first pass picks up whatever was queued before a restart
    this.loop.start();
  }

  async stop(): Promise<void> {
    if (this.deferTimer) clearTimeout(this.deferTimer);
    this.deferTimer = null;
    // Waits for every submit in flight: one cut short would leave its job to the orphan sweep.
    await this.loop.stop();
  }

  /** The tenant may have a queued job that fits a slot now (a slot freed, an account changed). */
  poke(userId: number): void {
    this.stalled.delete(userId);
    this.queued.add(userId);
    this.dirty.add(userId);
    this.loop.wake();
  }

  /** A job was queued: dispatch at once, unless the tenant is stalled (then within a few ms). */
  jobQueued(userId: number): void {
    if (!this.stalled.has(userId)) {
      this.poke(userId);
      return;
    }
    this.queued.add(userId);
    this.deferred.add(userId);
    this.deferTimer ??= setTimeout(() => {
      this.deferTimer = null;
      for (const id of this.deferred) this.dirty.add(id);
      this.deferred.clear();
      this.loop.wake();
    }, STALLED_ENQUEUE_DELAY_MS);
  }

  /** A slot of the tenant freed: dispatch only if it has (or may have) queued work. */
  slotFreed(userId: number): void {
    // Whether or not anything waits now, the tenant is no longer stalled: its next queued job may
    // fit the free slot at once (and must not sit in the queue, counting against its bound).
    this.stalled.delete(userId);
    if (this.queued.has(userId)) this.poke(userId);
  }

  /**
   * One dispatch batch for the next marked tenant. A full batch marks the tenant again (more may
   * fit), behind the other marked tenants, so one tenant's burst does not hold the others back.
   */
  private async claim(): Promise<Claimed<Dispatched>> {
    const { tuning } = this.ctx;
    if (this.ctx.now() - this.lastBackstop >= tuning.idleWakeMs) {
      this.lastBackstop = this.ctx.now();
      const users = await this.ctx.store.queuedUsers();
      this.queued.clear();
      for (const userId of users) {
        this.queued.add(userId);
        this.dirty.add(userId);
      }
    }
    const next = this.dirty.values().next();
    if (next.done) return { items: [], sleepMs: tuning.idleWakeMs };
    const userId = next.value;
    this.dirty.delete(userId);
    this.stalled.delete(userId);
    // A batch takes the tenant's capacity lock once for many slots (a burst frees several).
    const batch = await this.ctx.store.dispatchBatch(userId, this.ctx.now(), DISPATCH_BATCH);
    // Nothing fitted: until a slot frees or an account changes (poke), new jobs can wait a little.
    // A poke that arrived during this attempt already marked the tenant dirty, so it is not lost.
    if (batch.length === 0 && !this.dirty.has(userId)) this.stalled.add(userId);
    if (batch.length === DISPATCH_BATCH) this.dirty.add(userId);
    for (const dispatched of batch) this.ctx.events.emit('dispatched', dispatched.job);
    return { items: batch, sleepMs: this.dirty.size > 0 ? 0 : tuning.idleWakeMs };
  }

  private async launch({ job, account }: Dispatched, lease: Lease): Promise<void> {
    const result = await this.launcher.launch(job, account);
    if (result.ok) return;
    const now = this.ctx.now();
    if (result.failure.tryAnother) {
      // The job chose to wait: a busy or failing account sends it back to the queue (that
      // account is cooling down or parked now), not to the client as an error.
      if (await lease.settle('requeue', () => this.ctx.store.requeue(job.id, now))) {
        this.ctx.events.emit('queued', job);
        this.poke(job.userId);
      }
      return;
    }
    const state = result.failure.error.outcome === 'moderation' ? 'moderated' : 'failed';
    const finished: Job | null = await lease.settle('finish', () =>
      this.ctx.store.finish(job.id, { state, error: result.failure.error.message }, now, {
        from: ['submitting'],
      }),
    );
    if (finished) this.ctx.events.emit('final', finished);
  }
}
