/**
 * Sweeper: ends jobs that ran past the time limit (freeing their slots) and reconciles
 * jobs left in `submitting` by a process that died mid-submit. Reconciliation replays the
 * create with the job's original trace id: the provider answers a repeated trace id with the
 * original job instead of starting (and billing) a second one (invariant 4).
 */
import type { Job } from '../domain/job.ts';
import { formatDuration } from '../domain/time.ts';
import type { SchedulerContext } from './context.ts';
import { firstPollDelay } from './pollSchedule.ts';
import { asUpstreamError } from './submitErrors.ts';
import { retryWhileUnavailable } from '../store/unavailable.ts';

/** Expired Idempotency-Keys deleted per statement; a pass repeats it until fewer come back. */
const EXPIRED_KEYS_BATCH = 1000;

export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** Submits started before this were started by an earlier process. */
  private readonly startedAt: number;

  constructor(private readonly ctx: SchedulerContext) {
    this.startedAt = ctx.now();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweep(), this.ctx.tuning.sweepEveryMs);
    this.timer.unref();
    void this.sweep();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass; overlapping calls share the pass in progress. */
  sweep(): Promise<void> {
    if (!this.running) {
      this.running = this.pass()
        .catch((err) => this.ctx.log.error({ err }, 'sweep failed'))
        .finally(() => {
          this.running = null;
        });
    }
    return this.running;
  }

  private async pass(): Promise<void> {
    const { store, tuning } = this.ctx;
    const now = this.ctx.now();
    // Orphans first: a submit that reached the provider becomes a tracked job again instead of
    // being timed out while the provider may still be running (and billing) it.
    // A store only this process opens (SQLite) had its earlier submits started by a process that is
    // gone: reconcile them at once. A shared store says which instances went silent.
    const stale = now - tuning.staleSubmitMs;
    const before = store.dialect === 'sqlite' ? Math.max(stale, this.startedAt) : stale;
    for (let round = 0; round < 10; round++) {
      const orphans = await store.claimStaleSubmitting(this.ctx.instanceId, before, now, tuning.leaseMs, 20, now - tuning.silentAfterMs);
      // In parallel: each reconcile is one upstream round trip, and a crash may leave many.
      await Promise.all(orphans.map((job) => this.reconcile(job)));
      if (orphans.length < 20) break;
    }
    const expired = await store.expireJobs(now - tuning.jobTimeoutMs, this.ctx.now(), `timed out: still running after ${formatDuration(tuning.jobTimeoutMs)}`);
    for (const job of expired) this.ctx.events.emit('final', job);
    const waitedTooLong = await store.expireQueued(this.ctx.now(), 'timed out: waited in the queue longer than the tenant allows');
    for (const job of waitedTooLong) this.ctx.events.emit('final', job);
    await this.ctx.creditWatch?.check();
    // Short batches: a pass after a day of heavy traffic never holds the write lock for long.
    let deleted = EXPIRED_KEYS_BATCH;
    while (deleted === EXPIRED_KEYS_BATCH) deleted = await store.deleteExpiredIdempotencyKeys(this.ctx.now(), EXPIRED_KEYS_BATCH);
  }

  private async reconcile(job: Job): Promise<void> {
    const { store, upstream, keys, estimator, tuning } = this.ctx;
    const fail = async (why: string) => {
      const finished = await store.finish(job.id, { state: 'failed', error: why }, this.ctx.now(), { from: ['submitting'], leaseToken: job.leaseToken ?? undefined });
      if (finished) this.ctx.events.emit('final', finished);
    };
    const account = job.email === null ? null : await store.getAccount(job.userId, job.email);
    if (!account) return fail('account deleted before the submission was confirmed');
    try {
      const { upstreamId } = await upstream.submit(keys.open(account), job.upstream, job.traceId);
      const now = this.ctx.now();
      const moved = await retryWhileUnavailable(() => store.markRunning(job.id, upstreamId, now + firstPollDelay(estimator.expected(job), tuning.poll), now));
      this.ctx.log.info({ jobId: job.id, upstreamId, moved }, 'reconciled a submit interrupted by a restart');
      if (moved) this.ctx.events.emit('running', (await store.getJob(job.id)) ?? job);
    } catch (err) {
      await fail(`submission could not be confirmed after a restart: ${asUpstreamError(err).message}`);
    }
  }
}
