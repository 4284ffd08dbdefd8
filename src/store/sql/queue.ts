/** The queue's reads and its wait-time expiry (enqueue, dispatch and requeue are each dialect's planner). */
import type { Job } from '../../domain/job.ts';
import type { QueueStore } from '../store.ts';
import { jobFromRow, type JobRow } from '../rows.ts';
import { all, one, type Exec } from './op.ts';
import { emitOutbox, type OutboxRef } from './outbox.ts';
import { CLEAR_LEASE } from './states.ts';
import type { QueueTurn } from '../../domain/policy/queueOrder.ts';
import { QUEUE_ORDER_SQL } from '../fairness.ts';

/**
 * The tenant's first `limit` queued jobs in (priority DESC, queue_rank, id) order: the order of the
 * partial index jobs_queue_order (migration 4), read up to the LIMIT. Per token that is a prefix of
 * the token's dispatch order (within a token the dispatch order is this one), so replaying the fair
 * turns over them (scheduler dispatchOrder) gives the first positions of the real dispatch order.
 */
export const QUEUED_JOBS_SQL = `SELECT * FROM jobs WHERE user_id = $1 AND state = 'queued' ORDER BY ${QUEUE_ORDER_SQL} LIMIT $2`;

/**
 * Tenants whose oldest queued job is overdue: one index seek (jobs_queue_age) per tenant with a queue
 * and no lock, so a sweep with nothing to expire reads no queue and opens no write transaction.
 * Ascending id, so two sweeps take the users rows (which the PostgreSQL counter trigger locks) in the
 * same order.
 */
const OVERDUE_SQL = `
  SELECT u.id, CAST($1 AS BIGINT) - u.max_queue_wait_ms AS cutoff
    FROM users u
   WHERE u.queued_count > 0
     AND EXISTS (SELECT 1 FROM jobs j WHERE j.user_id = u.id AND j.state = 'queued' AND j.created_at < CAST($1 AS BIGINT) - u.max_queue_wait_ms)
   ORDER BY u.id`;

export function queueReadStore(
  x: Exec,
  outbox: OutboxRef,
): Pick<QueueStore, 'queuedUsers' | 'queuedJobs' | 'queueTurns' | 'countQueued' | 'expireQueued'> {
  return {
    queuedUsers: () =>
      x
        .read(() => all<{ id: number }>('SELECT id FROM users WHERE queued_count > 0 ORDER BY id'))
        .then((rows) => rows.map((r) => Number(r.id))),
    queuedJobs: async (userId, limit) => {
      if (limit <= 0) return []; // PostgreSQL rejects a negative LIMIT
      return (await x.read(() => all<JobRow>(QUEUED_JOBS_SQL, [userId, limit]))).map(jobFromRow);
    },
    /** A tenant's tokens that ever queued, with their pass and weight (the pseudo-token 0 has weight 1). */
    queueTurns: (userId) =>
      x
        .read(() =>
          all<{ key: number; pass: number; weight: number }>(
            `SELECT q.token_key AS key, q.pass, COALESCE(t.weight, 1) AS weight
               FROM queue_passes q LEFT JOIN tokens t ON t.id = q.token_key
              WHERE q.user_id = $1`,
            [userId],
          ),
        )
        .then((rows): QueueTurn[] =>
          rows.map((r) => ({ key: Number(r.key), pass: Number(r.pass), weight: Number(r.weight) })),
        ),
    /** O(1): users.queued_count is kept by triggers. */
    countQueued: (userId) =>
      x
        .read(() => one<{ n: number }>('SELECT queued_count AS n FROM users WHERE id = $1', [userId]))
        .then((row) => Number(row?.n ?? 0)),
    /**
     * Queued jobs that waited longer than their tenant's max_queue_wait_ms become timed_out, with their
     * callbacks, in one transaction. created_at is when a queued job entered the queue (= queued_at for
     * every job that came through enqueue). A compare-and-swap on the state like every transition: a
     * job dispatched or cancelled at the same moment is re-checked (after its row lock) and skipped, and
     * a tenant found overdue whose jobs left the queue meanwhile simply updates nothing.
     */
    expireQueued: async (now, error) => {
      const due = await x.read(() => all<{ id: number; cutoff: number }>(OVERDUE_SQL, [now]));
      if (due.length === 0) return [];
      return x.write(function* () {
        const expired: Job[] = [];
        for (const tenant of due) {
          const rows = yield* all<JobRow>(
            `UPDATE jobs SET state = 'timed_out', finished_at = $3, error = $4, next_poll_at = NULL, ${CLEAR_LEASE}
              WHERE user_id = $1 AND state = 'queued' AND created_at < $2
            RETURNING *`,
            [tenant.id, Number(tenant.cutoff), now, error],
          );
          expired.push(...rows.map(jobFromRow));
        }
        expired.sort((a, b) => a.id - b.id);
        yield* emitOutbox(outbox, expired, 'final', now);
        return expired;
      });
    },
  };
}
