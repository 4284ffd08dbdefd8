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
 *
 * The claim clears poll_hint: the poll it starts asks the provider after whatever webhook set the hint,
 * so its answer is fresh (see reschedulePoll).
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
        SET lease_owner = $1, lease_token = gen_random_uuid()::text, lease_expires_at = $2::bigint + $3::bigint,
            poll_hint = false
       FROM due
      WHERE jobs.id = due.id
      RETURNING jobs.*`,
    [owner, now, leaseMs, limit],
  );
  return res.rows.map(jobFromRow).sort((a, b) => (a.nextPollAt ?? 0) - (b.nextPollAt ?? 0) || a.id - b.id);
}

/**
 * Records a non-final poll and hands the job back (lease cleared), fenced by the lease token.
 *
 * poll_hint set means expeditePoll ran while this poll was in flight (a claim clears the hint, and
 * this job was claimed for this poll): a webhook said the job ended, possibly after the provider answered
 * this poll, so "still running" may be stale. The job is then due at `now` instead of at the computed
 * time (which may be minutes away), and the hint is spent. The UPDATE reads the hint on the row it
 * locks (READ COMMITTED re-checks a concurrently updated row on its latest version), so an
 * expeditePoll either committed before — and is seen — or waits for this row and then finds a running
 * job without a lease, which it makes due itself. No NOTIFY: the tracker that ran this poll re-checks
 * what is due when the poll ends (and notify.ts keeps NOTIFY off per-poll paths).
 */
export async function reschedulePoll(
  db: Queryable,
  jobId: number,
  leaseToken: string,
  nextPollAt: number,
  upstreamStatus: number | null,
  now: number,
): Promise<boolean> {
  const res = await db.query(
    `UPDATE jobs
        SET next_poll_at = CASE WHEN poll_hint THEN LEAST($5::bigint, $3::bigint) ELSE $3::bigint END, poll_hint = false,
            upstream_status = $4, poll_count = poll_count + 1,
            lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
      WHERE id = $1 AND lease_token = $2 AND state = 'running'`,
    [jobId, leaseToken, nextPollAt, upstreamStatus, now],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * A running job's poll becomes due at `now` at the latest (an earlier due time is kept) and the hint
 * is left for a poll that may be in flight (see reschedulePoll). One statement, so one implicit
 * transaction: the NOTIFY on the jobs channel — which makes every instance's tracker re-check
 * nextPollDue (crossInstance.ts), as markRunning's does — is sent at its commit and only if the job
 * was running. Without it a tracker on another instance, asleep until the job's old due time, would
 * not poll it before then. At the rate of webhooks, i.e. of job ends: no per-poll NOTIFY.
 */
export async function expeditePoll(db: Queryable, channels: Channels, jobId: number, now: number): Promise<boolean> {
  const res = await db.query(
    `WITH expedited AS (
       UPDATE jobs SET next_poll_at = LEAST(COALESCE(next_poll_at, $2::bigint), $2::bigint), poll_hint = true
        WHERE id = $1 AND state = 'running'
        RETURNING id, user_id, next_poll_at
     )
     SELECT id, pg_notify($3, json_build_object('event', 'expedite', 'jobId', id, 'userId', user_id, 'nextPollAt', next_poll_at)::text) AS notified
       FROM expedited`,
    [jobId, now, channels.jobs],
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
