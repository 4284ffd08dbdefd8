/**
 * The callbacks outbox (design invariant 5): a job transition and the delivery it owes are written
 * in the same transaction, so a final state is never committed without its callback.
 *
 * Writing: every transition the contract names (terminal ones, and markRunning) calls emitOutbox()
 * inside its transaction, after its compare-and-swap UPDATE … RETURNING, with the updated jobs. A
 * builder that throws aborts the whole transaction, so the state change is rolled back with it.
 *
 * Ordering: `seq` numbers a job's deliveries 1, 2, …; it is max(seq) + 1, computed while the
 * transaction holds the job (PostgreSQL: the row lock taken by the UPDATE that changed it; SQLite:
 * the write lock), so two transitions of one job never compute the same seq. UNIQUE (job_id, seq)
 * backs that up. Only the lowest pending seq of a job is claimable (a dead one does not block the
 * rest), so a job's events reach the client in order even with several deliverers.
 */
import type { Job } from '../../domain/job.ts';
import type { DeliveryState, OutboxBuilder, OutboxEvent, OutboxStore } from '../store.ts';
import { attemptColumns, deliveryFromRow, type DeliveryRow } from '../rows.ts';
import { claimLeases, leaseFree } from './lease.ts';
import { all, notify, one, run, type Exec, type Op } from './op.ts';

/** Where a store keeps its builder; read at call time so setOutboxBuilder() applies at once. */
export interface OutboxRef {
  builder: OutboxBuilder | null;
}

const INSERT_SQL = `
  INSERT INTO deliveries (user_id, job_id, seq, event, url, body, state, attempts, next_attempt_at, created_at)
  VALUES ($1, $2, COALESCE((SELECT MAX(seq) FROM deliveries WHERE job_id = $2), 0) + 1, $3, $4, $5, 'pending', 0, $6, $6)`;

/** Inserts the deliveries the caller's transition owes, inside its transaction; one wake-up for all. */
export function* emitOutbox(
  outbox: OutboxRef,
  jobs: readonly Job[],
  event: OutboxEvent,
  now: number,
): Op<void> {
  const builder = outbox.builder;
  if (!builder) return;
  let count = 0;
  for (const job of jobs) {
    const entry = builder(job, event);
    if (!entry) continue;
    yield* run(INSERT_SQL, [job.userId, job.id, event, entry.url, entry.body, now]);
    count++;
  }
  if (count > 0) yield* notify('deliveries', { event: 'delivery', count });
}

/** No pending delivery of the same job comes before this one. Correlated on `alias`. */
const firstOfJob = (alias: string) =>
  `NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.job_id = ${alias}.job_id AND e.state = 'pending' AND e.seq < ${alias}.seq)`;

export const DUE_DELIVERIES_SQL = `
  SELECT d.id FROM deliveries d
   WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND ${leaseFree('$1', 'd.')} AND ${firstOfJob('d')}
   ORDER BY d.next_attempt_at, d.id
   LIMIT $2`;

/**
 * DUE_DELIVERIES_SQL with a cap per tenant on deliveries leased at once (held now by any instance + claimed
 * here). Without it one tenant whose receiver never answers filled all the deliverer's workers: 64
 * such callbacks delayed another tenant's callback by 46.6 s. The ranking reads without locks, so two
 * PostgreSQL instances claiming at the same moment can overshoot a tenant's cap by one batch; the
 * next claim sees the leases and corrects it.
 */
const DUE_CAPPED_SQL = `
  SELECT d.id FROM deliveries d
    JOIN (SELECT x.id, x.user_id, x.next_attempt_at,
                 ROW_NUMBER() OVER (PARTITION BY x.user_id ORDER BY x.next_attempt_at, x.id) AS rn
            FROM deliveries x
           WHERE x.state = 'pending' AND x.next_attempt_at <= $1 AND ${leaseFree('$1', 'x.')} AND ${firstOfJob('x')}) r ON r.id = d.id
    LEFT JOIN (SELECT user_id, COUNT(*) AS n FROM deliveries
                WHERE state = 'pending' AND lease_token IS NOT NULL AND lease_expires_at > $1
                GROUP BY user_id) h ON h.user_id = r.user_id
   WHERE r.rn + COALESCE(h.n, 0) <= $3 AND d.state = 'pending' AND ${leaseFree('$1', 'd.')}
   ORDER BY r.next_attempt_at, r.id
   LIMIT $2`;

const byDue = (
  a: { nextAttemptAt: number | null; id: number },
  b: { nextAttemptAt: number | null; id: number },
) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0) || a.id - b.id;

export function outboxStore(x: Exec, outbox: OutboxRef): OutboxStore {
  const { d } = x;
  return {
    setOutboxBuilder: (builder) => {
      outbox.builder = builder;
    },

    claimDueDeliveries: async (owner, now, leaseMs, limit, perUser) => {
      if (limit <= 0) return []; // PostgreSQL rejects a negative LIMIT
      const rows = await x.write(() =>
        claimLeases<DeliveryRow>(d, {
          table: 'deliveries',
          select: perUser === undefined ? DUE_DELIVERIES_SQL : DUE_CAPPED_SQL,
          params: perUser === undefined ? [now, limit] : [now, limit, perUser],
          lockOf: perUser === undefined ? undefined : 'd',
          owner,
          expiresAt: now + leaseMs,
        }),
      );
      return rows.map(deliveryFromRow).sort(byDue);
    },

    /**
     * Records one attempt and releases the lease, fenced by the lease token: a deliverer that stalled
     * past its lease and was superseded holds a stale token and changes nothing. When a delivery is
     * settled (delivered or dead) and its job has a later pending one, that one becomes claimable, so
     * deliverers are woken (after the attempt committed: one statement, autocommit).
     */
    recordAttempt: (deliveryId, leaseToken, result, now) =>
      x.writeAlone(function* () {
        const c = attemptColumns(result, now);
        const done = yield* one<{ job_id: number; seq: number }>(
          `UPDATE deliveries
              SET state = $3, attempts = attempts + 1, next_attempt_at = $4, last_error = $5, last_status = $6, delivered_at = $7,
                  lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
            WHERE id = $1 AND lease_token = $2 AND state = 'pending'
          RETURNING job_id, seq`,
          [deliveryId, leaseToken, c.state, c.nextAttemptAt, c.lastError, c.lastStatus, c.deliveredAt],
        );
        if (!done) return false;
        if (d.notifies && c.state !== 'pending') {
          const next = yield* one(
            "SELECT 1 AS x FROM deliveries WHERE job_id = $1 AND state = 'pending' AND seq > $2 LIMIT 1",
            [done.job_id, done.seq],
          );
          if (next) yield* notify('deliveries', { event: 'unblocked', jobId: Number(done.job_id) });
        }
        return true;
      }),

    /**
     * When the next claim can succeed: among claimable-in-order pending deliveries, the later of
     * next_attempt_at and a live lease's end (a leased delivery cannot be claimed before its lease
     * ends, so reporting its past due time would make the caller spin). A delivery waiting behind an
     * earlier one of its job is left out: it becomes due when that one settles, which wakes deliverers.
     */
    nextDeliveryDue: () =>
      x
        .read(() =>
          one<{ due: number | null }>(
            `SELECT MIN(CASE WHEN d.lease_token IS NULL THEN d.next_attempt_at
                             ELSE ${d.greatest('d.next_attempt_at', 'd.lease_expires_at')} END) AS due
               FROM deliveries d
              WHERE d.state = 'pending' AND d.next_attempt_at IS NOT NULL AND ${firstOfJob('d')}`,
          ),
        )
        .then((row) => (row?.due === null || row?.due === undefined ? null : Number(row.due))),

    listDeliveries: (userId, filter) =>
      x
        .read(() =>
          all<DeliveryRow>(
            `SELECT * FROM deliveries
              WHERE user_id = $1
                AND (CAST($2 AS BIGINT) IS NULL OR job_id = $2)
                AND (CAST($3 AS TEXT) IS NULL OR state = $3)
                AND (CAST($4 AS BIGINT) IS NULL OR created_at >= $4)
              ORDER BY id DESC
              LIMIT $5`,
            [
              userId,
              filter.jobId ?? null,
              filter.state ?? null,
              filter.since ?? null,
              Math.max(0, filter.limit),
            ],
          ),
        )
        .then((rows) => rows.map(deliveryFromRow)),

    getDelivery: (userId, deliveryId) =>
      x
        .read(() =>
          one<DeliveryRow>('SELECT * FROM deliveries WHERE id = $1 AND user_id = $2', [deliveryId, userId]),
        )
        .then((row) => (row ? deliveryFromRow(row) : null)),

    /**
     * Dead deliveries (or one given delivery, dead or delivered) back to pending, due now, lease and
     * delivered_at cleared; last_error and last_status are kept as history. attempts is kept too: a
     * redelivery is one more attempt, then the schedule's end (dead) again, not a fresh three-day
     * budget per request (a tenant could otherwise keep a flood of dead callbacks retrying forever).
     * A compare-and-swap on the state, so a delivery being attempted right now (pending, leased) is
     * never reset under its deliverer.
     */
    redeliver: (userId, filter, now) =>
      x.writeAlone(function* () {
        const states: DeliveryState[] = filter.deliveryId !== undefined ? ['dead', 'delivered'] : ['dead'];
        const n = yield* run(
          `UPDATE deliveries
              SET state = 'pending', next_attempt_at = $5, delivered_at = NULL, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
            WHERE user_id = $1 AND ${d.inArray('state', '$2')}
              AND (CAST($3 AS BIGINT) IS NULL OR id = $3)
              AND (CAST($4 AS BIGINT) IS NULL OR created_at >= $4)`,
          [userId, d.array(states), filter.deliveryId ?? null, filter.since ?? null, now],
        );
        if (n > 0) yield* notify('deliveries', { event: 'redeliver', userId, count: n });
        return n;
      }),
  };
}
