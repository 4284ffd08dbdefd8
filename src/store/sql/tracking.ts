/**
 * Leases on running jobs (any instance can poll any job; a dead instance's jobs are picked up once
 * its leases expire) and on submits whose submitter died (one reconciler each). See lease.ts for
 * the claim shape and fencing.
 */
import type { Job } from '../../domain/job.ts';
import type { SweepingStore, TrackingStore } from '../store.ts';
import { jobFromRow, type JobRow } from '../rows.ts';
import { claimLeases, leaseFree } from './lease.ts';
import { all, notify, one, run, type Exec } from './op.ts';
import { CLEAR_LEASE, HOLDS_SLOT } from './states.ts';
import type { ReceiptStore } from './tenants.ts';

/** Claims of running jobs due for a poll, in due order (jobs_due index). */
export const DUE_SQL = `
  SELECT id FROM jobs
   WHERE state = 'running' AND next_poll_at <= $1 AND ${leaseFree('$1')}
   ORDER BY next_poll_at, id
   LIMIT $2`;

/**
 * state = 'submitting' is an equality on the prefix of jobs_due, so only live submits are read (a
 * handful); sorting them by age afterwards is cheaper than keeping another index up to date.
 *
 * PostgreSQL, shared by instances, also claims a submit whose submitter instance (jobs.submitter,
 * stamped by the jobs_submitter trigger) has not beaten since `silentSince` ($4): a dead instance's
 * in-doubt submits are reconciled seconds after it died instead of minutes. A live instance beats
 * every second and its submit is bounded by the upstream deadline, so silence means the submit will
 * never be finished by its starter. The job must also have started before `silentSince`, so a submit
 * by an instance whose first beat has not landed yet is never taken for an orphan. A lease held by a
 * dead reconciler does not block the claim either: the claim re-stamps `submitter`, so the
 * reconciler's own silence is what frees the job.
 */
const staleSql = (silent: boolean) => `
  SELECT id FROM jobs
   WHERE state = 'submitting'
     AND ((started_at < $1 AND ${leaseFree('$2')})${
       silent
         ? `
          OR (CAST($4 AS BIGINT) IS NOT NULL AND started_at < $4 AND submitter IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = jobs.submitter AND i.beat_at >= $4))`
         : ''
     })
   ORDER BY started_at, id
   LIMIT $3`;

/** The stale-submit claim as SQLite runs it (the age rule only). */
export const STALE_SQL = staleSql(false);

const byStart = (a: Job, b: Job) => (a.startedAt ?? 0) - (b.startedAt ?? 0) || a.id - b.id;

export function trackingStore(x: Exec, receipts: ReceiptStore): TrackingStore {
  const { d } = x;
  return {
    ...receipts,
    /**
     * The claim clears poll_hint: the poll it starts asks upstream after whatever webhook set the
     * hint, so its answer is fresh (see reschedulePoll).
     */
    claimDuePolls: async (owner, now, leaseMs, limit) => {
      if (limit <= 0) return [];
      const rows = await x.write(() =>
        claimLeases<JobRow>(d, {
          table: 'jobs',
          select: DUE_SQL,
          params: [now, limit],
          owner,
          expiresAt: now + leaseMs,
          set: 'poll_hint = FALSE',
        }),
      );
      return rows.map(jobFromRow).sort((a, b) => (a.nextPollAt ?? 0) - (b.nextPollAt ?? 0) || a.id - b.id);
    },

    /**
     * Non-final poll: record it, schedule the next one and hand the job back (lease cleared), fenced
     * by the lease token. poll_hint set means expeditePoll ran while this poll was in flight (a claim
     * clears the hint): a webhook said the job ended, possibly after upstream answered this poll, so
     * "still running" may be stale. The job is then due at `now` instead of at the computed time (which
     * may be minutes away), and the hint is spent. One UPDATE reads and clears the hint on the row it
     * writes (PostgreSQL re-checks a concurrently updated row on its latest version), so an
     * expeditePoll either landed before — and is seen — or finds a running job without a lease and
     * makes it due itself. No wake-up: the tracker that ran this poll re-checks what is due when the
     * poll ends (and NOTIFY stays off per-poll paths).
     */
    reschedulePoll: (jobId, leaseToken, nextPollAt, upstreamStatus, now) =>
      x
        .writeAlone(() =>
          run(
            `UPDATE jobs
                SET next_poll_at = CASE WHEN poll_hint THEN ${d.least('CAST($5 AS BIGINT)', 'CAST($3 AS BIGINT)')} ELSE CAST($3 AS BIGINT) END,
                    poll_hint = FALSE, upstream_status = $4, poll_count = poll_count + 1, ${CLEAR_LEASE}
              WHERE id = $1 AND lease_token = $2 AND state = 'running'`,
            [jobId, leaseToken, nextPollAt, upstreamStatus, now],
          ),
        )
        .then((n) => n === 1),

    /**
     * Extends the owner's leases. Fenced by owner: a job re-claimed by another instance (after our
     * lease expired) carries that instance's name and is not renewed, so its id is missing from the
     * answer and the caller stops working on it. A lease that expired but was not taken over is still
     * renewed: its token is unchanged, so nobody else has acted on the job. The UPDATE's row lock
     * orders it against a concurrent claim, so renewal and takeover can never both succeed.
     */
    renewLeases: async (owner, jobIds, now, leaseMs) => {
      if (jobIds.length === 0) return [];
      const rows = await x.writeAlone(() =>
        all<{ id: number }>(
          `UPDATE jobs SET lease_expires_at = $1
            WHERE lease_owner = $2 AND lease_token IS NOT NULL AND ${HOLDS_SLOT} AND ${d.inArray('id', '$3')}
          RETURNING id`,
          [now + leaseMs, owner, d.array(jobIds)],
        ),
      );
      return rows.map((r) => Number(r.id)).sort((a, b) => a - b);
    },

    /** Graceful shutdown: drop the owner's leases and wake the other instances' trackers. */
    releaseLeases: (owner) =>
      x.write(function* () {
        const count = yield* run(`UPDATE jobs SET ${CLEAR_LEASE} WHERE lease_owner = $1`, [owner]);
        if (count > 0) yield* notify('jobs', { event: 'released', count });
      }),

    /**
     * The earliest time claimDuePolls could hand out a running job: its next_poll_at, or — while
     * another holder's lease is on it — no earlier than that lease's expiry. Without the lease term a
     * tracker would spin on a job that is due but being polled elsewhere.
     */
    nextPollDue: () =>
      x
        .read(() =>
          one<{ due: number | null }>(
            `SELECT MIN(CASE WHEN lease_token IS NULL THEN next_poll_at ELSE ${d.greatest('next_poll_at', 'lease_expires_at')} END) AS due
               FROM jobs
              WHERE state = 'running' AND next_poll_at IS NOT NULL`,
          ),
        )
        .then((row) => (row?.due === null || row?.due === undefined ? null : Number(row.due))),

    /**
     * A running job's poll becomes due at `now` at the latest (an earlier due time is kept), and the
     * hint is left for a poll that may be in flight (see reschedulePoll). One statement: atomic on its
     * own. The wake-up on the jobs channel — which makes every instance's tracker re-check nextPollDue,
     * as markRunning's does — is sent after it and only if the job was running. At the rate of
     * webhooks, i.e. of job ends: no per-poll NOTIFY.
     */
    expeditePoll: (jobId, now) =>
      x.writeAlone(function* () {
        const row = yield* one<{ user_id: number; next_poll_at: number }>(
          `UPDATE jobs
              SET next_poll_at = CASE WHEN next_poll_at IS NULL OR next_poll_at > $2 THEN CAST($2 AS BIGINT) ELSE next_poll_at END,
                  poll_hint = TRUE
            WHERE id = $1 AND state = 'running'
          RETURNING user_id, next_poll_at`,
          [jobId, now],
        );
        if (!row) return false;
        yield* notify('jobs', {
          event: 'expedite',
          jobId,
          userId: Number(row.user_id),
          nextPollAt: Number(row.next_poll_at),
        });
        return true;
      }),
  };
}

/** The sweeper's claim of submits whose submitter died, and the liveness beat it relies on. */
export function staleSubmitStore(
  x: Exec,
  instance: string | null,
): Pick<SweepingStore, 'claimStaleSubmitting' | 'beatInstance'> {
  const { d } = x;
  return {
    /**
     * Leases orphaned `submitting` jobs to one reconciler each (see staleSql); the reconciler then
     * calls markRunning() or finish(…, {leaseToken}).
     */
    claimStaleSubmitting: async (owner, before, now, leaseMs, limit, silentSince) => {
      if (limit <= 0) return [];
      const silent = d.name === 'postgres';
      const rows = await x.write(() =>
        claimLeases<JobRow>(d, {
          table: 'jobs',
          select: staleSql(silent),
          params: silent ? [before, now, limit, silentSince ?? null] : [before, now, limit],
          owner,
          expiresAt: now + leaseMs,
          pgSet: "submitter = current_setting('pixgate.instance', true)",
        }),
      );
      return rows.map(jobFromRow).sort(byStart);
    },
    /**
     * This process is alive at `now` (PostgreSQL: its row in `instances`). Nothing to do for SQLite,
     * which one process opens: a restart itself says the old process is gone, and the scheduler
     * reconciles every earlier submit at start instead.
     */
    beatInstance: async (now) => {
      if (d.name === 'sqlite' || instance === null) return;
      await x.read(() =>
        run(
          `INSERT INTO instances (id, beat_at) VALUES ($1, $2)
           ON CONFLICT (id) DO UPDATE SET beat_at = ${d.greatest('instances.beat_at', 'excluded.beat_at')}`,
          [instance, now],
        ),
      );
    },
  };
}
