/**
 * The queue (late binding): enqueue, fair dispatch, requeue, and the queue's reads and expiry.
 *
 * dispatch() is the queue's counterpart of reserve() — design invariant 1 holds the same way: the
 * account loads are read, a job is picked and bound, and the token's pass advanced in ONE
 * `BEGIN IMMEDIATE` transaction, so no other connection can take the slot in between.
 * dispatchBatch() runs up to `limit` such steps in one transaction (dispatch() is a batch of one).
 *
 * It never reads the whole queue. The partial index `jobs_queue` orders a tenant's queued jobs by
 * (token, pinned account, override, priority DESC, queue_rank, id), so the best job of one "line" — one token,
 * one pin (or none), one override value (or none) — is a single LIMIT-1 seek. Tokens are visited in
 * pass order (see ../fairness.ts); for each, the lines that can fit a free slot now (fitClasses) are
 * probed and the best head across them wins. The first token with any fitting job is served.
 * Cost: a few seeks per (token, healthy account), independent of the queue's length.
 */
import type { Job } from '../../domain/job.ts';
import type { AccountLoad, Dispatched, EnqueueInput, EnqueueResult } from '../store.ts';
import { accountFromRow, jobFromRow, type JobRow } from '../rows.ts';
import {
  assertQueueRank,
  chooseAccount,
  compareQueued,
  fitClasses,
  passStride,
  QUEUE_ORDER_SQL,
  tokenIdOfKey,
  tokenKey,
} from '../fairness.ts';
import { immediate, type Db, type StatementCache } from './database.ts';
import { LOADS_SQL, type LoadRow } from '../sql/accounts.ts';
import { CLEAR_LEASE } from '../sql/states.ts';
import { KeyTakenRollback } from '../idempotency.ts';
import type { IdempotencyQueries } from './idempotency.ts';

/** A tenant's tokens that ever queued, in service order; the pseudo-token 0 has weight 1. */
export const PASSES_SQL = `
  SELECT q.token_key, q.pass, COALESCE(t.weight, 1) AS weight
    FROM queue_passes q LEFT JOIN tokens t ON t.id = q.token_key
   WHERE q.user_id = ?
   ORDER BY q.pass, q.token_key`;

export const HAS_QUEUED_SQL = `
  SELECT 1 AS x FROM jobs
   WHERE user_id = @userId AND state = 'queued' AND token_id IS @tokenId
   LIMIT 1`;

/**
 * Best job of one line without override. `IS` matches NULL token/pin as an index equality. The ORDER BY
 * is jobs_queue's columns after the equalities (priority DESC, queue_rank, id — compareQueued's order),
 * so the head is the first index entry of the line: a seek, no sort.
 */
export const PLAIN_HEAD_SQL = `
  SELECT * FROM jobs
   WHERE user_id = @userId AND state = 'queued' AND token_id IS @tokenId AND pinned_email IS @pinned
     AND max_jobs_override IS NULL
   ORDER BY ${QUEUE_ORDER_SQL}
   LIMIT 1`;

/** Best job of the lowest override value above @above (walk the values by raising @above); index order as above. */
export const OVERRIDE_HEAD_SQL = `
  SELECT * FROM jobs
   WHERE user_id = @userId AND state = 'queued' AND token_id IS @tokenId AND pinned_email IS @pinned
     AND max_jobs_override > @above
   ORDER BY max_jobs_override, ${QUEUE_ORDER_SQL}
   LIMIT 1`;

/**
 * A token joins the queue: with nothing queued it starts at max(its pass, the tenant's vtime);
 * with jobs already queued its pass is left alone (the row is only created if missing).
 */
const JOIN_IDLE_SQL = `
  INSERT INTO queue_passes (user_id, token_key, pass)
  SELECT id, @key, queue_vtime FROM users WHERE id = @userId
  ON CONFLICT (user_id, token_key) DO UPDATE SET pass = MAX(pass, excluded.pass)`;
const JOIN_BUSY_SQL = `
  INSERT INTO queue_passes (user_id, token_key, pass)
  SELECT id, @key, queue_vtime FROM users WHERE id = @userId
  ON CONFLICT (user_id, token_key) DO NOTHING`;

/** O(1): users.queued_count is kept by triggers (see migration 2). */
export const COUNT_QUEUED_SQL = `SELECT queued_count AS n FROM users WHERE id = ?`;

interface PassRow {
  token_key: number;
  pass: number;
  weight: number;
}

export class QueueQueries {
  private readonly enqueueTx: (input: EnqueueInput, maxQueueLength: number) => EnqueueResult;
  private readonly dispatchTx: (
    userId: number,
    now: number,
    limit: number,
    random?: () => number,
  ) => Dispatched[];
  private readonly requeueTx: (jobId: number, now: number) => boolean;

  constructor(
    db: Db,
    private readonly sql: StatementCache,
    idempotency: IdempotencyQueries,
  ) {
    this.enqueueTx = immediate(db, (input: EnqueueInput, maxQueueLength: number): EnqueueResult => {
      if (input.email !== null) {
        if (
          !this.sql
            .get('SELECT 1 AS x FROM accounts WHERE user_id = ? AND email = ?')
            .get(input.userId, input.email)
        ) {
          return { ok: false, reason: 'unknown_account' };
        }
      } else if (!this.sql.get('SELECT 1 AS x FROM accounts WHERE user_id = ? LIMIT 1').get(input.userId)) {
        return { ok: false, reason: 'no_accounts' };
      }
      const queued = this.countQueued(input.userId);
      if (queued >= maxQueueLength) return { ok: false, reason: 'queue_full', queued };
      this.joinQueue(input.userId, input.tokenId);
      // created_at = queued_at = now; email is the pinned account (or NULL until dispatch binds one).
      const row = this.sql
        .get(
          `INSERT INTO jobs (user_id, token_id, provider, email, pinned_email, type, state, trace_id, upstream_json, request_json,
                             reply_url, reply_ref, priority, queue_rank, max_jobs_override, created_at, queued_at, started_at)
           VALUES (@userId, @tokenId, @provider, @email, @email, @type, 'queued', @traceId, @upstream, @request,
                   @replyUrl, @replyRef, @priority, @queueRank, @maxJobsOverride, @now, @now, NULL)
           RETURNING *`,
        )
        .get({
          userId: input.userId,
          tokenId: input.tokenId,
          provider: input.provider,
          email: input.email,
          type: input.type,
          traceId: input.traceId,
          upstream: JSON.stringify(input.upstream),
          request: JSON.stringify(input.request),
          replyUrl: input.replyUrl,
          replyRef: input.replyRef,
          priority: input.priority,
          queueRank: input.queueRank,
          maxJobsOverride: input.maxJobsOverride,
          now: input.now,
        }) as JobRow;
      const job = jobFromRow(row);
      if (input.idempotency)
        idempotency.claim(input.userId, input.tokenId, job.id, input.idempotency, input.now);
      return { ok: true, job };
    });

    // dispatch() is a batch of one. A batch reads the loads once and keeps them in memory as it
    // binds (nothing else can write while BEGIN IMMEDIATE holds the write lock, so they stay exact);
    // each step is otherwise the single step below, reading the passes its predecessor wrote.
    this.dispatchTx = immediate(
      db,
      (userId: number, now: number, limit: number, random?: () => number): Dispatched[] => {
        const dispatched: Dispatched[] = [];
        if (!(limit >= 1)) return dispatched;
        limit = Math.floor(limit);
        const loads: AccountLoad[] = (this.sql.get(LOADS_SQL).all(userId) as LoadRow[]).map((r) => ({
          account: accountFromRow(r),
          executing: r.executing,
        }));
        while (dispatched.length < limit) {
          const next = this.step(userId, now, loads, random);
          if (!next) break;
          dispatched.push(next);
        }
        return dispatched;
      },
    );

    this.requeueTx = immediate(db, (jobId: number, _now: number): boolean => {
      const row = this.sql
        .get(`SELECT user_id, token_id FROM jobs WHERE id = ? AND state = 'submitting'`)
        .get(jobId) as { user_id: number; token_id: number | null } | undefined;
      if (!row) return false;
      // Join before the job is back in the queue, so "had nothing queued" is judged without it.
      this.joinQueue(row.user_id, row.token_id);
      // The job keeps its queue rank: it goes back to the place it had, not to the end. A job admitted
      // directly by reserve() never had one; it gets created_at (the rank migration 4 gave the jobs it
      // found queued), so no queued row is ever without a rank.
      this.sql
        .get(
          `UPDATE jobs SET state = 'queued', email = pinned_email, started_at = NULL, next_poll_at = NULL,
                           queue_rank = COALESCE(queue_rank, created_at), ${CLEAR_LEASE}
            WHERE id = ? AND state = 'submitting'`,
        )
        .run(jobId);
      return true;
    });
  }

  /**
   * One dispatch step on `loads` (the tenant's accounts with their slot holders, updated here when
   * a job is bound): the first token in pass order with a fitting job gets its best one.
   */
  private step(userId: number, now: number, loads: AccountLoad[], random?: () => number): Dispatched | null {
    const classes = fitClasses(loads, now);
    if (classes.length === 0) return null;
    const plain = this.sql.get(PLAIN_HEAD_SQL);
    const override = this.sql.get(OVERRIDE_HEAD_SQL);
    const hasQueued = this.sql.get(HAS_QUEUED_SQL);

    for (const token of this.sql.get(PASSES_SQL).all(userId) as PassRow[]) {
      const tokenId = tokenIdOfKey(token.token_key);
      if (!hasQueued.get({ userId, tokenId })) continue;
      const heads: JobRow[] = [];
      for (const c of classes) {
        const line = { userId, tokenId, pinned: c.pinnedEmail };
        if (c.plainFits) {
          const row = plain.get(line) as JobRow | undefined;
          if (row) heads.push(row);
        }
        // Override values are few (1..MAX_JOBS_LIMIT): one seek per distinct value that fits.
        for (let above = c.overrideAbove; ; ) {
          const row = override.get({ ...line, above }) as JobRow | undefined;
          if (!row) break;
          heads.push(row);
          above = Number(row.max_jobs_override);
        }
      }
      const best = heads.map(jobFromRow).sort(compareQueued)[0];
      if (!best) continue;
      return this.bind(best, token, loads, now, random);
    }
    return null;
  }

  /** Binds the picked job to its account, moves it to submitting, advances the token's pass and counts the slot in `loads`. */
  private bind(
    job: Job,
    token: PassRow,
    loads: AccountLoad[],
    now: number,
    random?: () => number,
  ): Dispatched {
    const choice = chooseAccount(loads, {
      email: job.pinnedEmail,
      maxJobsOverride: job.maxJobsOverride,
      now,
      random,
    });
    // fitClasses admitted this job, so chooseAccount must find it a slot; anything else is a bug.
    if (!choice.ok) throw new Error(`dispatch: job ${job.id} was picked but does not fit (${choice.reason})`);
    loads.find((l) => l.account === choice.account)!.executing++;
    const row = this.sql
      .get(
        `UPDATE jobs SET state = 'submitting', email = ?, started_at = ?
          WHERE id = ? AND state = 'queued'
        RETURNING *`,
      )
      .get(choice.account.email, now, job.id) as JobRow;
    this.sql
      .get('UPDATE queue_passes SET pass = pass + ? WHERE user_id = ? AND token_key = ?')
      .run(passStride(token.weight), job.userId, token.token_key);
    this.sql.get('UPDATE users SET queue_vtime = ? WHERE id = ?').run(token.pass, job.userId);
    return { job: jobFromRow(row), account: choice.account };
  }

  private joinQueue(userId: number, tokenId: number | null): void {
    const busy = this.sql.get(HAS_QUEUED_SQL).get({ userId, tokenId }) !== undefined;
    this.sql.get(busy ? JOIN_BUSY_SQL : JOIN_IDLE_SQL).run({ userId, key: tokenKey(tokenId) });
  }

  enqueue(input: EnqueueInput, maxQueueLength: number): EnqueueResult {
    assertQueueRank(input.queueRank);
    try {
      return this.enqueueTx(input, maxQueueLength);
    } catch (err) {
      if (err instanceof KeyTakenRollback) return { ok: false, reason: 'key_taken' };
      throw err;
    }
  }

  dispatch(userId: number, now: number, random?: () => number): Dispatched | null {
    return this.dispatchTx(userId, now, 1, random)[0] ?? null;
  }

  dispatchBatch(userId: number, now: number, limit: number, random?: () => number): Dispatched[] {
    return this.dispatchTx(userId, now, limit, random);
  }

  requeue(jobId: number, now: number): boolean {
    return this.requeueTx(jobId, now);
  }

  countQueued(userId: number): number {
    return (this.sql.get(COUNT_QUEUED_SQL).get(userId) as { n: number } | undefined)?.n ?? 0;
  }
}
