/**
 * Launches a job that already holds a slot (`submitting`): calls the provider and records the
 * upstream id. A submit whose outcome is unknown is retried only with the same trace id,
 * which the provider answers with the original id instead of starting a second paid job
 * (invariant 4). On failure the caller decides whether the slot is released or the job
 * goes back to the queue.
 */
import { EngineError } from '../domain/outcomes.ts';
import type { Account } from '../domain/account.ts';
import type { Job } from '../domain/job.ts';
import type { SchedulerContext } from './context.ts';
import { retryWhileUnavailable } from '../store/unavailable.ts';
import { nextPollAt } from '../domain/policy/pollSchedule.ts';
import { pollPolicyFor } from './webhookIntake.ts';
import { asUpstreamError, handleSubmitError, type SubmitFailure } from './submitErrors.ts';
import { UpstreamError } from './provider.ts';

export type LaunchResult = { ok: true; job: Job } | { ok: false; failure: SubmitFailure; cause: string };

export class Launcher {
  constructor(private readonly ctx: SchedulerContext) {}

  async launch(job: Job, account: Account): Promise<LaunchResult> {
    let apiKey: string;
    try {
      apiKey = this.ctx.keys.open(account);
    } catch {
      await this.ctx.store.setAccountHealth(account.userId, account.email, {
        state: 'error',
        reason: 'API key cannot be decrypted with the current master key',
        cooldownUntil: null,
        now: this.ctx.now(),
      });
      this.ctx.events.emit('account', account.userId, account.email);
      const error = new EngineError(
        'account_error',
        `Account ${account.email} in error state: API key cannot be decrypted; re-post the account`,
      );
      return {
        ok: false,
        failure: { error, tryAnother: true },
        cause: 'the account API key cannot be decrypted (was the master key changed?)',
      };
    }
    try {
      const upstreamId = await this.submitOnce(apiKey, job, account.webhookId);
      return { ok: true, job: await this.started(job, account, upstreamId) };
    } catch (err) {
      const upstreamError = asUpstreamError(err);
      this.ctx.log.warn(
        {
          jobId: job.id,
          email: account.email,
          errorClass: upstreamError.errorClass,
          err: upstreamError.message,
        },
        'submit failed',
      );
      const failure = await handleSubmitError(this.ctx, account, upstreamError);
      return { ok: false, failure, cause: `submit failed: ${upstreamError.message}` };
    }
  }

  private async submitOnce(apiKey: string, job: Job, webhookId: string | null): Promise<string> {
    try {
      return (await this.ctx.upstream.submit(apiKey, job.upstream, job.traceId, { webhookId })).upstreamId;
    } catch (err) {
      const upstreamError = asUpstreamError(err);
      if (!upstreamError.maybeSubmitted) throw upstreamError;
      this.ctx.log.warn(
        { jobId: job.id, traceId: job.traceId },
        'submit outcome unknown; replaying with the same trace id',
      );
      try {
        return (await this.ctx.upstream.submit(apiKey, job.upstream, job.traceId, { webhookId })).upstreamId;
      } catch (replayErr) {
        // The first attempt may have created the job, whatever became of the replay.
        const e = asUpstreamError(replayErr);
        throw e.maybeSubmitted
          ? e
          : new UpstreamError(e.errorClass, e.message, e.errCode, e.httpStatus, true);
      }
    }
  }

  private async started(job: Job, account: Account, upstreamId: string): Promise<Job> {
    const now = this.ctx.now();
    const firstPoll = nextPollAt(
      { startedAt: now, polls: 0, duration: this.ctx.estimator.belief(job) },
      pollPolicyFor(this.ctx, account, job),
      now,
    );
    const running = await retryWhileUnavailable(() =>
      this.ctx.store.markRunning(job.id, upstreamId, firstPoll, now),
    );
    if (running) {
      this.ctx.events.emit('running', running);
      return running;
    }
    // Cancelled while its submit was in flight (account deleted, DELETE /scheduler on its id): it
    // keeps that final state.
    return (await this.ctx.store.getJob(job.id)) ?? { ...job, upstreamId };
  }
}
