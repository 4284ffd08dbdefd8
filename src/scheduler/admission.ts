/**
 * Admission: choose an account, reserve its slot atomically in the store (invariant 1),
 * then call PixVerse. The slot is released at once when the submit fails (invariant 2),
 * and a submit whose outcome is unknown is retried only with the same Ai-trace-id,
 * which PixVerse answers with the original id instead of starting a second paid job (invariant 4).
 */
import { randomUUID } from 'node:crypto';
import { GatewayError } from '../domain/errors.ts';
import type { Job, JobType, Json, UpstreamRequest } from '../domain/job.ts';
import type { ReserveResult } from '../store/store.ts';
import type { SchedulerContext } from './context.ts';
import { firstPollDelay } from './pollSchedule.ts';
import { asUpstreamError, handleSubmitError } from './submitErrors.ts';

export interface SubmitInput {
  userId: number;
  tokenId: number | null;
  email: string | null;
  maxJobs: number | null;
  type: JobType;
  upstream: UpstreamRequest;
  request: { [key: string]: Json };
  replyUrl: string | null;
  replyRef: string | null;
}

/** Accounts tried for one unpinned request before giving up. */
const MAX_ATTEMPTS = 3;

export class Admission {
  constructor(private readonly ctx: SchedulerContext) {}

  async submit(input: SubmitInput): Promise<Job> {
    let lastError: GatewayError | null = null;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const reserved = await this.ctx.store.reserve({ ...input, maxJobsOverride: input.maxJobs, traceId: randomUUID(), now: this.ctx.now() });
      if (!reserved.ok) throw lastError ?? (await this.refusal(reserved, input.userId));
      const { job, account } = reserved;
      let apiKey: string;
      try {
        apiKey = this.ctx.keys.open(account);
      } catch {
        await this.release(job, 'the account API key cannot be decrypted (was the master key changed?)');
        await this.ctx.store.setAccountHealth(account.userId, account.email, {
          state: 'error',
          reason: 'API key cannot be decrypted with the current master key',
          cooldownUntil: null,
          now: this.ctx.now(),
        });
        throw new GatewayError(596, `Account ${account.email} in error state: API key cannot be decrypted; re-post the account`);
      }
      try {
        const submitted = await this.submitOnce(apiKey, job);
        return await this.started(job, submitted);
      } catch (err) {
        const upstreamError = asUpstreamError(err);
        await this.release(job, `submit failed: ${upstreamError.message}`);
        const failure = await handleSubmitError(this.ctx, account, upstreamError);
        this.ctx.log.warn({ email: account.email, errorClass: upstreamError.errorClass, err: upstreamError.message }, 'submit failed');
        if (!failure.tryAnother || input.email !== null) throw failure.error;
        lastError = failure.error;
      }
    }
    throw lastError ?? new GatewayError(429, 'All configured accounts are busy (maxJobs reached)', 5);
  }

  /** One create call; an ambiguous transport failure is retried once with the same trace id. */
  private async submitOnce(apiKey: string, job: Job): Promise<string> {
    try {
      return (await this.ctx.upstream.submit(apiKey, job.upstream, job.traceId)).upstreamId;
    } catch (err) {
      const upstreamError = asUpstreamError(err);
      if (!upstreamError.maybeSubmitted) throw upstreamError;
      this.ctx.log.warn({ jobId: job.id, traceId: job.traceId }, 'submit outcome unknown; replaying with the same trace id');
      return (await this.ctx.upstream.submit(apiKey, job.upstream, job.traceId)).upstreamId;
    }
  }

  private async started(job: Job, upstreamId: string): Promise<Job> {
    const now = this.ctx.now();
    const nextPollAt = now + firstPollDelay(this.ctx.estimator.expected(job), this.ctx.tuning.poll);
    const moved = await this.ctx.store.markRunning(job.id, upstreamId, nextPollAt, now);
    const current = (await this.ctx.store.getJob(job.id)) ?? { ...job, upstreamId };
    // `moved` is false when the job was cancelled while its submit was in flight
    // (account deleted, DELETE /scheduler on its pending id); it keeps that final state.
    if (moved) this.ctx.events.emit('running', current);
    return current;
  }

  private async release(job: Job, error: string): Promise<void> {
    await this.ctx.store.finish(job.id, { state: 'failed', error }, this.ctx.now(), { from: ['submitting'] });
  }

  private async refusal(result: Extract<ReserveResult, { ok: false }>, userId: number): Promise<GatewayError> {
    const now = this.ctx.now();
    switch (result.reason) {
      case 'no_accounts':
        return new GatewayError(404, 'No PixVerse account configured. To add one use POST /accounts/{email}.');
      case 'unknown_account':
        return new GatewayError(404, 'Account not found. To add it use POST /accounts/{email}.');
      case 'account_full':
        return new GatewayError(429, `Account ${result.account.email} is busy (maxJobs ${result.account.maxJobs} reached)`, await this.retryAfter(userId, result.account.email));
      case 'account_unhealthy': {
        const { account } = result;
        if (account.state === 'cooldown') {
          const wait = Math.max(1, Math.ceil(((account.cooldownUntil ?? now) - now) / 1000));
          return new GatewayError(429, `Account ${account.email} is cooling down: ${account.reason ?? 'upstream back-off'}`, wait);
        }
        return new GatewayError(596, `Account ${account.email} in error state: ${account.reason ?? 'unknown error'}. Re-post the account to clear it.`);
      }
      case 'none_free':
        return new GatewayError(429, 'All configured accounts are busy (maxJobs reached)', await this.retryAfter(userId, null));
    }
  }

  /** Seconds until the earliest running job is expected to finish (1…300). */
  async retryAfter(userId: number, email: string | null): Promise<number> {
    const now = this.ctx.now();
    let earliest = Infinity;
    for (const job of await this.ctx.store.activeJobs(userId)) {
      if (email !== null && job.email !== email) continue;
      earliest = Math.min(earliest, (job.startedAt ?? now) + this.ctx.estimator.expected(job) - now);
    }
    if (!Number.isFinite(earliest)) return 5;
    return Math.min(300, Math.max(1, Math.ceil(earliest / 1000)));
  }
}
