/**
 * Job state transitions and job reads.
 *
 * Transitions are compare-and-swap UPDATEs (design invariant 3): the WHERE clause names the states
 * the job may be leaving (and the lease, when fenced), and RETURNING hands the new row only to the
 * caller whose UPDATE matched. Racing callers (a tracker completing a job while the sweeper times it
 * out, or a DELETE /scheduler/{id}) target the same row: under SQLite's write lock they run one after
 * the other; on PostgreSQL the second waits on the first's row lock and re-evaluates its WHERE against
 * the committed row (READ COMMITTED's re-check). Exactly one gets the row back, and only it frees the
 * slot and writes the callback.
 *
 * Each transition is one write transaction: the UPDATE … RETURNING, then (still holding the job) the
 * outbox entry built from the updated job, then the wake-up. They commit together, so no final state
 * exists without its callback, and the wake-up is sent only for the winner, only at commit.
 */
import type { Job, JobState } from '../../domain/job.ts';
import type { JobStore, SweepingStore } from '../store.ts';
import { jobFromRow, num, outcomeColumns, type JobRow } from '../rows.ts';
import { all, notify, one, type Exec } from './op.ts';
import { emitOutbox, type OutboxRef } from './outbox.ts';
import {
  CLEAR_LEASE,
  FAILED,
  HOLDS_SLOT,
  NON_TERMINAL_STATES,
  NOT_TERMINAL,
  SLOT_HELD,
  TRACKED_SLOT,
} from './states.ts';

/** jobsByUpstreamId: through the partial index jobs_upstream; an id is on a job or two, so the sort is nothing. */
export const BY_UPSTREAM_SQL = 'SELECT * FROM jobs WHERE upstream_id = $1 ORDER BY id DESC';

const byStart = (a: Job, b: Job) => (a.startedAt ?? 0) - (b.startedAt ?? 0) || a.id - b.id;

export function jobStore(
  x: Exec,
  outbox: OutboxRef,
): JobStore & Pick<SweepingStore, 'expireJobs' | 'heldSlots' | 'releaseHeldSlot'> {
  const { d } = x;
  const jobs = (sql: string, params: unknown[]) =>
    x.read(() => all<JobRow>(sql, params)).then((rows) => rows.map(jobFromRow));
  const job = (sql: string, params: unknown[]) => jobs(sql, params).then((list) => list[0] ?? null);

  /**
   * One statement serves every finish() variant: `from` defaults to every non-terminal state and a
   * NULL lease token switches the fence off, so the statement is prepared once instead of once per
   * combination. `keep*` flags let an omitted outcome field keep the stored value.
   */
  const FINISH_SQL = `
    UPDATE jobs
       SET state           = $2,
           result_url      = CASE WHEN $5  THEN result_url      ELSE $6  END,
           error           = CASE WHEN $7  THEN error           ELSE $8  END,
           upstream_status = CASE WHEN $9  THEN upstream_status ELSE $10 END,
           result_json     = CASE WHEN $11 THEN result_json     ELSE $12 END,
           finished_at     = $3,
           next_poll_at    = NULL,
           ${CLEAR_LEASE}
     WHERE id = $1
       AND ${NOT_TERMINAL}
       AND ${d.inArray('state', '$4')}
       AND (CAST($13 AS TEXT) IS NULL OR lease_token = $13)
    RETURNING *`;

  return {
    /**
     * submitting → running. Also drops any reconciliation lease (claimStaleSubmitting): from now on the
     * job belongs to whichever tracker claims its polls, and a reconciler still holding the old token is
     * fenced out of finish(). `now` stamps the 'progress' delivery only: the slot clock (started_at)
     * keeps running.
     */
    markRunning: (jobId, upstreamId, nextPollAt, now) =>
      x.write(function* () {
        const row = yield* one<JobRow>(
          `UPDATE jobs SET state = 'running', upstream_id = $2, next_poll_at = $3, poll_count = 0, ${CLEAR_LEASE}
            WHERE id = $1 AND state = 'submitting'
          RETURNING *`,
          [jobId, upstreamId, nextPollAt],
        );
        if (!row) return null;
        const job = jobFromRow(row);
        yield* emitOutbox(outbox, [job], 'progress', now);
        yield* notify('jobs', {
          event: 'running',
          jobId: job.id,
          userId: job.userId,
          email: job.email ?? '',
          nextPollAt,
        });
        return job;
      }),

    /**
     * Terminal compare-and-swap, from any non-terminal state including `queued` (a cancelled queued job
     * never took a slot). Outcome fields left undefined keep their stored value (for example the
     * upstream status recorded by the last poll); fields given as null are cleared. Fencing: a tracker
     * whose lease expired and was re-claimed elsewhere holds a stale token and must not write.
     */
    finish: (jobId, outcome, now, opts) =>
      x.write(function* () {
        const c = outcomeColumns(outcome);
        const from: readonly JobState[] = opts?.from ?? NON_TERMINAL_STATES;
        const row = yield* one<JobRow>(FINISH_SQL, [
          jobId,
          c.state,
          now,
          d.array(from),
          d.bool(c.keepResultUrl === 1),
          c.resultUrl,
          d.bool(c.keepError === 1),
          c.error,
          d.bool(c.keepUpstreamStatus === 1),
          c.upstreamStatus,
          d.bool(c.keepResult === 1),
          c.resultJson,
          opts?.leaseToken ?? null,
        ]);
        if (!row) return null;
        const job = jobFromRow(row);
        yield* emitOutbox(outbox, [job], 'final', now);
        // started_at is set exactly when the job took a slot (a job cancelled while queued has none),
        // so this announces freed slots only.
        if (job.startedAt !== null)
          yield* notify('slots', {
            event: 'finish',
            jobId: job.id,
            userId: job.userId,
            email: job.email ?? '',
            state: job.state,
          });
        return job;
      }),

    getJob: (jobId) => job('SELECT * FROM jobs WHERE id = $1', [jobId]),
    /** Lookup by the parts of a public id (index jobs_lookup); the newest row wins should an id ever be recorded twice. */
    findJob: (userId, email, type, upstreamId) =>
      job(
        'SELECT * FROM jobs WHERE user_id = $1 AND email = $2 AND type = $3 AND upstream_id = $4 ORDER BY id DESC LIMIT 1',
        [userId, email, type, upstreamId],
      ),
    /** Any state, any tenant, newest first: a provider webhook names only the upstream id. */
    jobsByUpstreamId: (upstreamId) => jobs(BY_UPSTREAM_SQL, [upstreamId]),
    activeJobs: (userId) =>
      jobs(`SELECT * FROM jobs WHERE user_id = $1 AND ${TRACKED_SLOT} ORDER BY started_at, id`, [userId]),
    recentFailures: (userId, since, limit) =>
      jobs(
        `SELECT * FROM jobs WHERE user_id = $1 AND ${FAILED} AND finished_at >= $2 ORDER BY finished_at DESC, id DESC LIMIT $3`,
        [userId, since, limit],
      ),

    /**
     * One UPDATE: the compare-and-swap on untracked_at (inside TRACKED_SLOT) frees the slot exactly
     * once, here. The wake-up, sent at commit, tells dispatchers on every instance that the account
     * has a free slot.
     */
    untrackJob: (jobId, now, callback) =>
      x.write(function* () {
        const row = yield* one<JobRow>(
          `UPDATE jobs SET untracked_at = $2, untrack_callback = $3 WHERE id = $1 AND ${TRACKED_SLOT} RETURNING *`,
          [jobId, now, d.bool(callback)],
        );
        if (!row) return null;
        const job = jobFromRow(row);
        yield* notify('slots', {
          event: 'untrack',
          jobId: job.id,
          userId: job.userId,
          email: job.email ?? '',
          state: job.state,
        });
        return job;
      }),

    hideJob: (jobId, now) =>
      job('UPDATE jobs SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING *', [jobId, now]),

    /** Through the partial index jobs_listing, read in id order. */
    listJobs: (userId, filter) =>
      x.read(function* () {
        const where = `user_id = $1 AND type = $2 AND deleted_at IS NULL
           AND (queued_at IS NOT NULL OR upstream_id IS NOT NULL)
           AND (CAST($3 AS TEXT) IS NULL OR COALESCE(email, pinned_email) = $3)`;
        const params = [userId, filter.type, filter.email ?? null];
        const rows = yield* all<JobRow>(
          `SELECT * FROM jobs WHERE ${where} ORDER BY id DESC LIMIT $4 OFFSET $5`,
          [...params, filter.limit, filter.offset],
        );
        const total = yield* one<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE ${where}`, params);
        return { jobs: rows.map(jobFromRow), total: Number(total?.n ?? 0) };
      }),

    /**
     * Times out every slot holder that took its slot before `startedBefore` (queued jobs hold no slot
     * and are left to expireQueued). One compare-and-swap UPDATE: a job finished concurrently is no
     * longer matched, so each job ends exactly once, and several sweepers may run this at once. The
     * callbacks are written in the same transaction; one wake-up per tenant, not per job (listeners
     * poke that tenant's queue). With `holdUntil`, a job the provider accepted (it has an upstream id,
     * so it may still be running there) keeps counting against its account until then: its slot is
     * freed by releaseHeldSlot, not here, and the tenant is woken only for the slots actually freed.
     */
    expireJobs: (startedBefore, now, error, holdUntil = null) =>
      x.write(function* () {
        const rows = yield* all<JobRow & { slot_held_until: number | string | null }>(
          `UPDATE jobs SET state = 'timed_out', error = $1, finished_at = $2, next_poll_at = NULL, ${CLEAR_LEASE},
                  slot_held_until = CASE WHEN upstream_id IS NOT NULL AND untracked_at IS NULL THEN CAST($4 AS BIGINT) ELSE NULL END
            WHERE ${HOLDS_SLOT} AND started_at < $3
          RETURNING *`,
          [error, now, startedBefore, holdUntil],
        );
        const expired = rows.map(jobFromRow).sort(byStart);
        yield* emitOutbox(outbox, expired, 'final', now);
        const freed = new Map<number, number>();
        for (const r of rows)
          if (r.slot_held_until === null) freed.set(num(r.user_id), (freed.get(num(r.user_id)) ?? 0) + 1);
        for (const [userId, count] of freed)
          yield* notify('slots', { event: 'expired', userId, freed: count });
        return expired;
      }),

    /** Through the partial index jobs_slot_held: only jobs still holding a timed-out slot (a handful). */
    heldSlots: (limit) =>
      x.read(function* () {
        const rows = yield* all<JobRow & { slot_held_until: number | string }>(
          `SELECT * FROM jobs WHERE ${SLOT_HELD} ORDER BY slot_held_until, id LIMIT $1`,
          [limit],
        );
        return rows.map((r) => ({ job: jobFromRow(r), heldUntil: num(r.slot_held_until) }));
      }),

    /**
     * Compare-and-swap on slot_held_until: of the sweepers (on any instance) that see the provider
     * end the job or the cap pass, exactly one frees the slot; the wake-up goes out at commit.
     */
    releaseHeldSlot: (jobId) =>
      x.write(function* () {
        const row = yield* one<JobRow>(
          `UPDATE jobs SET slot_held_until = NULL WHERE id = $1 AND ${SLOT_HELD} RETURNING *`,
          [jobId],
        );
        if (!row) return null;
        const job = jobFromRow(row);
        yield* notify('slots', { event: 'expired', userId: job.userId, freed: 1 });
        return job;
      }),
  };
}
