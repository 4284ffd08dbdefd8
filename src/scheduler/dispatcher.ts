/**
 * Dispatcher: late binding. Whenever a slot frees, a job is queued or an account changes,
 * the tenant is marked and the loop asks the store to dispatch its next fair job onto a free
 * slot (the account is chosen now, not at submit). Each dispatch is one atomic store step, so
 * several instances may dispatch for the same tenant without overbooking. A backstop pass over
 * every tenant with queued jobs covers missed wake-ups (e.g. lost notifications).
 */
import type { Job } from '../domain/job.ts';
import type { Dispatched } from '../store/store.ts';
import type { SchedulerContext } from './context.ts';
import type { Launcher } from './launcher.ts';
import { Sleeper } from './sleeper.ts';

/** Most jobs bound to slots in one store transaction. */
const DISPATCH_BATCH = 16;

export class Dispatcher {
  private active = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly sleeper = new Sleeper();
  private readonly dirty = new Set<number>();
  /** Tenants known to have queued jobs; a freed slot of any other tenant needs no dispatch. */
  private readonly queued = new Set<number>();
  private readonly inFlight = new Set<Promise<void>>();
  private lastBackstop = 0;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly launcher: Launcher,
  ) {}

  start(): void {
    if (this.active) return;
    this.active = true;
    this.lastBackstop = 0; // first pass picks up whatever was queued before a restart
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.sleeper.wake();
    await this.loopDone;
    await Promise.allSettled(this.inFlight);
  }

  /** The tenant may have a queued job that fits a slot now. */
  poke(userId: number): void {
    this.queued.add(userId);
    this.dirty.add(userId);
    this.sleeper.wake();
  }

  /** A slot of the tenant freed: dispatch only if it has (or may have) queued work. */
  slotFreed(userId: number): void {
    if (this.queued.has(userId)) this.poke(userId);
  }

  private async loop(): Promise<void> {
    const { tuning } = this.ctx;
    while (this.active) {
      try {
        if (this.ctx.now() - this.lastBackstop >= tuning.idleWakeMs) {
          this.lastBackstop = this.ctx.now();
          const users = await this.ctx.store.queuedUsers();
          this.queued.clear();
          for (const userId of users) {
            this.queued.add(userId);
            this.dirty.add(userId);
          }
        }
        const tenants = [...this.dirty];
        this.dirty.clear();
        for (const userId of tenants) await this.drain(userId);
        if (this.dirty.size === 0) await this.sleeper.sleep(tuning.idleWakeMs);
      } catch (err) {
        this.ctx.log.error({ err }, 'dispatcher loop error');
        await this.sleeper.sleep(tuning.idleWakeMs);
      }
    }
  }

  /** Dispatches until nothing queued fits a free slot; submits run concurrently. */
  private async drain(userId: number): Promise<void> {
    while (this.active) {
      // A batch takes the tenant's capacity lock once for many slots (a burst frees several).
      const batch = await this.ctx.store.dispatchBatch(userId, this.ctx.now(), DISPATCH_BATCH);
      for (const dispatched of batch) {
        const launch = this.launch(dispatched).finally(() => this.inFlight.delete(launch));
        this.inFlight.add(launch);
      }
      if (batch.length < DISPATCH_BATCH) return;
    }
  }

  private async launch({ job, account }: Dispatched): Promise<void> {
    const result = await this.launcher.launch(job, account);
    if (result.ok) return;
    const now = this.ctx.now();
    if (result.failure.tryAnother) {
      // The job chose to wait: a busy or failing account sends it back to the queue (that
      // account is cooling down or parked now), not to the client as an error.
      if (await this.ctx.store.requeue(job.id, now)) this.poke(job.userId);
      return;
    }
    const state = result.failure.error.status === 422 ? 'moderated' : 'failed';
    const finished: Job | null = await this.ctx.store.finish(job.id, { state, error: result.failure.error.message }, now, { from: ['submitting'] });
    if (finished) this.ctx.events.emit('final', finished);
  }
}
