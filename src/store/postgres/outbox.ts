/**
 * Callbacks outbox (design invariant 5): a job's state change and the callback announcing it
 * commit together or not at all.
 *
 * Writing: every transition that the contract names (terminal ones, and markRunning) runs in a
 * transaction; after its compare-and-swap UPDATE … RETURNING it calls writeOutbox() with the
 * updated jobs, which asks the registered builder for each entry and inserts the non-null ones as
 * pending deliveries due now. A builder that throws aborts the whole transaction, so the state
 * change is rolled back with it: a final state never exists without its callback.
 *
 * Ordering: `seq` numbers a job's deliveries 1, 2, …; it is max(seq) + 1, computed while the
 * transaction holds the job's row lock (taken by the UPDATE that changed the job), so two
 * transitions of one job can never compute the same seq — the second waits for the first to
 * commit. UNIQUE (job_id, seq) backs that up.
 *
 * Delivering: claimDueDeliveries() leases rows exactly like claimDuePolls() leases jobs (see
 * tracking.ts), and only the lowest pending seq of each job is claimable, so a job's events
 * reach the client in order even with several deliverers.
 */
import type pg from 'pg';
import type { Job } from '../../domain/job.ts';
import type { AttemptResult, Delivery, DeliveryFilter, DeliveryState, OutboxBuilder, OutboxEvent } from '../store.ts';
import { attemptColumns, deliveryFromRow, type DeliveryRow } from '../rows.ts';
import { notify, type Channels } from './notify.ts';
import type { Queryable } from './pool.ts';

/** Where a store keeps its builder; read at call time so setOutboxBuilder() applies at once. */
export interface OutboxRef {
  builder: OutboxBuilder | null;
}

/**
 * Inserts the outbox entries for jobs just changed by the caller's transaction `tx` (which must
 * hold their row locks). Throws whatever the builder throws; the caller's transaction then rolls
 * back. One statement for the whole batch, and one NOTIFY when anything was inserted.
 */
export async function writeOutbox(
  tx: pg.PoolClient,
  channels: Channels,
  outbox: OutboxRef,
  jobs: readonly Job[],
  event: OutboxEvent,
  now: number,
): Promise<void> {
  const builder = outbox.builder;
  if (!builder || jobs.length === 0) return;
  const userIds: number[] = [];
  const jobIds: number[] = [];
  const urls: string[] = [];
  const bodies: string[] = [];
  for (const job of jobs) {
    const entry = builder(job, event);
    if (!entry) continue;
    userIds.push(job.userId);
    jobIds.push(job.id);
    urls.push(entry.url);
    bodies.push(entry.body);
  }
  if (jobIds.length === 0) return;
  // Each job appears once per batch, so the per-row max(seq) subquery cannot collide within it.
  await tx.query(
    `INSERT INTO deliveries (user_id, job_id, seq, event, url, body, state, attempts, next_attempt_at, created_at)
     SELECT e.user_id, e.job_id,
            COALESCE((SELECT max(d.seq) FROM deliveries d WHERE d.job_id = e.job_id), 0) + 1,
            $5, e.url, e.body, 'pending', 0, $6, $6
       FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS e(user_id, job_id, url, body)`,
    [userIds, jobIds, urls, bodies, event, now],
  );
  await notify(tx, channels.deliveries, { event: 'delivery', count: jobIds.length });
}

/** A pending delivery blocked by an earlier pending delivery of the same job (not claimable yet). */
const BLOCKED = `EXISTS (SELECT 1 FROM deliveries e WHERE e.job_id = d.job_id AND e.state = 'pending' AND e.seq < d.seq)`;

/**
 * Claims due deliveries. As in claimDuePolls(): SKIP LOCKED lets concurrent deliverers split the
 * rows instead of queueing on each other, and a row another deliverer claimed and committed is
 * re-checked against its latest version by FOR UPDATE, where its lease is live, so it drops out —
 * a delivery is never held by two deliverers while a lease lives. LIMIT sits inside the CTE so
 * only the claimed rows are locked.
 */
export async function claimDueDeliveries(db: Queryable, owner: string, now: number, leaseMs: number, limit: number, perUser: number | null = null): Promise<Delivery[]> {
  if (limit <= 0) return [];
  const res = await db.query<DeliveryRow>(
    perUser === null ? CLAIM_SQL : CLAIM_CAPPED_SQL,
    perUser === null ? [owner, now, leaseMs, limit] : [owner, now, leaseMs, limit, perUser],
  );
  return res.rows.map(deliveryFromRow).sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0) || a.id - b.id);
}

const LEASE_DUE = `UPDATE deliveries
        SET lease_owner = $1, lease_token = gen_random_uuid()::text, lease_expires_at = $2::bigint + $3::bigint
       FROM due
      WHERE deliveries.id = due.id
      RETURNING deliveries.*`;

const CLAIM_SQL = `WITH due AS (
       SELECT d.id FROM deliveries d
        WHERE d.state = 'pending' AND d.next_attempt_at <= $2
          AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= $2)
          AND NOT ${BLOCKED}
        ORDER BY d.next_attempt_at, d.id
        LIMIT $4
        FOR UPDATE SKIP LOCKED
     )
     ${LEASE_DUE}`;

/**
 * CLAIM_SQL with a cap per tenant on deliveries leased at once (held by any instance + claimed
 * here). Without it one tenant whose receiver never answers filled all the workers: 64 such
 * callbacks delayed another tenant's callback by 46.6 s. The ranking reads without locks, so two
 * instances claiming at the same moment can overshoot a tenant's cap by one batch; the next claim
 * sees the leases and corrects it.
 */
const CLAIM_CAPPED_SQL = `WITH ranked AS (
       SELECT d.id, d.user_id, d.next_attempt_at,
              ROW_NUMBER() OVER (PARTITION BY d.user_id ORDER BY d.next_attempt_at, d.id) AS rn
         FROM deliveries d
        WHERE d.state = 'pending' AND d.next_attempt_at <= $2
          AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= $2)
          AND NOT ${BLOCKED}
     ), held AS (
       SELECT user_id, COUNT(*) AS n FROM deliveries
        WHERE state = 'pending' AND lease_token IS NOT NULL AND lease_expires_at > $2
        GROUP BY user_id
     ), due AS (
       SELECT d.id FROM deliveries d
         JOIN ranked r ON r.id = d.id
         LEFT JOIN held h ON h.user_id = r.user_id
        WHERE r.rn + COALESCE(h.n, 0) <= $5
          AND d.state = 'pending' AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= $2)
        ORDER BY r.next_attempt_at, r.id
        LIMIT $4
        FOR UPDATE OF d SKIP LOCKED
     )
     ${LEASE_DUE}`;

/**
 * Records one attempt and releases the lease, fenced by the lease token: a deliverer that stalled
 * past its lease and was superseded holds a stale token and changes nothing. When a delivery is
 * settled (delivered or dead) and its job has a later pending one, that one becomes claimable, so
 * deliverers are woken.
 */
export async function recordAttempt(
  db: Queryable,
  channels: Channels,
  deliveryId: number,
  leaseToken: string,
  result: AttemptResult,
  now: number,
): Promise<boolean> {
  const cols = attemptColumns(result, now);
  // The wake-up rides in the same statement, so it is sent exactly when the attempt commits.
  const res = await db.query(
    `WITH done AS (
       UPDATE deliveries
          SET state = $3, attempts = attempts + 1, next_attempt_at = $4, last_error = $5, last_status = $6, delivered_at = $7,
              lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
        WHERE id = $1 AND lease_token = $2 AND state = 'pending'
        RETURNING id, job_id, seq, state
     )
     SELECT done.id,
            CASE WHEN done.state <> 'pending'
                  AND EXISTS (SELECT 1 FROM deliveries n WHERE n.job_id = done.job_id AND n.state = 'pending' AND n.seq > done.seq)
                 THEN pg_notify($8, json_build_object('event', 'unblocked', 'jobId', done.job_id)::text) END
       FROM done`,
    [deliveryId, leaseToken, cols.state, cols.nextAttemptAt, cols.lastError, cols.lastStatus, cols.deliveredAt, channels.deliveries],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * When the next claim can succeed: among claimable-in-order pending deliveries, the later of
 * next_attempt_at and a live lease's end (a leased delivery cannot be claimed before its lease
 * ends, so reporting its past due time would make the caller spin). A delivery waiting behind an
 * earlier one of its job is left out: it becomes due when that one settles, which wakes deliverers.
 */
export async function nextDeliveryDue(db: Queryable): Promise<number | null> {
  const res = await db.query<{ due: number | null }>(
    `SELECT min(GREATEST(d.next_attempt_at, d.lease_expires_at)) AS due
       FROM deliveries d
      WHERE d.state = 'pending' AND d.next_attempt_at IS NOT NULL AND NOT ${BLOCKED}`,
  );
  return res.rows[0]?.due ?? null;
}

export async function listDeliveries(db: Queryable, userId: number, filter: DeliveryFilter): Promise<Delivery[]> {
  if (filter.limit <= 0) return [];
  const res = await db.query<DeliveryRow>(
    `SELECT * FROM deliveries
      WHERE user_id = $1
        AND ($2::bigint IS NULL OR job_id = $2)
        AND ($3::text IS NULL OR state = $3)
        AND ($4::bigint IS NULL OR created_at >= $4)
      ORDER BY id DESC
      LIMIT $5`,
    [userId, filter.jobId ?? null, filter.state ?? null, filter.since ?? null, filter.limit],
  );
  return res.rows.map(deliveryFromRow);
}

export async function getDelivery(db: Queryable, userId: number, deliveryId: number): Promise<Delivery | null> {
  const res = await db.query<DeliveryRow>('SELECT * FROM deliveries WHERE id = $1 AND user_id = $2', [deliveryId, userId]);
  return res.rows[0] ? deliveryFromRow(res.rows[0]) : null;
}

/**
 * Dead deliveries (or one given delivery, dead or delivered) back to pending, due now, attempts
 * reset. A compare-and-swap on the state, so a delivery being attempted right now (pending,
 * leased) is never reset under its deliverer.
 */
export async function redeliver(
  db: Queryable,
  channels: Channels,
  userId: number,
  filter: { deliveryId?: number; since?: number },
  now: number,
): Promise<number> {
  const states: DeliveryState[] = filter.deliveryId !== undefined ? ['dead', 'delivered'] : ['dead'];
  const res = await db.query<{ n: number }>(
    `WITH again AS (
       UPDATE deliveries
          SET state = 'pending', next_attempt_at = $5, delivered_at = NULL,
              lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
        WHERE user_id = $1 AND state = ANY($2::text[])
          AND ($3::bigint IS NULL OR id = $3)
          AND ($4::bigint IS NULL OR created_at >= $4)
        RETURNING 1
     ), counted AS (SELECT count(*)::int AS n FROM again)
     SELECT n, CASE WHEN n > 0 THEN pg_notify($6, json_build_object('event', 'redeliver', 'userId', $1::bigint, 'count', n)::text) END
       FROM counted`,
    [userId, states, filter.deliveryId ?? null, filter.since ?? null, now, channels.deliveries],
  );
  return res.rows[0]?.n ?? 0;
}
