/** The one path from a mapped create request to a scheduled job, shared by every create route. */
import type { FastifyRequest } from 'fastify';
import { checkCallbackUrl } from '../callbacks/ssrf.ts';
import { PRIORITIES, type Job, type JobType, type Json, type PriorityName } from '../domain/job.ts';
import type { IdempotencyClaim } from '../store/store.ts';
import type { Mapped } from '../providers/pixverse/compat/videoCreate.ts';
import type { AppDeps } from './context.ts';
import { callerOf } from './guards.ts';

/** useapi's common create fields plus Pixgate's queue options (see schemas.ts CommonJobFields). */
export interface CommonFields {
  email?: string;
  maxJobs?: number;
  replyUrl?: string;
  replyRef?: string;
  queue?: boolean;
  priority?: PriorityName;
}

export async function submitJob(
  deps: AppDeps,
  request: FastifyRequest,
  type: JobType,
  mapped: Mapped,
  key?: { idempotency: IdempotencyClaim; onKeyClaimed: (jobId: number) => void },
): Promise<Job> {
  const caller = callerOf(request);
  const fields = request.body as CommonFields;
  if (fields.replyUrl !== undefined) await checkCallbackUrl(fields.replyUrl, deps.callbackPolicy);
  return deps.scheduler.submit({
    userId: caller.userId,
    tokenId: caller.tokenId,
    email: mapped.email?.toLowerCase() ?? null,
    maxJobs: fields.maxJobs ?? null,
    type,
    upstream: mapped.upstream,
    request: request.body as { [key: string]: Json },
    replyUrl: fields.replyUrl ?? (await deps.scheduler.user(caller.userId))?.replyUrl ?? null,
    replyRef: fields.replyRef ?? null,
    queue: fields.queue ?? null,
    priority: PRIORITIES[fields.priority ?? 'normal'],
    ...key,
  });
}
