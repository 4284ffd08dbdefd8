/** Requeue (the enqueue and dispatch side is queue.ts; the queue's reads and expiry are ../sql/queue.ts). */
import type pg from 'pg';
import { tokenKey, NO_TOKEN_KEY } from '../fairness.ts';
import type { Channels } from './notify.ts';
import { beginWith, withTransaction } from './pool.ts';
import { joinQueueUpsert, QUEUE_STATEMENTS, TENANT_LOCK } from './queueStatements.ts';

/**
 * submitting → queued (compare-and-swap), back on its pinned account or none, slot released, and
 * its token (re)joins the queue as in enqueue(). Wakes dispatchers twice over: the job is queued
 * again and its slot is free. BEGIN + the tenant lock in one round trip, then the compare-and-swap,
 * the join and both NOTIFYs in one statement.
 */
export async function requeue(pool: pg.Pool, channels: Channels, jobId: number): Promise<boolean> {
  // A job's tenant and token never change: read them first, without a lock.
  const found = await pool.query<{ user_id: number; token_id: number | null }>(
    'SELECT user_id, token_id FROM jobs WHERE id = $1',
    [jobId],
  );
  if (!found.rows[0]) return false;
  const userId = Number(found.rows[0].user_id);
  const key = tokenKey(found.rows[0].token_id === null ? null : Number(found.rows[0].token_id));
  return withTransaction(
    pool,
    async (tx) => {
      // The tenant's queue lock first (the documented order), then the job row via the CAS.
      const [[tenant]] = (await beginWith(tx, QUEUE_STATEMENTS, [
        { statement: TENANT_LOCK, args: [userId] },
      ])) as [pg.QueryResultRow[]];
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
