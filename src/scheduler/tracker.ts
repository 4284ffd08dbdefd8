/**
 * Tracker: asks the provider about running jobs when their next poll is due, moves finished
 * ones to their terminal state with a compare-and-swap fenced by the poll lease
 * (invariant 3) and so frees their slot exactly once (invariant 2).
 *
 * Each poll claims the job with a short lease, so with several instances a job is polled
 * by one of them at a time and a dead instance's jobs are picked up after the lease expires.
 * The claim loop renews the leases of polls in flight; a lease found lost (renewal, fenced
 * reschedule or finish) is reported on the `leaseLost` event, which metrics count.
 */
import type { Job } from '../domain/job.ts';
import { ClaimLoop, type Claimed, type Lease } from '../workers/index.ts';
import { asUpstreamError } from './submitErrors.ts';
import type { SchedulerContext } from './context.ts';
import type { StatusResult } from './provider.ts';
import { outcomeOf } from './outcome.ts';
import { nextPollAt } from '../domain/policy/pollSchedule.ts';
import { pollPolicyFor } from './webhookIntake.ts';
import { reportingTo } from './workerReports.ts';

export class Tracker {
  private readonly loop: ClaimLoop<Job, number>;

  constructor(private readonly ctx: SchedulerContext) {
    const { tuning } = ctx;
    this.loop = new ClaimLoop<Job, number>({
      worker: 'tracker',
      key: (job) => job.id,
      concurrency: tuning.pollConcurrency,
      claim: (room) => this.claim(room),
      work: (job, lease) => this.pollOne(job, lease),
      // One timer renews every lease this process holds, so a slow poll never loses its job.
      renewal: {
        everyMs: Math.max(50, tuning.leaseMs / 2),
        renew: (ids) => ctx.store.renewLeases(ctx.instanceId, ids, ctx.now(), tuning.leaseMs),
      },
      release: () => ctx.store.releaseLeases(ctx.instanceId),
      errorBackoffMs: tuning.idleWakeMs,
      // After a lease's length the leases are void anyway; waiting longer only delays shutdown.
      stopDeadlineMs: tuning.leaseMs,
      ...reportingTo(ctx, 'tracker loop error'),
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Stops claiming, waits for in-flight polls, and releases leases for other instances. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Something changed (a job started or a poll ended): re-check what is due. */
  wake(): void {
    this.loop.wake();
  }

  private async claim(room: number): Promise<Claimed<Job>> {
    const { tuning } = this.ctx;
    // A cheap read first: claiming is a write transaction, wasted when nothing is due.
    const due = await this.ctx.store.nextPollDue();
    const wait = due === null ? null : due - this.ctx.now();
    if (room > 0 && wait !== null && wait <= 0) {
      const jobs = await this.ctx.store.claimDuePolls(
        this.ctx.instanceId,
        this.ctx.now(),
        tuning.leaseMs,
        room,
      );
      // Due but nothing claimed: another instance holds those leases; don't spin on them.
      return { items: jobs, sleepMs: jobs.length > 0 ? 0 : Math.min(tuning.idleWakeMs, 50) };
    }
    // No room: a finishing poll wakes us. Otherwise sleep until the next poll is due.
    const sleepMs =
      room <= 0 || wait === null ? tuning.idleWakeMs : Math.min(Math.max(wait, 0), tuning.idleWakeMs);
    // A due time in the past with no room still needs a positive sleep, or the loop would spin.
    return { items: [], sleepMs: Math.max(1, sleepMs) };
  }

  private async pollOne(job: Job, lease: Lease): Promise<void> {
    const { store, upstream, keys, estimator, provider } = this.ctx;
    const token = job.leaseToken!;
    const account = job.email === null ? null : await store.getAccount(job.userId, job.email);
    const now = () => this.ctx.now();
    const policy = pollPolicyFor(this.ctx, account, job);
    const later = (polls: number) =>
      nextPollAt(
        { startedAt: job.startedAt ?? now(), polls, duration: estimator.belief(job) },
        policy,
        now(),
      );
    const reschedule = (status: number | null) =>
      lease.settle('reschedule', () =>
        store.reschedulePoll(job.id, token, later(job.pollCount + 1), status, now()),
      );
    if (!account || !job.upstreamId) {
      await this.finalize(job, { state: 'failed', error: 'account no longer exists' }, lease);
      return;
    }
    let status: StatusResult;
    try {
      status = await upstream.status(keys.open(account), job.type, job.upstreamId);
    } catch (err) {
      const upstreamError = asUpstreamError(err);
      if (upstreamError.errorClass === 'not_found') {
        await this.finalize(
          job,
          { state: 'failed', error: `${provider.displayName} no longer knows this job` },
          lease,
        );
        return;
      }
      // Transient and account errors: keep the job, look again later with back-off.
      this.ctx.log.warn({ jobId: job.id, err: upstreamError.message }, 'status poll failed');
      await reschedule(job.upstreamStatus);
      return;
    }
    const outcome = outcomeOf(status, provider.displayName);
    if (!outcome) {
      await reschedule(status.code);
      return;
    }
    const finished = await this.finalize(job, outcome, lease);
    if (finished && outcome.state === 'completed') {
      estimator.observe(
        job,
        provider.reportedRunMs(status) ?? (finished.finishedAt ?? now()) - (job.startedAt ?? now()),
      );
    }
  }

  private async finalize(
    job: Job,
    outcome: Parameters<SchedulerContext['store']['finish']>[1],
    lease: Lease,
  ): Promise<Job | null> {
    const leaseToken = job.leaseToken!;
    const finished = await lease.settle('finish', () =>
      this.ctx.store.finish(job.id, outcome, this.ctx.now(), { leaseToken }),
    );
    if (finished) this.ctx.events.emit('final', finished);
    return finished;
  }
}
