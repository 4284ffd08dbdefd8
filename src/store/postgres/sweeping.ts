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
 * Leases orphaned `submitting` jobs to one reconciler each: those stuck since before `before`
 * (the age rule, for rows with no known submitter), and — with `silentSince` — those whose
 * submitter instance (jobs.submitter, stamped by the jobs_submitter trigger) has not beaten
 * since then. A dead instance's in-doubt submits are thus reconciled seconds after it died
 * instead of minutes: a live instance beats every second, and its submit is bounded by the
 * upstream deadline, so silence means the submit will never be finished by its starter. A job
 * must also have started before `silentSince`, so a submit started by an instance whose first
 * beat has not landed yet is never taken for an orphan. A lease held by a dead reconciler does
 * not block the claim either: the claim re-stamps `submitter`, so the reconciler's own silence
 * is what frees the job. Same claim shape as claimDuePolls() (tracking.ts): SKIP LOCKED so
 * concurrent sweepers split the work. The reconciler then calls markRunning() or
 * finish(…, {leaseToken}).
 */
export async function claimStaleSubmitting(
  db: Queryable,
  owner: string,
  before: number,
  now: number,
  leaseMs: number,
  limit: number,
  silentSince: number | null,
): Promise<Job[]> {
  if (limit <= 0) return []; // PostgreSQL rejects a negative LIMIT
  const res = await db.query<JobRow>(
    `WITH stale AS (
       SELECT id FROM jobs
        WHERE state = 'submitting'
          AND ((started_at < $2 AND (lease_expires_at IS NULL OR lease_expires_at <= $3))
               OR ($6::bigint IS NOT NULL AND started_at < $6 AND submitter IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = jobs.submitter AND i.beat_at >= $6)))
        ORDER BY started_at, id
        LIMIT $5
        FOR UPDATE SKIP LOCKED
     )
     UPDATE jobs
        SET lease_owner = $1, lease_token = gen_random_uuid()::text, lease_expires_at = $3::bigint + $4::bigint,
            submitter = current_setting('pixgate.instance', true)
       FROM stale
      WHERE jobs.id = stale.id
      RETURNING jobs.*`,
    [owner, before, now, leaseMs, limit, silentSince],
  );
  return res.rows.map(jobFromRow).sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0) || a.id - b.id);
}

/** Records that `instance` is alive at `now` (see claimStaleSubmitting). */
export async function beatInstance(db: Queryable, instance: string, now: number): Promise<void> {
  await db.query(
    `INSERT INTO instances (id, beat_at) VALUES ($1, $2)
     ON CONFLICT (id) DO UPDATE SET beat_at = GREATEST(instances.beat_at, EXCLUDED.beat_at)`,
    [instance, now],
  );
}
