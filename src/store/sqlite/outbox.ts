/**
 * The callbacks outbox (design invariant 5): a job transition and the delivery it owes are written
 * in the same transaction, so a final state is never committed without its callback.
 *
 * `Outbox.emit` is called by the transitions themselves (jobs.ts, accounts.ts, queue.ts) inside
 * their `BEGIN IMMEDIATE` transaction; if the registered builder throws, the exception unwinds
 * that transaction and the transition is rolled back with it.
 *
 * Deliveries are leased like polls: claims hand out a fresh token, recordAttempt is fenced by it.
 * A job's deliveries go out strictly in seq order: a delivery is claimable only while no pending
 * delivery of the same job has a lower seq (a dead one does not block the rest).
 */
import { randomUUID } from 'node:crypto';
import type { Job } from '../../domain/job.ts';
import type { AttemptResult, Delivery, DeliveryFilter, OutboxBuilder, OutboxEvent } from '../store.ts';
import { attemptColumns, deliveryFromRow, type DeliveryRow } from '../rows.ts';
import { immediate, type Db, type StatementCache } from './database.ts';

/** No pending delivery of the same job comes before this one. Correlated on `d`. */
const FIRST_OF_JOB = `NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.job_id = d.job_id AND e.state = 'pending' AND e.seq < d.seq)`;

export const DUE_DELIVERIES_SQL = `
  SELECT d.id FROM deliveries d
   WHERE d.state = 'pending' AND d.next_attempt_at <= @now
     AND (d.lease_token IS NULL OR d.lease_expires_at <= @now)
     AND ${FIRST_OF_JOB}
   ORDER BY d.next_attempt_at, d.id
   LIMIT @limit`;

/**
 * DUE_DELIVERIES_SQL with a cap per tenant on deliveries leased at once (held now + claimed here).
 * Without it one tenant whose receiver never answers filled all the deliverer's workers: 64 such
 * callbacks delayed another tenant's callback by 46.6 s.
 */
export const DUE_DELIVERIES_CAPPED_SQL = `
  WITH due AS (
    SELECT d.id, d.user_id, d.next_attempt_at,
           ROW_NUMBER() OVER (PARTITION BY d.user_id ORDER BY d.next_attempt_at, d.id) AS rn
      FROM deliveries d
     WHERE d.state = 'pending' AND d.next_attempt_at <= @now
       AND (d.lease_token IS NULL OR d.lease_expires_at <= @now)
       AND ${FIRST_OF_JOB}
  ), held AS (
    SELECT user_id, COUNT(*) AS n FROM deliveries
     WHERE state = 'pending' AND lease_token IS NOT NULL AND lease_expires_at > @now
     GROUP BY user_id
  )
  SELECT due.id FROM due LEFT JOIN held ON held.user_id = due.user_id
   WHERE due.rn + COALESCE(held.n, 0) <= @perUser
   ORDER BY due.next_attempt_at, due.id
   LIMIT @limit`;

const INSERT_SQL = `
  INSERT INTO deliveries (user_id, job_id, seq, event, url, body, state, attempts, next_attempt_at, created_at)
  VALUES (@userId, @jobId, COALESCE((SELECT MAX(seq) FROM deliveries WHERE job_id = @jobId), 0) + 1,
          @event, @url, @body, 'pending', 0, @now, @now)`;

export class Outbox {
  private builder: OutboxBuilder | null = null;
  private readonly claimTx: (owner: string, now: number, leaseMs: number, limit: number, perUser: number | null) => Delivery[];

  constructor(
    db: Db,
    private readonly sql: StatementCache,
  ) {
    this.claimTx = immediate(db, (owner: string, now: number, leaseMs: number, limit: number, perUser: number | null): Delivery[] => {
      if (limit <= 0) return [];
      const ids = (perUser === null
        ? this.sql.get(DUE_DELIVERIES_SQL).all({ now, limit })
        : this.sql.get(DUE_DELIVERIES_CAPPED_SQL).all({ now, limit, perUser })) as { id: number }[];
      const lease = this.sql.get(
        `UPDATE deliveries SET lease_owner = @owner, lease_token = @token, lease_expires_at = @expiresAt
          WHERE id = @id RETURNING *`,
      );
      return ids.map(({ id }) =>
        deliveryFromRow(lease.get({ id, owner, token: randomUUID(), expiresAt: now + leaseMs }) as DeliveryRow),
      );
    });
  }

  setBuilder(builder: OutboxBuilder | null): void {
    this.builder = builder;
  }

  /**
   * Builds and stores the delivery a transition owes. MUST be called inside the transition's
   * transaction; a throwing builder propagates and rolls the transition back.
   */
  emit(job: Job, event: OutboxEvent, now: number): void {
    if (!this.builder) return;
    const entry = this.builder(job, event);
    if (!entry) return;
    this.sql.get(INSERT_SQL).run({ userId: job.userId, jobId: job.id, event, url: entry.url, body: entry.body, now });
  }

  claimDueDeliveries(owner: string, now: number, leaseMs: number, limit: number, perUser: number | null = null): Delivery[] {
    return this.claimTx(owner, now, leaseMs, limit, perUser);
  }

  recordAttempt(deliveryId: number, leaseToken: string, result: AttemptResult, now: number): boolean {
    const info = this.sql
      .get(
        `UPDATE deliveries
            SET state = @state, attempts = attempts + 1, next_attempt_at = @nextAttemptAt,
                last_error = @lastError, last_status = @lastStatus, delivered_at = @deliveredAt,
                lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
          WHERE id = @id AND lease_token = @leaseToken AND state = 'pending'`,
      )
      .run({ ...attemptColumns(result, now), id: deliveryId, leaseToken });
    return info.changes === 1;
  }

  /**
   * Earliest time claimDueDeliveries could hand out something: only the first pending delivery of
   * each job counts (a later one waits for it), and a live lease defers a delivery to its expiry.
   */
  nextDeliveryDue(): number | null {
    const row = this.sql
      .get(
        `SELECT MIN(CASE WHEN d.lease_token IS NULL THEN d.next_attempt_at
                         ELSE MAX(d.next_attempt_at, d.lease_expires_at) END) AS due
           FROM deliveries d
          WHERE d.state = 'pending' AND d.next_attempt_at IS NOT NULL AND ${FIRST_OF_JOB}`,
      )
      .get() as { due: number | null };
    return row.due;
  }

  listDeliveries(userId: number, filter: DeliveryFilter): Delivery[] {
    const rows = this.sql
      .get(
        `SELECT * FROM deliveries
          WHERE user_id = @userId
            AND (@jobId IS NULL OR job_id = @jobId)
            AND (@state IS NULL OR state = @state)
            AND (@since IS NULL OR created_at >= @since)
          ORDER BY id DESC
          LIMIT @limit`,
      )
      .all({
        userId,
        jobId: filter.jobId ?? null,
        state: filter.state ?? null,
        since: filter.since ?? null,
        limit: Math.max(0, filter.limit),
      }) as DeliveryRow[];
    return rows.map(deliveryFromRow);
  }

  getDelivery(userId: number, deliveryId: number): Delivery | null {
    const row = this.sql.get('SELECT * FROM deliveries WHERE id = ? AND user_id = ?').get(deliveryId, userId) as
      | DeliveryRow
      | undefined;
    return row ? deliveryFromRow(row) : null;
  }

  /**
   * Back to pending, due now, attempts kept (one more attempt, no fresh budget), lease and delivered_at cleared; last_error and
   * last_status are kept as history. Without `deliveryId` only dead deliveries are revived.
   */
  redeliver(userId: number, filter: { deliveryId?: number; since?: number }, now: number): number {
    // attempts is kept: a redelivery is one more attempt, then the schedule's end (dead) again, not
    // a fresh three-day budget per request (a tenant could otherwise keep a flood of dead
    // callbacks retrying forever).
    const set = `SET state = 'pending', next_attempt_at = @now, delivered_at = NULL,
                     lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL`;
    const since = filter.since ?? null;
    if (filter.deliveryId !== undefined) {
      return this.sql
        .get(
          `UPDATE deliveries ${set}
            WHERE id = @id AND user_id = @userId AND state IN ('dead', 'delivered')
              AND (@since IS NULL OR created_at >= @since)`,
        )
        .run({ id: filter.deliveryId, userId, since, now }).changes;
    }
    return this.sql
      .get(
        `UPDATE deliveries ${set}
          WHERE user_id = @userId AND state = 'dead' AND (@since IS NULL OR created_at >= @since)`,
      )
      .run({ userId, since, now }).changes;
  }
}
