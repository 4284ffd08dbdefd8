/** Requeue, the queue's reads and queue-wait expiry (the enqueue and dispatch side is queue.ts). */
import type pg from 'pg';
import type { Job } from '../../domain/job.ts';
import type { QueueTurn } from '../../domain/policy/queueOrder.ts';
import { tokenKey, NO_TOKEN_KEY, QUEUE_ORDER_SQL } from '../fairness.ts';
import { jobFromRow, type JobRow } from '../rows.ts';
import type { Channels } from './notify.ts';
import { writeOutbox, type OutboxRef } from './outbox.ts';
import { beginWith, withTransaction, type Queryable } from './pool.ts';
import { joinQueueUpsert, QUEUE_STATEMENTS, TENANT_LOCK } from './queueStatements.ts';


/**
 * submitting → queued (compare-and-swap), back on its pinned account or none, slot released, and
 * its token (re)joins the queue as in enqueue(). Wakes dispatchers twice over: the job is queued
 * again and its slot is free. BEGIN + the tenant lock in one round trip, then the compare-and-swap,
 * the join and both NOTIFYs in one statement.
 */
export async function requeue(pool: pg.Pool, channels: Channels, jobId: number): Promise<boolean> {
  // A job's tenant and token never change: read them first, without a lock.
  const found = await pool.query<{ user_id: number; token_id: number | null }>('SELECT user_id, token_id FROM jobs WHERE id = $1', [jobId]);
  if (!found.rows[0]) return false;
  const userId = Number(found.rows[0].user_id);
  const key = tokenKey(found.rows[0].token_id === null ? null : Number(found.rows[0].token_id));
  return withTransaction(
    pool,
    async (tx) => {
      // The tenant's queue lock first (the documented order), then the job row via the CAS.
      const [[tenant]] = (await beginWith(tx, QUEUE_STATEMENTS, [{ statement: TENANT_LOCK, args: [userId] }])) as [pg.QueryResultRow[]];
      if (!tenant) return false;
      const payload = JSON.stringify({ event: 'requeue', userId, jobId });
      const res = await tx.query({
        name: key === NO_TOKEN_KEY ? 'pixgate_q_requeue_none' : 'pixgate_q_requeue_token',
        // The job keeps its queue rank: back to the place it had, not to the end. A job admitted
        // directly by reserve() never had one; it gets created_at (the rank migration 4 gave the jobs
        // it found queued), so no queued row is ever without a rank.
        text: `WITH requeued AS (
           UPDATE jobs
              SET state = 'queued', email = pinned_email, started_at = NULL, next_poll_at = NULL,
                  queue_rank = COALESCE(queue_rank, created_at::double precision),
                  lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
            WHERE id = $1 AND state = 'submitting'
            RETURNING id
         ), joined AS (
           ${joinQueueUpsert('SELECT $2::bigint, $3::bigint, $4::double precision FROM requeued', '$2', key, '$3')}
         )
         SELECT id, pg_notify($5, $7) AS queue, pg_notify($6, $7) AS slots FROM requeued`,
        values: [jobId, userId, key, Number(tenant.queue_vtime), channels.queue, channels.slots, payload],
      });
      return (res.rowCount ?? 0) > 0;
    },
    { fnBegins: true },
  );
}

/** Tenants with queued jobs, ascending: the trigger-kept counter (tenants are few; the queue may be long). */
export async function queuedUsers(db: Queryable): Promise<number[]> {
  const res = await db.query<{ id: number }>('SELECT id FROM users WHERE queued_count > 0 ORDER BY id');
  return res.rows.map((row) => Number(row.id));
}

/**
 * The tenant's first `limit` queued jobs in (priority DESC, queue_rank, id) order: the order of the
 * partial index jobs_queue_order (migration 4), read up to the LIMIT. Per token that is a prefix of
 * the token's dispatch order (within a token the dispatch order is this one), so replaying the fair
 * turns over them (scheduler dispatchOrder) gives the first positions of the real dispatch order.
 */
export const QUEUED_JOBS_SQL = `SELECT * FROM jobs WHERE user_id = $1 AND state = 'queued' ORDER BY ${QUEUE_ORDER_SQL} LIMIT $2`;

export async function queuedJobs(db: Queryable, userId: number, limit: number): Promise<Job[]> {
  if (limit <= 0) return [];
  const res = await db.query<JobRow>(QUEUED_JOBS_SQL, [userId, limit]);
  return res.rows.map(jobFromRow);
}

/** A tenant's tokens that ever queued, with their pass and weight (the pseudo-token 0 has weight 1). */
export async function queueTurns(db: Queryable, userId: number): Promise<QueueTurn[]> {
  const res = await db.query<{ key: string; pass: number; weight: number }>(
    `SELECT q.token_key AS key, q.pass, COALESCE(t.weight, 1) AS weight
       FROM queue_passes q LEFT JOIN tokens t ON t.id = q.token_key
      WHERE q.user_id = $1`,
    [userId],
  );
  return res.rows.map((row) => ({ key: Number(row.key), pass: Number(row.pass), weight: Number(row.weight) }));
}

/** O(1): users.queued_count is kept by triggers (migration 3). */
export async function countQueued(db: Queryable, userId: number): Promise<number> {
  const res = await db.query<{ n: number }>('SELECT queued_count AS n FROM users WHERE id = $1', [userId]);
  return Number(res.rows[0]?.n ?? 0);
}

/**
 * Queued jobs that waited longer than their tenant's max_queue_wait_ms become timed_out, with
 * their callbacks, in one transaction. A compare-and-swap on the state like every transition:
 * a job dispatched or cancelled at the same moment is re-checked after its row lock and skipped.
 */
export async function expireQueued(pool: pg.Pool, channels: Channels, outbox: OutboxRef, now: number, error: string): Promise<Job[]> {
  // First the tenants whose oldest queued job is overdue (one index seek per tenant with a queue, no
  // lock), so a sweep with nothing to expire reads no queue; then, per such tenant, a range scan of
  // jobs_queue_age up to its own cut-off. A tenant found here whose jobs were dispatched meanwhile
  // simply updates nothing. Tenants in ascending id order, so two sweeps take the users rows (which
  // the counter trigger locks) in the same order.
  const due = await pool.query<{ id: number; cutoff: number }>(
    `SELECT u.id, $1::bigint - u.max_queue_wait_ms AS cutoff
       FROM users u
      CROSS JOIN LATERAL (SELECT j.created_at FROM jobs j WHERE j.user_id = u.id AND j.state = 'queued'
                           ORDER BY j.created_at LIMIT 1) oldest
      WHERE u.queued_count > 0 AND oldest.created_at < $1::bigint - u.max_queue_wait_ms
      ORDER BY u.id`,
    [now],
  );
  if (due.rows.length === 0) return [];
  return withTransaction(pool, async (tx) => {
    const expired: Job[] = [];
    for (const tenant of due.rows) {
      const res = await tx.query<JobRow>(
        `UPDATE jobs
            SET state = 'timed_out', finished_at = $3, error = $4, next_poll_at = NULL,
                lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
          WHERE user_id = $1 AND state = 'queued' AND created_at < $2
          RETURNING *`,
        [tenant.id, tenant.cutoff, now, error],
      );
      expired.push(...res.rows.map(jobFromRow));
    }
    expired.sort((a, b) => a.id - b.id);
    await writeOutbox(tx, channels, outbox, expired, 'final', now);
    return expired;
  });
}

