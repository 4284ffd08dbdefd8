/**
 * What a job state change puts in the outbox. The store calls the builder inside the
 * transaction that changes the job (design invariant 5), so it must be pure, fast and never
 * throw: a throw would roll the state change back.
 */
import type { Job, Json } from '../domain/job.ts';
import { jobView } from '../domain/jobView.ts';
import type { OutboxBuilder, OutboxEntry, OutboxEvent } from '../store/store.ts';

/** The callback body: the same JSON as GET …/{id}, with replyUrl and replyRef at top level. */
export function callbackBody(job: Job): { [key: string]: Json } {
  return { ...jobView(job), replyUrl: job.replyUrl, replyRef: job.replyRef };
}

/** True when the client asked for a callback when the job starts generating. */
export function wantsProgress(job: Job): boolean {
  return job.request['replyProgress'] === true;
}

/**
 * A job the client never got an id for: an immediate create whose submit failed answered the
 * client with an error, so a callback about it would announce a job the client doesn't know.
 */
function unknownToClient(job: Job): boolean {
  return job.queuedAt === null && job.upstreamId === null;
}

/**
 * A job the client let go of: deleted, or untracked without asking for its callback (useapi: the
 * tracking record is what drives callbacks, so DELETE /scheduler/{id} stops them).
 */
function releasedByClient(job: Job): boolean {
  return job.deletedAt !== null || (job.untrackedAt !== null && !job.untrackCallback);
}

export function outboxEntry(job: Job, event: OutboxEvent): OutboxEntry | null {
  if (!job.replyUrl || unknownToClient(job) || releasedByClient(job)) return null;
  if (event === 'progress' && !wantsProgress(job)) return null;
  return { url: job.replyUrl, body: JSON.stringify(callbackBody(job)) };
}

/** The builder to register with `store.setOutboxBuilder()` before anything changes jobs. */
export function createOutboxBuilder(): OutboxBuilder {
  return outboxEntry;
}
