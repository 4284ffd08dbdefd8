/**
 * Job state transitions and job reads.
 *
 * Transitions are compare-and-swap UPDATEs (design invariant 3): the WHERE clause names the
 * states the job may be leaving (and the lease, when fenced). If two instances race — a tracker
 * completing a job while the sweeper times it out, or a DELETE /scheduler/{id} — both UPDATEs
 * target the same row; the second waits on the first's row lock and then re-evaluates its WHERE
 * clause against the committed row (READ COMMITTED's re-check), finds a terminal state, and
 * updates nothing. Exactly one caller gets the row back, and only it frees the slot and writes
 * the callback.
 *
 * Each transition is one transaction: the UPDATE … RETURNING, then (while the transaction still
 * holds the job's row lock) the outbox entry built from the updated job, then the NOTIFY. All
 * three commit together, so no final state exists without its callback, and the wake-up is sent
 * only for the winner, only at commit.
 */
import type pg from 'pg';
import type { Job, JobOutcome, JobState, JobType } from '../../domain/job.ts';
import { notify, type Channels } from './notify.ts';
import { writeOutbox, type OutboxRef } from './outbox.ts';
import { withTransaction, type Queryable } from './pool.ts';
import { NON_TERMINAL_STATES, jobFromRow, type JobRow } from '../rows.ts';
import type { JobListFilter, JobPage } from '../store.ts';

/**
 * submitting → running. The lease is cleared: a job reconciled by claimStaleSubmitting() was
 * leased to the reconciler, and as a running job it must be claimable by any tracker.
 */
export async function markRunning(
  pool: pg.Pool,
  channels: Channels,
  outbox: OutboxRef,
  jobId: number,
  upstreamId: string,
  nextPollAt: number,
  now: number,
): Promise<boolean> {
  return withTransaction(pool, async (tx) => {
    const res = await tx.query<JobRow>(
      `UPDATE jobs
          SET state = 'running', upstream_id = $2, next_poll_at = $3, poll_count = 0,
              lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
        WHERE id = $1 AND state = 'submitting'
        RETURNING *`,
      [jobId, upstreamId, nextPollAt],
    );
    const row = res.rows[0];
    if (!row) return false;
    const job = jobFromRow(row);
    await writeOutbox(tx, channels, outbox, [job], 'progress', now);
    await notify(tx, channels.jobs, { event: 'running', jobId: job.id, userId: job.userId, email: job.email ?? '', nextPollAt });
    return true;
  });
}

/**
 * Terminal compare-and-swap, from any non-terminal state including `queued`. Outcome fields left
 * undefined keep their stored value (for example the upstream status recorded by the last poll);
 * fields given as null are cleared.
 */
export async function finish(
  pool: pg.Pool,
  channels: Channels,
  outbox: OutboxRef,
  jobId: number,
  outcome: JobOutcome,
  now: number,
  opts: { from?: JobState[]; leaseToken?: string } = {},
): Promise<Job | null> {
  const values: unknown[] = [jobId, outcome.state, now, NON_TERMINAL_STATES];
  const param = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  const sets = [
    'state = $2',
    'finished_at = $3',
    'next_poll_at = NULL',
    'lease_owner = NULL',
    'lease_token = NULL',
    'lease_expires_at = NULL',
  ];
  if (outcome.resultUrl !== undefined) sets.push(`result_url = ${param(outcome.resultUrl)}`);
  if (outcome.error !== undefined) sets.push(`error = ${param(outcome.error)}`);
  if (outcome.upstreamStatus !== undefined) sets.push(`upstream_status = ${param(outcome.upstreamStatus)}`);
  if (outcome.result !== undefined) sets.push(`result_json = ${param(outcome.result === null ? null : JSON.stringify(outcome.result))}`);
  const where = ['id = $1', 'state = ANY($4::text[])'];
  if (opts.from) where.push(`state = ANY(${param(opts.from)}::text[])`);
  // Fencing: a tracker whose lease expired and was re-claimed by another instance holds a stale
  // token and must not write the outcome.
  if (opts.leaseToken !== undefined) where.push(`lease_token = ${param(opts.leaseToken)}`);

  return withTransaction(pool, async (tx) => {
    const res = await tx.query<JobRow>(`UPDATE jobs SET ${sets.join(', ')} WHERE ${where.join(' AND ')} RETURNING *`, values);
    const row = res.rows[0];
    if (!row) return null;
    const job = jobFromRow(row);
    await writeOutbox(tx, channels, outbox, [job], 'final', now);
    // started_at is set exactly when the job took a slot (a job cancelled while queued has none),
    // so this announces freed slots only.
    if (job.startedAt !== null) {
      await notify(tx, channels.slots, { event: 'finish', jobId: job.id, userId: job.userId, email: job.email ?? '', state: job.state });
    }
    return job;
  });
}

export async function getJob(db: Queryable, jobId: number): Promise<Job | null> {
  const res = await db.query<JobRow>('SELECT * FROM jobs WHERE id = $1', [jobId]);
  return res.rows[0] ? jobFromRow(res.rows[0]) : null;
}

/** Lookup by the parts of a public id (index jobs_lookup); the newest row wins if an id was ever reused. */
export async function findJob(db: Queryable, userId: number, email: string, type: JobType, upstreamId: string): Promise<Job | null> {
  const res = await db.query<JobRow>(
    `SELECT * FROM jobs WHERE user_id = $1 AND email = $2 AND type = $3 AND upstream_id = $4
      ORDER BY id DESC LIMIT 1`,
    [userId, email, type, upstreamId],
  );
  return res.rows[0] ? jobFromRow(res.rows[0]) : null;
}

/**
 * Any state, any tenant, newest first: how a provider webhook, which names only the upstream id, finds its
 * job. Through the partial index jobs_upstream (migration 4); an id is on a job or two, so the sort is nothing.
 */
export async function jobsByUpstreamId(db: Queryable, upstreamId: string): Promise<Job[]> {
  const res = await db.query<JobRow>('SELECT * FROM jobs WHERE upstream_id = $1 ORDER BY id DESC', [upstreamId]);
  return res.rows.map(jobFromRow);
}

/**
 * One UPDATE (its row lock makes the CAS on untracked_at single-winner). The NOTIFY, sent at commit,
 * tells dispatchers on every instance that the account has a free slot.
 */
export async function untrackJob(pool: pg.Pool, channels: Channels, jobId: number, now: number, callback: boolean): Promise<Job | null> {
  return withTransaction(pool, async (tx) => {
    const res = await tx.query<JobRow>(
      `UPDATE jobs SET untracked_at = $2, untrack_callback = $3
        WHERE id = $1 AND state IN ('submitting', 'running') AND untracked_at IS NULL RETURNING *`,
      [jobId, now, callback],
    );
    const row = res.rows[0];
    if (!row) return null;
    const job = jobFromRow(row);
    await notify(tx, channels.slots, { event: 'untrack', jobId: job.id, userId: job.userId, email: job.email ?? '', state: job.state });
    return job;
  });
}

export async function hideJob(db: Queryable, jobId: number, now: number): Promise<Job | null> {
  const res = await db.query<JobRow>('UPDATE jobs SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING *', [jobId, now]);
  return res.rows[0] ? jobFromRow(res.rows[0]) : null;
}

/** Through the partial index jobs_listing (migration 5), read in id order. */
export async function listJobs(db: Queryable, userId: number, filter: JobListFilter): Promise<JobPage> {
  const where = `user_id = $1 AND type = $2 AND deleted_at IS NULL
     AND (queued_at IS NOT NULL OR upstream_id IS NOT NULL)
     AND ($3::text IS NULL OR COALESCE(email, pinned_email) = $3)`;
  const params = [userId, filter.type, filter.email ?? null];
  const [rows, count] = await Promise.all([
    db.query<JobRow>(`SELECT * FROM jobs WHERE ${where} ORDER BY id DESC LIMIT $4 OFFSET $5`, [...params, filter.limit, filter.offset]),
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE ${where}`, params),
  ]);
  return { jobs: rows.rows.map(jobFromRow), total: count.rows[0]?.n ?? 0 };
}

/** Slot holders, oldest first (by started_at, then id). */
export async function recentFailures(db: Queryable, userId: number, since: number, limit: number): Promise<Job[]> {
  const res = await db.query<JobRow>(
    `SELECT * FROM jobs WHERE user_id = $1 AND state IN ('failed', 'moderated', 'timed_out') AND finished_at >= $2
      ORDER BY finished_at DESC, id DESC LIMIT $3`,
    [userId, since, limit],
  );
  return res.rows.map(jobFromRow);
}

export async function activeJobs(db: Queryable, userId: number): Promise<Job[]> {
  const res = await db.query<JobRow>(
    `SELECT * FROM jobs WHERE user_id = $1 AND state IN ('submitting', 'running') AND untracked_at IS NULL
      ORDER BY started_at, id`,
    [userId],
  );
  return res.rows.map(jobFromRow);
}
