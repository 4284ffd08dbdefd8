/**
 * Job transitions and reads. Every transition is a single compare-and-swap UPDATE (design
 * invariant 3): the WHERE clause states which states (and which lease) the caller expects, and
 * `RETURNING` hands the new row only to the caller whose UPDATE matched. The UPDATE and the outbox
 * entry it owes (design invariant 5) share one `BEGIN IMMEDIATE` transaction, so a builder that
 * throws leaves the job untouched.
 */
import type { Job, JobOutcome, JobState, JobType } from '../../domain/job.ts';
import { jobFromRow, outcomeColumns, type JobRow } from '../rows.ts';
import type { JobListFilter, JobPage } from '../store.ts';
import { immediate, type Db, type StatementCache } from './database.ts';
import { CLEAR_LEASE, COUNTS_SLOT, HOLDS_SLOT, NOT_TERMINAL } from './fragments.ts';
import type { Outbox } from './outbox.ts';

/**
 * One statement serves every finish() variant: `@from` (a JSON array or NULL) and `@leaseToken`
 * (or NULL) switch their conditions off when absent, so the statement is prepared once instead
 * of once per combination. `keep*` flags let an omitted outcome field keep the stored value.
 */
const FINISH_SQL = `
  UPDATE jobs
     SET state           = @state,
         result_url      = CASE WHEN @keepResultUrl      THEN result_url      ELSE @resultUrl      END,
         error           = CASE WHEN @keepError          THEN error           ELSE @error          END,
         upstream_status = CASE WHEN @keepUpstreamStatus THEN upstream_status ELSE @upstreamStatus END,
         result_json     = CASE WHEN @keepResult         THEN result_json     ELSE @resultJson     END,
         finished_at     = @now,
         next_poll_at    = NULL,
         ${CLEAR_LEASE}
   WHERE id = @id
     AND ${NOT_TERMINAL}
     AND (@from IS NULL OR state IN (SELECT value FROM json_each(@from)))
     AND (@leaseToken IS NULL OR lease_token = @leaseToken)
  RETURNING *`;

/** jobsByUpstreamId: through the partial index jobs_upstream (migration 3); rowid order within the key, so no sort. */
export const BY_UPSTREAM_SQL = `SELECT * FROM jobs WHERE upstream_id = ? ORDER BY id DESC`;

type FinishOpts = { from?: JobState[]; leaseToken?: string };

export class JobQueries {
  private readonly markRunningTx: (jobId: number, upstreamId: string, nextPollAt: number, now: number) => boolean;
  private readonly finishTx: (jobId: number, outcome: JobOutcome, now: number, opts?: FinishOpts) => Job | null;
  private readonly expireTx: (startedBefore: number, now: number, error: string) => Job[];

  constructor(
    db: Db,
    private readonly sql: StatementCache,
    private readonly outbox: Outbox,
  ) {
    this.markRunningTx = immediate(db, (jobId: number, upstreamId: string, nextPollAt: number, now: number) => {
      const row = this.sql
        .get(
          `UPDATE jobs SET state = 'running', upstream_id = ?, next_poll_at = ?, poll_count = 0, ${CLEAR_LEASE}
            WHERE id = ? AND state = 'submitting'
          RETURNING *`,
        )
        .get(upstreamId, nextPollAt, jobId) as JobRow | undefined;
      if (!row) return false;
      this.outbox.emit(jobFromRow(row), 'progress', now);
      return true;
    });

    this.finishTx = immediate(db, (jobId: number, outcome: JobOutcome, now: number, opts?: FinishOpts) => {
      const row = this.sql.get(FINISH_SQL).get({
        ...outcomeColumns(outcome),
        id: jobId,
        now,
        from: opts?.from === undefined ? null : JSON.stringify(opts.from),
        leaseToken: opts?.leaseToken ?? null,
      }) as JobRow | undefined;
      if (!row) return null;
      const job = jobFromRow(row);
      this.outbox.emit(job, 'final', now);
      return job;
    });

    // One UPDATE: a job finished concurrently is simply no longer matched, so it is never timed out late.
    // Queued jobs hold no slot (HOLDS_SLOT) and are left to expireQueued.
    this.expireTx = immediate(db, (startedBefore: number, now: number, error: string) => {
      const rows = this.sql
        .get(
          `UPDATE jobs
              SET state = 'timed_out', error = ?, finished_at = ?, next_poll_at = NULL, ${CLEAR_LEASE}
            WHERE ${HOLDS_SLOT} AND started_at < ?
          RETURNING *`,
        )
        .all(error, now, startedBefore) as JobRow[];
      const jobs = rows.map(jobFromRow).sort((a, b) => a.startedAt! - b.startedAt! || a.id - b.id);
      for (const job of jobs) this.outbox.emit(job, 'final', now);
      return jobs;
    });
  }

  /**
   * submitting → running. Also drops any reconciliation lease (claimStaleSubmitting): from now on
   * the job belongs to whichever tracker claims its polls, and a reconciler still holding the old
   * token is fenced out of finish(). `now` stamps the 'progress' delivery only: the slot clock
   * (started_at) keeps running.
   */
  markRunning(jobId: number, upstreamId: string, nextPollAt: number, now: number): boolean {
    return this.markRunningTx(jobId, upstreamId, nextPollAt, now);
  }

  /** Any non-terminal state, `queued` included (a cancelled queued job never took a slot). */
  finish(jobId: number, outcome: JobOutcome, now: number, opts?: FinishOpts): Job | null {
    return this.finishTx(jobId, outcome, now, opts);
  }

  getJob(jobId: number): Job | null {
    const row = this.sql.get('SELECT * FROM jobs WHERE id = ?').get(jobId) as JobRow | undefined;
    return row ? jobFromRow(row) : null;
  }

  /** Newest match wins should an upstream id ever be recorded twice (e.g. a reconciled resubmit). */
  findJob(userId: number, email: string, type: JobType, upstreamId: string): Job | null {
    const row = this.sql
      .get('SELECT * FROM jobs WHERE user_id = ? AND email = ? AND type = ? AND upstream_id = ? ORDER BY id DESC LIMIT 1')
      .get(userId, email, type, upstreamId) as JobRow | undefined;
    return row ? jobFromRow(row) : null;
  }

  /** Any state, any tenant, newest first: a provider webhook names only the upstream id. */
  jobsByUpstreamId(upstreamId: string): Job[] {
    return (this.sql.get(BY_UPSTREAM_SQL).all(upstreamId) as JobRow[]).map(jobFromRow);
  }

  activeJobs(userId: number): Job[] {
    const rows = this.sql
      .get(`SELECT * FROM jobs WHERE user_id = ? AND ${COUNTS_SLOT} ORDER BY started_at, id`)
      .all(userId) as JobRow[];
    return rows.map(jobFromRow);
  }

  recentFailures(userId: number, since: number, limit: number): Job[] {
    const rows = this.sql
      .get(
        `SELECT * FROM jobs WHERE user_id = ? AND state IN ('failed', 'moderated', 'timed_out') AND finished_at >= ?
          ORDER BY finished_at DESC, id DESC LIMIT ?`,
      )
      .all(userId, since, limit) as JobRow[];
    return rows.map(jobFromRow);
  }

  expireJobs(startedBefore: number, now: number, error: string): Job[] {
    return this.expireTx(startedBefore, now, error);
  }

  /** A single UPDATE: autocommit makes it atomic, and the CAS on untracked_at frees the slot once. */
  untrackJob(jobId: number, now: number, callback: boolean): Job | null {
    const row = this.sql
      .get(`UPDATE jobs SET untracked_at = ?, untrack_callback = ? WHERE id = ? AND ${COUNTS_SLOT} RETURNING *`)
      .get(now, callback ? 1 : 0, jobId) as JobRow | undefined;
    return row ? jobFromRow(row) : null;
  }

  hideJob(jobId: number, now: number): Job | null {
    const row = this.sql
      .get('UPDATE jobs SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL RETURNING *')
      .get(now, jobId) as JobRow | undefined;
    return row ? jobFromRow(row) : null;
  }

  listJobs(userId: number, filter: JobListFilter): JobPage {
    const where = `user_id = @userId AND type = @type AND deleted_at IS NULL
       AND (queued_at IS NOT NULL OR upstream_id IS NOT NULL)
       AND (@email IS NULL OR COALESCE(email, pinned_email) = @email)`;
    const params = { userId, type: filter.type, email: filter.email ?? null };
    const rows = this.sql
      .get(`SELECT * FROM jobs WHERE ${where} ORDER BY id DESC LIMIT @limit OFFSET @offset`)
      .all({ ...params, limit: filter.limit, offset: filter.offset }) as JobRow[];
    const total = this.sql.get(`SELECT COUNT(*) AS n FROM jobs WHERE ${where}`).get(params) as { n: number };
    return { jobs: rows.map(jobFromRow), total: Number(total.n) };
  }
}
