/**
 * Jobs of a tenant: submit (the one path from a mapped create request to a scheduled job), reads,
 * lists, delete and untrack, the scheduler views, and the records behind Idempotency-Key.
 */
import { checkCallbackUrl } from '../callbacks/ssrf.ts';
import type { JobRef } from '../domain/ids.ts';
import {
  PRIORITIES,
  type Job,
  type JobType,
  type Json,
  type PriorityName,
  type UpstreamRequest,
} from '../domain/job.ts';
import { EngineError } from '../domain/outcomes.ts';
import { executingList, schedulerAvailable } from '../scheduler/views.ts';
import type { QueueSnapshot } from '../scheduler/scheduler.ts';
import type { IdempotencyClaim, IdempotencyRecord, JobPage } from '../store/store.ts';
import type { EngineParts } from './engine.ts';

export { IdempotencyKeyTaken } from '../scheduler/admission.ts';
export type { ExecutingItem, AvailableRow } from '../scheduler/views.ts';
export type { IdempotencyClaim, IdempotencyRecord, JobPage, QueueSnapshot };

/** useapi's common create fields plus Pixgate's queue options. */
export interface CommonFields {
  email?: string;
  maxJobs?: number;
  replyUrl?: string;
  replyRef?: string;
  queue?: boolean;
  priority?: PriorityName;
}

export interface SubmitRequest {
  userId: number;
  tokenId: number;
  type: JobType;
  upstream: UpstreamRequest;
  /** The account the request pins the job to, if any. */
  email: string | null;
  /** The create body as the client sent it (kept with the job). */
  body: CommonFields & { [key: string]: Json };
}

export type KeyClaim = { idempotency: IdempotencyClaim; onKeyClaimed: (jobId: number) => void };

export type DeleteAction = 'deleted' | 'untracked' | 'cancelled';

export class JobService {
  constructor(private readonly engine: EngineParts) {}

  async submit(request: SubmitRequest, key?: KeyClaim): Promise<Job> {
    const { scheduler, callbackPolicy } = this.engine;
    const fields = request.body;
    if (fields.replyUrl !== undefined) await checkCallbackUrl(fields.replyUrl, callbackPolicy);
    return scheduler.submit({
      userId: request.userId,
      tokenId: request.tokenId,
      email: request.email?.toLowerCase() ?? null,
      maxJobs: fields.maxJobs ?? null,
      type: request.type,
      upstream: request.upstream,
      request: request.body,
      replyUrl: fields.replyUrl ?? (await scheduler.user(request.userId))?.replyUrl ?? null,
      replyRef: fields.replyRef ?? null,
      queue: fields.queue ?? null,
      priority: PRIORITIES[fields.priority ?? 'normal'],
      ...key,
    });
  }

  /** A tenant's job by its public id, null when unknown or deleted; forbidden for another tenant's id. */
  find(userId: number, ref: JobRef): Promise<Job | null> {
    return this.engine.scheduler.findJob(userId, ref);
  }

  /** A job and, while it waits in the queue, its place there. */
  async read(
    userId: number,
    ref: JobRef,
  ): Promise<{ job: Job; place: { queue_position: number | null; queue_eta: string | null } | null } | null> {
    const job = await this.find(userId, ref);
    if (!job) return null;
    return {
      job,
      place: job.state === 'queued' ? await this.engine.scheduler.queuePlace(userId, job.id) : null,
    };
  }

  list(
    userId: number,
    filter: { type: JobType; email?: string; limit: number; offset: number },
  ): Promise<JobPage> {
    return this.engine.scheduler.listJobs(userId, filter);
  }

  delete(userId: number, ref: JobRef): Promise<{ job: Job; action: DeleteAction } | null> {
    return this.engine.scheduler.deleteJob(userId, ref);
  }

  /** Stops tracking a job and frees its slot; not_found when it is not tracked. */
  async untrack(userId: number, ref: JobRef, idText: string, callback: boolean): Promise<void> {
    const done = await this.engine.scheduler.untrack(userId, ref, callback);
    if (!done) throw new EngineError('not_found', `Unable to locate running ${idText}`);
  }

  /** GET /scheduler as JSON text, rendered at most once per tenant while nothing changes. */
  executingJson(userId: number): Promise<string> {
    const at = this.engine.now();
    return this.engine.scheduler.views.get(`executing:${userId}`, at, async () =>
      JSON.stringify(await executingList(this.engine.store, userId, at)),
    );
  }

  /**
   * GET /scheduler/available as JSON text, rendered once per tenant per second while nothing
   * changes: polling clients are cheap. `queued` maps the first `listed` queued jobs.
   */
  availableJson<T>(
    userId: number,
    listed: number,
    queued: (item: QueueSnapshot['items'][number]) => T,
  ): Promise<string> {
    const { store, scheduler } = this.engine;
    const at = this.engine.now();
    return scheduler.views.get(`available:${userId}`, at, async () => {
      const view = await schedulerAvailable(store, userId, at);
      // The queue estimate costs a few queries; skip it when nothing waits.
      const total = await store.countQueued(userId);
      if (total === 0) return JSON.stringify({ ...view, queuedCount: 0, queued: [] });
      const snapshot = await scheduler.queueSnapshot(userId, listed);
      return JSON.stringify({ ...view, queuedCount: snapshot.total, queued: snapshot.items.map(queued) });
    });
  }

  /** How long an Idempotency-Key is kept. */
  get idempotencyTtlMs(): number {
    return this.engine.scheduler.ctx.tuning.idempotencyTtlMs;
  }

  idempotencyRecord(tokenId: number, key: string): Promise<IdempotencyRecord | null> {
    return this.engine.store.getIdempotencyKey(tokenId, key, this.engine.now());
  }

  recordIdempotentAnswer(
    tokenId: number,
    key: string,
    jobId: number,
    answer: { status: number; body: string },
  ): Promise<boolean> {
    return this.engine.store.recordIdempotentAnswer(tokenId, key, jobId, answer, this.engine.now());
  }

  /** A job by its row id (the job an Idempotency-Key record holds). */
  byRow(jobId: number): Promise<Job | null> {
    return this.engine.store.getJob(jobId);
  }
}
