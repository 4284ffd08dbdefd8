/**
 * Leases for running-job tracking and for reconciling abandoned submits.
 *
 * A lease is (owner, token, expiresAt). Claims hand each job a fresh random token; every later
 * write by the holder (reschedulePoll, finish with leaseToken) is fenced with `lease_token = ?`, so
 * a holder that stalled past expiry and lost the job to another instance changes nothing (zero rows).
 * Claims are select-then-update, so they run in `BEGIN IMMEDIATE`: two connections can never both
 * see a job's lease as free and both take it.
 */
import { randomUUID } from 'node:crypto';
import type { Job } from '../../domain/job.ts';
import { jobFromRow, type JobRow } from '../rows.ts';
import { immediate, type Db, type StatementCache } from './database.ts';
import { CLEAR_LEASE, LEASE_FREE, NOT_TERMINAL } from './fragments.ts';

interface ClaimArgs {
  owner: string;
  now: number;
  leaseMs: number;
  limit: number;
  before: number;
}

export const DUE_SQL = `
  SELECT id FROM jobs
   WHERE state = 'running' AND next_poll_at <= @now AND ${LEASE_FREE}
   ORDER BY next_poll_at, id
   LIMIT @limit`;

// state = 'submitting' is an equality on the prefix of jobs_due, so only live submits are read
// (a handful); sorting them by age afterwards is cheaper than keeping another index up to date.
export const STALE_SQL = `
  SELECT id FROM jobs
   WHERE state = 'submitting' AND started_at < @before AND ${LEASE_FREE}
   ORDER BY started_at, id
   LIMIT @limit`;

/**
 * A claim takes the lease and clears poll_hint: the poll it starts is asked after whatever webhook set
 * the hint, so its answer is fresh (see reschedulePoll). Also used for submitting jobs, which never
 * carry the hint.
 */
const LEASE_SQL = `
  UPDATE jobs SET lease_owner = @owner, lease_token = @token, lease_expires_at = @expiresAt, poll_hint = 0
   WHERE id = @id
  RETURNING *`;

/**
 * A running job's poll becomes due at @now at the latest (an earlier due time is kept), and the hint is
 * left for a poll that may be in flight. One statement: atomic on its own, no transaction needed.
 */
export const EXPEDITE_SQL = `
  UPDATE jobs
     SET next_poll_at = CASE WHEN next_poll_at IS NULL OR next_poll_at > @now THEN @now ELSE next_poll_at END,
         poll_hint = 1
   WHERE id = @id AND state = 'running'`;

export class TrackingQueries {
  private readonly claimTx: (selectSql: string, args: ClaimArgs) => Job[];

  constructor(
    db: Db,
    private readonly sql: StatementCache,
  ) {
    this.claimTx = immediate(db, (selectSql: string, args: ClaimArgs): Job[] => {
      if (args.limit <= 0) return [];
      const ids = this.sql
        .get(selectSql)
        .all({ now: args.now, limit: args.limit, before: args.before }) as { id: number }[];
      const lease = this.sql.get(LEASE_SQL);
      return ids.map(({ id }) =>
        jobFromRow(
          lease.get({ id, owner: args.owner, token: randomUUID(), expiresAt: args.now + args.leaseMs }) as JobRow,
        ),
      );
    });
  }

  claimDuePolls(owner: string, now: number, leaseMs: number, limit: number): Job[] {
    // DUE_SQL ignores @before; it is bound anyway so both selects share one argument shape.
    return this.claimTx(DUE_SQL, { owner, now, leaseMs, limit, before: 0 });
  }

  claimStaleSubmitting(owner: string, before: number, now: number, leaseMs: number, limit: number): Job[] {
    return this.claimTx(STALE_SQL, { owner, now, leaseMs, limit, before });
  }

  /**
   * Non-final poll: record it, schedule the next one and hand the job back to the pool.
   *
   * poll_hint set means expeditePoll ran while this poll was in flight (the hint survives only until a
   * claim, and this job was claimed for this poll): a webhook said the job ended, possibly after
   * the provider answered this poll, so "still running" may be stale. The job is then due at `now` instead
   * of at the computed time (which may be minutes away), and the hint is spent. Not a transaction: the
   * one UPDATE reads and clears the hint atomically, and an expeditePoll that lands just after it sees
   * a running job with no lease and makes it due itself. (The caller's tracker re-checks what is due
   * when a poll ends, so nothing needs waking here.)
   */
  reschedulePoll(jobId: number, leaseToken: string, nextPollAt: number, upstreamStatus: number | null, now: number): boolean {
    const info = this.sql
      .get(
        `UPDATE jobs
            SET next_poll_at = CASE WHEN poll_hint THEN MIN(@now, @nextPollAt) ELSE @nextPollAt END, poll_hint = 0,
                upstream_status = @upstreamStatus, poll_count = poll_count + 1, ${CLEAR_LEASE}
          WHERE id = @id AND lease_token = @leaseToken AND state = 'running'`,
      )
      .run({ now, nextPollAt, upstreamStatus, id: jobId, leaseToken });
    return info.changes === 1;
  }

  /** See Store.expeditePoll. */
  expeditePoll(jobId: number, now: number): boolean {
    return this.sql.get(EXPEDITE_SQL).run({ id: jobId, now }).changes === 1;
  }

  /**
   * Extends the owner's leases. A lease that expired but was not taken over is still renewed: its
   * token is unchanged, so no other instance has acted on the job and the holder may continue.
   */
  renewLeases(owner: string, jobIds: number[], now: number, leaseMs: number): number[] {
    if (jobIds.length === 0) return [];
    const rows = this.sql
      .get(
        `UPDATE jobs SET lease_expires_at = ?
          WHERE lease_owner = ? AND lease_token IS NOT NULL AND ${NOT_TERMINAL}
            AND id IN (SELECT value FROM json_each(?))
        RETURNING id`,
      )
      .all(now + leaseMs, owner, JSON.stringify(jobIds)) as { id: number }[];
    return rows.map((r) => r.id).sort((a, b) => a - b);
  }

  releaseLeases(owner: string): void {
    this.sql.get(`UPDATE jobs SET ${CLEAR_LEASE} WHERE lease_owner = ?`).run(owner);
  }

  /**
   * The earliest time claimDuePolls could hand out a running job: its next_poll_at, or — while
   * another holder's lease is on it — no earlier than that lease's expiry. Without the lease term a
   * tracker would spin on a job that is due but being polled elsewhere.
   */
  nextPollDue(): number | null {
    const row = this.sql
      .get(
        `SELECT MIN(CASE WHEN lease_token IS NULL THEN next_poll_at
                         ELSE MAX(next_poll_at, lease_expires_at) END) AS due
           FROM jobs
          WHERE state = 'running' AND next_poll_at IS NOT NULL`,
      )
      .get() as { due: number | null };
    return row.due;
  }
}
