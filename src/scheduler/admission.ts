/**
 * Admission: choose an account and reserve its slot atomically in the store (invariant 1)
 * before the provider is called, or — when the caller opts into waiting — put the job in the
 * queue for the dispatcher. A failed immediate submit releases the slot at once (invariant 2).
 */
import { randomUUID } from 'node:crypto';
import { EngineError } from '../domain/outcomes.ts';
import type { Job, JobType, Json, UpstreamRequest } from '../domain/job.ts';
import type { EnqueueResult, IdempotencyClaim, ReserveResult, User } from '../store/store.ts';
import type { SchedulerContext } from './context.ts';
import type { Launcher } from './launcher.ts';
import { estimateWaitMs, slotFreeTimes } from './queueEstimate.ts';
import { queueRank } from '../domain/policy/queueOrder.ts';
import { retryAfterSeconds } from '../domain/policy/estimates.ts';

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
  /** Wait in the queue instead of a 429 (null: the tenant's default). */
  queue?: boolean | null;
  priority?: number;
  /** Claimed with the job, in the same transaction (see Store.reserve/enqueue). */
  idempotency?: IdempotencyClaim;
  /** Told which job holds the key each time a claim commits (a retry on another account moves it). */
  onKeyClaimed?: (jobId: number) => void;
}

/**
 * Another request holds the create's Idempotency-Key (it claimed it first, possibly a moment ago
 * on another instance). Nothing was created; the caller answers from that request's record.
 */
export class IdempotencyKeyTaken extends Error {
  constructor() {
    super('Idempotency-Key already in use');
  }
}

/** Accounts tried for one unpinned request before giving up. */
const MAX_ATTEMPTS = 3;
/**
 * How long the expected end of the earliest running job is reused for Retry-After. Computing it reads
 * every running job of the tenant; a client hammering a full gateway would pay that on every 429,
 * while the answer, in whole seconds, hardly moves within a quarter of a second.
 */
const RETRY_AFTER_REUSE_MS = 250;

export class Admission {
  constructor(
    private readonly ctx: SchedulerContext,
    private readonly launcher: Launcher,
    private readonly onQueued: (job: Job) => void,
    private readonly userOf: (userId: number) => Promise<User | null>,
  ) {}

  /** Per tenant and account (or '' for any): when the earliest running job should end, and when that was read. */
  private readonly earliestEnds = new Map<string, { readAt: number; endsAt: number }>();

  async submit(input: SubmitInput): Promise<Job> {
    const user = await this.userOf(input.userId);
    if (input.queue ?? user?.queueByDefault ?? false) return this.enqueue(input, user?.maxQueueLength ?? 0);
    return this.submitNow(input);
  }

  private async enqueue(input: SubmitInput, maxQueueLength: number): Promise<Job> {
    const now = this.ctx.now();
    const rank = queueRank(now, this.ctx.estimator.expected(input));
    const result = await this.ctx.store.enqueue(
      {
        ...input,
        provider: this.ctx.provider.id,
        maxJobsOverride: input.maxJobs,
        traceId: randomUUID(),
        priority: input.priority ?? 0,
        queueRank: rank,
        now,
      },
      maxQueueLength,
    );
    if (!result.ok) throw await this.queueRefusal(result, input);
    if (input.idempotency) input.onKeyClaimed?.(result.job.id);
    this.onQueued(result.job);
    return result.job;
  }

  private async submitNow(input: SubmitInput): Promise<Job> {
    let lastError: EngineError | null = null;
    let keyHolder: number | null = null;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // A retry on another account moves the key to the new job rather than claiming it again.
      const idempotency =
        input.idempotency &&
        (keyHolder === null ? input.idempotency : { ...input.idempotency, replacesJobId: keyHolder });
      const reserved = await this.ctx.store.reserve({
        ...input,
        provider: this.ctx.provider.id,
        idempotency,
        maxJobsOverride: input.maxJobs,
        traceId: randomUUID(),
        now: this.ctx.now(),
      });
      if (!reserved.ok) throw lastError ?? (await this.refusal(reserved, input));
      keyHolder = reserved.job.id;
      if (input.idempotency) input.onKeyClaimed?.(keyHolder);
      this.ctx.events.emit('dispatched', reserved.job);
      const launched = await this.launcher.launch(reserved.job, reserved.account);
      if (launched.ok) return launched.job;
      // The client gets the error synchronously and never learns an id, so the failed
      // attempt is recorded without a callback-worthy history; its slot is freed here.
      await this.ctx.store.finish(
        reserved.job.id,
        { state: 'failed', error: launched.cause },
        this.ctx.now(),
        { from: ['submitting'] },
      );
      if (!launched.failure.tryAnother || input.email !== null) throw launched.failure.error;
      lastError = launched.failure.error;
    }
    throw lastError ?? new EngineError('busy', 'All configured accounts are busy (maxJobs reached)', 5);
  }

  private async queueRefusal(
    result: Extract<EnqueueResult, { ok: false }>,
    input: SubmitInput,
  ): Promise<EngineError> {
    switch (result.reason) {
      case 'key_taken':
        throw new IdempotencyKeyTaken();
      case 'no_accounts':
        return new EngineError(
          'not_found',
          `No ${this.ctx.provider.displayName} account configured. To add one use POST /accounts/{email}.`,
        );
      case 'unknown_account':
        return new EngineError(
          'not_found',
          `Account ${input.email} not found. To add it use POST /accounts/{email}.`,
        );
      case 'queue_full': {
        const waitMs = await estimateWaitMs(this.ctx, input.userId, result.queued);
        return new EngineError(
          'queue_full',
          `The queue is full (${result.queued} jobs waiting)`,
          Math.max(1, Math.ceil(waitMs / 1000)),
          { queued: result.queued },
        );
      }
    }
  }

  private async refusal(
    result: Extract<ReserveResult, { ok: false }>,
    input: SubmitInput,
  ): Promise<EngineError> {
    const now = this.ctx.now();
    const userId = input.userId;
    switch (result.reason) {
      case 'key_taken':
        throw new IdempotencyKeyTaken();
      case 'no_accounts':
        return new EngineError(
          'not_found',
          `No ${this.ctx.provider.displayName} account configured. To add one use POST /accounts/{email}.`,
        );
      case 'unknown_account':
        return new EngineError(
          'not_found',
          `Account ${input.email} not found. To add it use POST /accounts/{email}.`,
        );
      case 'account_full':
        // The limit that refused the job: the request's maxJobs override when it has one.
        return new EngineError(
          'busy',
          `Account ${result.account.email} is busy (maxJobs ${input.maxJobs ?? result.account.maxJobs} reached)`,
          await this.retryAfter(userId, result.account.email, input.maxJobs),
        );
      case 'account_unhealthy': {
        const { account } = result;
        if (account.state === 'cooldown') {
          const wait = Math.max(1, Math.ceil(((account.cooldownUntil ?? now) - now) / 1000));
          return new EngineError(
            'cooling_down',
            `Account ${account.email} is cooling down: ${account.reason ?? 'upstream back-off'}`,
            wait,
          );
        }
        return new EngineError(
          'account_error',
          `Account ${account.email} in error state: ${account.reason ?? 'unknown error'}. Re-post the account to clear it.`,
        );
      }
      case 'none_free':
        return this.noneFree(userId);
    }
  }

  /** Nothing free: busy accounts mean 429; if no account can take work at all, say why. */
  private async noneFree(userId: number): Promise<EngineError> {
    const now = this.ctx.now();
    const accounts = await this.ctx.store.listAccounts(userId);
    if (accounts.length > 0 && accounts.every((a) => a.state === 'error')) {
      const reasons = accounts.map((a) => `${a.email}: ${a.reason ?? 'error'}`).join('; ');
      return new EngineError(
        'account_error',
        `Every account is in error state (${reasons}). Re-post an account to clear it.`,
      );
    }
    const cooling = accounts.filter((a) => a.state === 'cooldown' && (a.cooldownUntil ?? 0) > now);
    if (
      cooling.length > 0 &&
      cooling.length + accounts.filter((a) => a.state === 'error').length === accounts.length
    ) {
      const wait = Math.max(1, Math.ceil((Math.min(...cooling.map((a) => a.cooldownUntil!)) - now) / 1000));
      return new EngineError(
        'cooling_down',
        'Every account is cooling down after an upstream back-off',
        wait,
      );
    }
    return new EngineError(
      'busy',
      'All configured accounts are busy (maxJobs reached)',
      await this.retryAfter(userId, null),
    );
  }

  /**
   * Seconds until a slot is expected to free (1…300), from the capacity rule's slot times: an
   * account in error offers none, one cooling down none before its cool-down ends.
   */
  async retryAfter(userId: number, email: string | null, maxJobs: number | null = null): Promise<number> {
    const now = this.ctx.now();
    const key = `${userId}:${email ?? ''}:${maxJobs ?? ''}`;
    let cached = this.earliestEnds.get(key);
    if (!cached || now - cached.readAt > RETRY_AFTER_REUSE_MS) {
      let endsAt = Infinity;
      for (const at of await slotFreeTimes(this.ctx, userId, email, maxJobs)) endsAt = Math.min(endsAt, at);
      if (this.earliestEnds.size > 10_000) this.earliestEnds.clear();
      cached = { readAt: now, endsAt };
      this.earliestEnds.set(key, cached);
    }
    return retryAfterSeconds(cached.endsAt, now);
  }
}
