/**
 * Leases on running jobs, so that any instance can poll any job and a dead instance's jobs are
 * picked up by the others once its leases expire.
 *
 * A lease is (lease_owner, lease_token, lease_expires_at). Claiming writes a fresh random token;
 * every later write by the claimer is fenced with `lease_token = $token`, so an instance that
 * stalled past its lease (GC pause, network partition) and was superseded updates zero rows and
 * learns it lost the job.
 */
import type { Job } from '../../domain/job.ts';
import { notify, type Channels } from './notify.ts';
import { withTransaction, type Queryable } from './pool.ts';
import { jobFromRow, type JobRow } from '../rows.ts';
import type pg from 'pg';

/**
 * Claims due running jobs.
 *
 * FOR UPDATE SKIP LOCKED in the CTE: two instances claiming at the same moment each lock
 * different rows instead of the second waiting for the first and then finding nothing. It is
 * also what keeps one job from being claimed twice: a row the other claimer already updated and
 * committed is re-checked by FOR UPDATE against its latest version (READ COMMITTED follows the
 * update chain), where the lease is no longer expired, so it drops out. LIMIT sits inside the CTE
 * so only the rows actually claimed are locked.
 */
export async function claimDuePolls(db: Queryable, owner: string, now: number, leaseMs: number, limit: number): Promise<Job[]> {
  if (limit <= 0) return []; // PostgreSQL rejects a negative LIMIT
  const res = await db.query<JobRow>(
    `WITH due AS (
       SELECT id FROM jobs
        WHERE state = 'running' AND next_poll_at <= $2
          AND (lease_expires_at IS NULL OR lease_expires_at <= $2)
        ORDER BY next_poll_at, id
        LIMIT $4
        FOR UPDATE SKIP LOCKED
     )
     UPDATE jobs
        SET lease_owner = $1, lease_token = gen_random_uuid()::text, lease_expires_at = $2::bigint + $3::bigint
       FROM due
      WHERE jobs.id = due.id
      RETURNING jobs.*`,
    [owner, now, leaseMs, limit],
  );
  return res.rows.map(jobFromRow).sort((a, b) => (a.nextPollAt ?? 0) - (b.nextPollAt ?? 0) || a.id - b.id);
}

/** Records a non-final poll and hands the job back (lease cleared), fenced by the lease token. */
export async function reschedulePoll(
  db: Queryable,
  jobId: number,
  leaseToken: string,
  nextPollAt: number,
  upstreamStatus: number | null,
): Promise<boolean> {
  const res = await db.query(
    `UPDATE jobs
        SET next_poll_at = $3, upstream_status = $4, poll_count = poll_count + 1,
            lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
      WHERE id = $1 AND lease_token = $2 AND state = 'running'`,
    [jobId, leaseToken, nextPollAt, upstreamStatus],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * Extends the owner's leases. Fenced by owner: a job re-claimed by another instance (after our
 * lease expired) now carries that instance's name and is not renewed, so its id is missing from
 * the answer and the caller stops working on it. The row lock taken by this UPDATE orders it
 * against a concurrent claim, so renewal and takeover can never both succeed.
 */
export async function renewLeases(db: Queryable, owner: string, jobIds: number[], now: number, leaseMs: number): Promise<number[]> {
  if (jobIds.length === 0) return [];
  const res = await db.query<{ id: number }>(
    `UPDATE jobs SET lease_expires_at = $3::bigint + $4::bigint
      WHERE id = ANY($2::bigint[]) AND lease_owner = $1 AND state IN ('submitting', 'running')
      RETURNING id`,
    [owner, jobIds, now, leaseMs],
  );
  return res.rows.map((row) => row.id).sort((a, b) => a - b);
}

/** Graceful shutdown: drop the owner's leases and wake the other instances' trackers. */
export async function releaseLeases(pool: pg.Pool, channels: Channels, owner: string): Promise<void> {
  await withTransaction(pool, async (tx) => {
    const res = await tx.query(
      `UPDATE jobs SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
        WHERE lease_owner = $1`,
      [owner],
    );
    if ((res.rowCount ?? 0) > 0) await notify(tx, channels.jobs, { event: 'released', count: res.rowCount ?? 0 });
  });
}

/**
 * The earliest time a running job can be polled: its next_poll_at, or the end of its lease if
 * another tracker holds it (a leased job cannot be claimed before that, so reporting its past
 * next_poll_at would make the caller spin). With no leases held this is min(next_poll_at).
 */
export async function nextPollDue(db: Queryable): Promise<number | null> {
  const res = await db.query<{ due: number | null }>(
    `SELECT min(GREATEST(next_poll_at, lease_expires_at)) AS due
       FROM jobs
      WHERE state = 'running' AND next_poll_at IS NOT NULL`,
  );
  return res.rows[0]?.due ?? null;
}
