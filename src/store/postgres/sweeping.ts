/** The sweeper's slot-holder queries: time out overdue jobs, and claim submissions whose submitter died. */
import type { Job } from '../../domain/job.ts';
import { notify, type Channels } from './notify.ts';
import { writeOutbox, type OutboxRef } from './outbox.ts';
import { withTransaction, type Queryable } from './pool.ts';
import { jobFromRow, type JobRow } from '../rows.ts';
import type pg from 'pg';

/**
 * Times out every slot holder that took its slot before `startedBefore` (queued jobs hold no slot
 * and are left to expireQueued()). Like finish() this is a compare-and-swap on the state: if a
 * tracker finishes one of these jobs at the same moment, the UPDATE waits for its row lock,
 * re-checks the state, and skips the row, so each job ends exactly once. Several sweepers may run
 * this concurrently for the same reason. The callbacks are written in the same transaction.
 */
export async function expireJobs(
  pool: pg.Pool,
  channels: Channels,
  outbox: OutboxRef,
  startedBefore: number,
  now: number,
  error: string,
): Promise<Job[]> {
  return withTransaction(pool, async (tx) => {
    const res = await tx.query<JobRow>(
      `UPDATE jobs
          SET state = 'timed_out', finished_at = $2, error = $3, next_poll_at = NULL,
              lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
        WHERE state IN ('submitting', 'running') AND started_at < $1
        RETURNING *`,
      [startedBefore, now, error],
    );
    const jobs = res.rows.map(jobFromRow).sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0) || a.id - b.id);
    await writeOutbox(tx, channels, outbox, jobs, 'final', now);
    // One notification per tenant, not per job: it is a wake-up (listeners poke that tenant's
    // queue), not a record.
    const freed = new Map<number, number>();
    for (const job of jobs) freed.set(job.userId, (freed.get(job.userId) ?? 0) + 1);
    for (const [userId, count] of freed) await notify(tx, channels.slots, { event: 'expired', userId, freed: count });
    return jobs;
  });
}

/**
 * Leases stale `submitting` jobs to one reconciler each. Same claim shape and reasoning as
 * claimDuePolls() (tracking.ts): SKIP LOCKED so concurrent sweepers split the work, and the
 * lease condition re-checked on the latest row so a job is never handed to two reconcilers
 * while a lease is live. The reconciler then calls markRunning() or finish(…, {leaseToken}).
 */
export async function claimStaleSubmitting(
  db: Queryable,
  owner: string,
  before: number,
  now: number,
  leaseMs: number,
  limit: number,
): Promise<Job[]> {
  if (limit <= 0) return []; // PostgreSQL rejects a negative LIMIT
  const res = await db.query<JobRow>(
    `WITH stale AS (
       SELECT id FROM jobs
        WHERE state = 'submitting' AND started_at < $2
          AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
        ORDER BY started_at, id
        LIMIT $5
        FOR UPDATE SKIP LOCKED
     )
     UPDATE jobs
        SET lease_owner = $1, lease_token = gen_random_uuid()::text, lease_expires_at = $3::bigint + $4::bigint
       FROM stale
      WHERE jobs.id = stale.id
      RETURNING jobs.*`,
    [owner, before, now, leaseMs, limit],
  );
  return res.rows.map(jobFromRow).sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0) || a.id - b.id);
}
