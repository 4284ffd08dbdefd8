/**
 * Tracker: asks the provider about running jobs when their next poll is due, moves finished
 * ones to their terminal state with a compare-and-swap fenced by the poll lease
 * (invariant 3) and so frees their slot exactly once (invariant 2).
 *
 * Each poll claims the job with a short lease, so with several instances a job is polled
 * by one of them at a time and a dead instance's jobs are picked up after the lease expires.
 */
import type { Job } from '../domain/job.ts';
import { asUpstreamError } from './submitErrors.ts';
import type { SchedulerContext } from './context.ts';
import { outcomeOf } from './outcome.ts';
import { nextPollDelay } from './pollSchedule.ts';
import { pollPolicyFor } from './webhookIntake.ts';
import { Sleeper } from './sleeper.ts';

export class Tracker {
  private active = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly sleeper = new Sleeper();
  private readonly inFlight = new Map<number, Promise<void>>();
  private renewTimer: NodeJS.Timeout | null = null;

  constructor(private readonly ctx: SchedulerContext) {}

  start(): void {
    if (this.active) return;
    this.active = true;
    this.loopDone = this.loop();
    // One timer renews every lease this process holds, so a slow poll never loses its job.
    this.renewTimer = setInterval(() => void this.renew(), Math.max(50, this.ctx.tuning.leaseMs / 2));
    this.renewTimer.unref();
  }

  /** Stops claiming, waits for in-flight polls, and releases leases for other instances. */
  async stop(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.sleeper.wake();
    await this.loopDone;
    await Promise.allSettled(this.inFlight.values());
    if (this.renewTimer) clearInterval(this.renewTimer);
    await this.ctx.store.releaseLeases(this.ctx.instanceId);
  }

  /** Something changed (a job started or a poll ended): re-check what is due. */
  wake(): void {
    this.sleeper.wake();
  }

  private async loop(): Promise<void> {
    const { tuning } = this.ctx;
    while (this.active) {
      try {
        const room = tuning.pollConcurrency - this.inFlight.size;
        // A cheap read first: claiming is a write transaction, wasted when nothing is due.
        const due = await this.ctx.store.nextPollDue();
        const wait = due === null ? null : due - this.ctx.now();
        if (room > 0 && wait !== null && wait <= 0) {
          const jobs = await this.ctx.store.claimDuePolls(this.ctx.instanceId, this.ctx.now(), tuning.leaseMs, room);
          for (const job of jobs) this.launch(job);
          if (jobs.length > 0) continue;
          // Due but nothing claimed: another instance holds those leases; don't spin on them.
          await this.sleeper.sleep(Math.min(tuning.idleWakeMs, 50));
          continue;
        }
        // No room: a finishing poll wakes us. Otherwise sleep until the next poll is due.
        await this.sleeper.sleep(room <= 0 || wait === null ? tuning.idleWakeMs : Math.min(Math.max(wait, 0), tuning.idleWakeMs));
      } catch (err) {
        this.ctx.log.error({ err }, 'tracker loop error');
        await this.sleeper.sleep(tuning.idleWakeMs);
      }
    }
  }

  private launch(job: Job): void {
    const done = this.pollOne(job)
      .catch((err) => this.ctx.log.error({ err, jobId: job.id }, 'poll failed'))
      .finally(() => {
        this.inFlight.delete(job.id);
        this.sleeper.wake();
      });
    this.inFlight.set(job.id, done);
  }

  private async pollOne(job: Job): Promise<void> {
    const { store, upstream, keys, estimator, provider } = this.ctx;
    const lease = job.leaseToken!;
    const account = job.email === null ? null : await store.getAccount(job.userId, job.email);
    const now = () => this.ctx.now();
    const policy = pollPolicyFor(this.ctx, account, job);
    const later = (count: number) => now() + nextPollDelay(count, estimator.expected(job), policy);
    if (!account || !job.upstreamId) {
      await this.finalize(job, { state: 'failed', error: 'account no longer exists' }, lease);
      return;
    }
    let status;
    try {
      status = await upstream.status(keys.open(account), job.type, job.upstreamId);
    } catch (err) {
      const upstreamError = asUpstreamError(err);
      if (upstreamError.errorClass === 'not_found') {
        await this.finalize(job, { state: 'failed', error: `${provider.displayName} no longer knows this job` }, lease);
        return;
      }
      // Transient and account errors: keep the job, look again later with back-off.
      this.ctx.log.warn({ jobId: job.id, err: upstreamError.message }, 'status poll failed');
      await store.reschedulePoll(job.id, lease, later(job.pollCount + 1), job.upstreamStatus, now());
      return;
    }
    const outcome = outcomeOf(status, provider.displayName);
    if (!outcome) {
      await store.reschedulePoll(job.id, lease, later(job.pollCount + 1), status.code, now());
      return;
    }
    const finished = await this.finalize(job, outcome, lease);
    if (finished && outcome.state === 'completed') {
      estimator.observe(job, provider.reportedRunMs(status) ?? (finished.finishedAt ?? now()) - (job.startedAt ?? now()));
    }
  }

  private async finalize(job: Job, outcome: Parameters<SchedulerContext['store']['finish']>[1], leaseToken: string): Promise<Job | null> {
    const finished = await this.ctx.store.finish(job.id, outcome, this.ctx.now(), { leaseToken });
    if (finished) this.ctx.events.emit('final', finished);
    return finished;
  }

  private async renew(): Promise<void> {
    if (this.inFlight.size === 0) return;
    try {
      await this.ctx.store.renewLeases(this.ctx.instanceId, [...this.inFlight.keys()], this.ctx.now(), this.ctx.tuning.leaseMs);
    } catch (err) {
      this.ctx.log.warn({ err }, 'lease renewal failed');
    }
  }
}
