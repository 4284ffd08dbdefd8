/**
 * Sweeper: ends jobs that ran past the time limit (their slots freed once the provider ends them:
 * heldSlots.ts) and reconciles
 * jobs left in `submitting` by a process that died mid-submit. Reconciliation replays the
 * create with the job's original trace id: the provider answers a repeated trace id with the
 * original job instead of starting (and billing) a second one (invariant 4).
 *
 * Reconciliation runs on the claim loop, one bounded pass per sweep: the orphans it claims are
 * leased to this instance, the leases are renewed while the replays are in flight (a slow upstream
 * must not let a second instance reconcile the same job), and a job found no longer ours when its
 * outcome is recorded is reported as a lost lease.
 */
import type { Job } from '../domain/job.ts';
import { formatDuration } from '../domain/time.ts';
import type { SchedulerContext } from './context.ts';
import { nextPollAt } from '../domain/policy/pollSchedule.ts';
import { asUpstreamError } from './submitErrors.ts';
import { retryWhileUnavailable } from '../store/unavailable.ts';
import { ClaimLoop, type Claimed, type Lease } from '../workers/index.ts';
import { reportingTo } from './workerReports.ts';
import { releaseHeldSlots } from './heldSlots.ts';

/** Failures that say nothing about the job itself, so reconciling it is tried again later. */
const NO_ANSWER_YET: ReadonlySet<string> = new Set(['transient', 'rate_limit', 'concurrency_limit']);

/** Expired Idempotency-Keys deleted per statement; a pass repeats it until fewer come back. */
const EXPIRED_KEYS_BATCH = 1000;
/** Orphans claimed per round, and rounds per pass (a crash may leave many; each is one upstream round trip). */
const RECONCILE_BATCH = 20;
const RECONCILE_ROUNDS = 10;

export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** Submits started before this were started by an earlier process. */
  private readonly startedAt: number;
  private readonly reconciler: ClaimLoop<Job, number>;

  constructor(private readonly ctx: SchedulerContext) {
    this.startedAt = ctx.now();
    const { tuning } = ctx;
    this.reconciler = new ClaimLoop<Job, number>({
      worker: 'reconciler',
      key: (job) => job.id,
      concurrency: RECONCILE_BATCH,
      claim: (room) => this.claimOrphans(room),
      work: (job, lease) => this.reconcile(job, lease),
      renewal: {
        everyMs: Math.max(50, tuning.leaseMs / 2),
        renew: (ids) => ctx.store.renewLeases(ctx.instanceId, ids, ctx.now(), tuning.leaseMs),
      },
      errorBackoffMs: tuning.idleWakeMs,
      ...reportingTo(ctx, 'reconciliation claim failed'),
    });
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
    await this.reconciler.drain(RECONCILE_ROUNDS);
    // A timed-out job the provider accepted keeps its slot until the provider ends it, at most
    // another job timeout (twice the timeout since it started): see heldSlots.ts.
    const expired = await store.expireJobs(
      now - tuning.jobTimeoutMs,
      this.ctx.now(),
      `timed out: still running after ${formatDuration(tuning.jobTimeoutMs)}`,
      this.ctx.now() + tuning.jobTimeoutMs,
    );
    for (const job of expired) this.ctx.events.emit('final', job);
    await releaseHeldSlots(this.ctx);
    const waitedTooLong = await store.expireQueued(
      this.ctx.now(),
      'timed out: waited in the queue longer than the tenant allows',
    );
    for (const job of waitedTooLong) this.ctx.events.emit('final', job);
    await this.ctx.creditWatch?.check();
    // Short batches: a pass after a day of heavy traffic never holds the write lock for long.
    let deleted = EXPIRED_KEYS_BATCH;
    while (deleted === EXPIRED_KEYS_BATCH)
      deleted = await store.deleteExpiredIdempotencyKeys(this.ctx.now(), EXPIRED_KEYS_BATCH);
  }

  private async claimOrphans(room: number): Promise<Claimed<Job>> {
    const { store, tuning } = this.ctx;
    const now = this.ctx.now();
    // A store only this process opens (SQLite) had its earlier submits started by a process that is
    // gone: reconcile them at once. A shared store says which instances went silent.
    const stale = now - tuning.staleSubmitMs;
    const before = store.dialect === 'sqlite' ? Math.max(stale, this.startedAt) : stale;
    const orphans = await store.claimStaleSubmitting(
      this.ctx.instanceId,
      before,
      now,
      tuning.leaseMs,
      room,
      now - tuning.silentAfterMs,
    );
    // A short round means nothing more is stale now: the pass ends (sleepMs > 0).
    return { items: orphans, sleepMs: orphans.length < room ? tuning.sweepEveryMs : 0 };
  }

  private async reconcile(job: Job, lease: Lease): Promise<void> {
    const { store, upstream, keys, estimator, tuning } = this.ctx;
    const fail = async (why: string) => {
      const finished = await lease.settle('finish', () =>
        store.finish(job.id, { state: 'failed', error: why }, this.ctx.now(), {
          from: ['submitting'],
          leaseToken: job.leaseToken ?? undefined,
        }),
      );
      if (finished) this.ctx.events.emit('final', finished);
    };
    const account = job.email === null ? null : await store.getAccount(job.userId, job.email);
    if (!account) return fail('account deleted before the submission was confirmed');
    try {
      const { upstreamId } = await upstream.submit(keys.open(account), job.upstream, job.traceId);
      const now = this.ctx.now();
      const moved = await lease.settle('mark running', () =>
        retryWhileUnavailable(() =>
          store.markRunning(
            job.id,
            upstreamId,
            nextPollAt({ startedAt: now, polls: 0, duration: estimator.belief(job) }, tuning.poll, now),
            now,
          ),
        ),
      );
      this.ctx.log.info(
        { jobId: job.id, upstreamId, moved: moved !== null },
        'reconciled a submit interrupted by a restart',
      );
      if (moved) this.ctx.events.emit('running', moved);
    } catch (err) {
      const upstreamError = asUpstreamError(err);
      if (NO_ANSWER_YET.has(upstreamError.errorClass)) {
        // No word about the job (timeout, 5xx, busy account): it stays `submitting` with its slot,
        // and once this claim's lease lapses a later pass replays the same trace id. Failing it here
        // dropped jobs a loaded upstream would have accepted; the job timeout bounds the wait.
        this.ctx.log.warn(
          { jobId: job.id, err: upstreamError.message },
          'reconciling an interrupted submit failed; will retry',
        );
        return;
      }
      await fail(`submission could not be confirmed after a restart: ${upstreamError.message}`);
    }
  }
}
