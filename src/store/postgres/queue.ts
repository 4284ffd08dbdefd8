/**
 * The queue (late binding): jobs wait without an account and without a slot, and dispatch()
 * binds the next one fairly when a slot is free.
 *
 * Locks, always taken in this order (so no two of these transactions ever deadlock):
 *   1. account rows, FOR UPDATE, in email byte order — exactly as reserve() takes them
 *      (admission.ts). dispatch() counts slots and binds a job under them, so a dispatch and a
 *      reserve (or two dispatches, on any instances) can never both fill the last slot of an account.
 *      enqueue() of a pinned job takes FOR KEY SHARE on its account only (see deleteAccount).
 *   2. the tenant's users row, FOR NO KEY UPDATE: the tenant's queue lock. Every read-modify-write
 *      of the fairness state (queue_passes, users.queue_vtime) and every "count the queue, then
 *      insert" happens under it. NO KEY UPDATE, not UPDATE, so it never blocks the FOR KEY SHARE
 *      that inserting a job (foreign key to users) takes.
 *   3. job rows (the picked job, FOR UPDATE SKIP LOCKED; requeue's compare-and-swap), then
 *      queue_passes rows.
 * Transitions that touch only job rows (finish, expire*, markRunning) take no lock of levels 1–2
 * while holding a job lock, and dispatch never waits for a job lock (SKIP LOCKED), so no cycle
 * can form.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Job } from '../../domain/job.ts';
import type { Dispatched, EnqueueInput, EnqueueResult } from '../store.ts';
import { chooseAccount, fitClasses, passStride, tokenKey, NO_TOKEN_KEY, type FitClass } from '../fairness.ts';
import { jobFromRow, type JobRow } from '../rows.ts';
import { loadsOf, lockAccounts } from './admission.ts';
import { notify, type Channels } from './notify.ts';
import { writeOutbox, type OutboxRef } from './outbox.ts';
import { withTransaction, type Queryable } from './pool.ts';

/**
 * Spelling out jobs_queue's leading columns in an ORDER BY (constant within the rows the query
 * selects, so the order is unchanged) makes "the first queued row" an index seek on the partial
 * index in every case. Without it the planner may walk another index over the tenant's whole job
 * history and filter on the state (it does when most rows are queued, or the statistics are stale);
 * and `x IS NULL`, unlike `x = $1`, does not tell it that a column is constant. Not usable inside
 * EXISTS (PostgreSQL drops its ORDER BY), hence the scalar subqueries.
 */
const QUEUE_ORDER = 'ORDER BY user_id, token_id, pinned_email, max_jobs_override';

/** SQL condition selecting one token's jobs (key 0 stands for jobs without a token). */
function tokenCondition(key: number, param: string): string {
  return key === NO_TOKEN_KEY ? 'token_id IS NULL' : `token_id = ${param}`;
}

/**
 * Takes the tenant's queue lock (level 2 above) and returns its virtual time. Throws for an
 * unknown tenant (the contract has no answer for it; the caller passed a bad id).
 */
async function lockTenant(tx: pg.PoolClient, userId: number): Promise<number> {
  const res = await tx.query<{ queue_vtime: number }>({
    name: 'pixgate_lock_tenant',
    text: 'SELECT queue_vtime FROM users WHERE id = $1 FOR NO KEY UPDATE',
    values: [userId],
  });
  if (!res.rows[0]) throw new Error(`unknown user ${userId}`);
  return Number(res.rows[0].queue_vtime);
}

/**
 * A token joins the queue (under the tenant's queue lock). With nothing queued it starts at
 * max(its pass, the tenant's vtime) — time spent idle is not credited; with jobs already queued
 * its pass is left alone (the row is only created, at vtime, if missing). `exceptJobId` is a job
 * the caller is putting back into the queue in this transaction, which must not count as waiting.
 */
async function joinQueue(tx: pg.PoolClient, userId: number, tokenId: number | null, vtime: number, exceptJobId = 0): Promise<void> {
  const key = tokenKey(tokenId);
  const waiting = await tx.query(
    `SELECT 1 FROM jobs WHERE user_id = $1 AND state = 'queued' AND id <> $2 AND ${tokenCondition(key, '$3')}
      ${QUEUE_ORDER} LIMIT 1`,
    key === NO_TOKEN_KEY ? [userId, exceptJobId] : [userId, exceptJobId, key],
  );
  await tx.query(
    `INSERT INTO queue_passes (user_id, token_key, pass) VALUES ($1, $2, $3)
     ON CONFLICT (user_id, token_key) DO ${waiting.rowCount === 0 ? 'UPDATE SET pass = GREATEST(queue_passes.pass, EXCLUDED.pass)' : 'NOTHING'}`,
    [userId, key, vtime],
  );
}

/**
 * Inserts a queued job. Under the tenant's queue lock, so concurrent enqueues of one tenant (on
 * any instance) count and insert one after the other: without it two of them could both count
 * maxQueueLength - 1 and both insert. The same lock makes "this token had nothing queued → it
 * joins at the tenant's virtual time" exact against a concurrent dispatch.
 */
export async function enqueue(pool: pg.Pool, channels: Channels, input: EnqueueInput, maxQueueLength: number): Promise<EnqueueResult> {
  return withTransaction(pool, async (tx) => {
    if (input.email !== null) {
      // FOR KEY SHARE on the pinned account: a concurrent deleteAccount() (which locks the row FOR
      // UPDATE and then cancels the jobs pinned to it) either runs wholly before us — we find no row
      // and refuse — or waits for our commit and then cancels the job we queued. Without the lock a
      // job could be queued for an account deleted a moment earlier and wait for it forever.
      const account = await tx.query('SELECT 1 FROM accounts WHERE user_id = $1 AND email = $2 FOR KEY SHARE', [input.userId, input.email]);
      if (account.rowCount === 0) return { ok: false, reason: 'unknown_account' };
    } else {
      const any = await tx.query('SELECT 1 FROM accounts WHERE user_id = $1 LIMIT 1', [input.userId]);
      if (any.rowCount === 0) return { ok: false, reason: 'no_accounts' };
    }
    const vtime = await lockTenant(tx, input.userId);
    const counted = await tx.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM jobs WHERE user_id = $1 AND state = 'queued'`,
      [input.userId],
    );
    const queued = counted.rows[0]!.n;
    if (queued >= maxQueueLength) return { ok: false, reason: 'queue_full', queued };

    await joinQueue(tx, input.userId, input.tokenId, vtime);

    const res = await tx.query<JobRow>(
      `INSERT INTO jobs (user_id, token_id, email, pinned_email, max_jobs_override, priority, type, state, trace_id,
                         upstream_json, request_json, reply_url, reply_ref, created_at, queued_at, started_at)
       VALUES ($1, $2, $3, $3, $4, $5, $6, 'queued', $7, $8, $9, $10, $11, $12, $12, NULL)
       RETURNING *`,
      [
        input.userId,
        input.tokenId,
        input.email,
        input.maxJobsOverride,
        input.priority,
        input.type,
        input.traceId,
        JSON.stringify(input.upstream),
        JSON.stringify(input.request),
        input.replyUrl,
        input.replyRef,
        input.now,
      ],
    );
    const job = jobFromRow(res.rows[0]!);
    await notify(tx, channels.queue, { event: 'enqueue', userId: job.userId, jobId: job.id });
    return { ok: true, job };
  });
}

interface TokenTurn {
  key: number;
  pass: number;
  weight: number;
}

/**
 * The tenant's tokens that have queued jobs, with their pass and weight, in turn order (smallest
 * pass first, ties to the lower key). The distinct token ids come from a skip scan of jobs_queue
 * (one index seek per token, not a read of the whole queue); jobs without a token are key 0.
 */
async function tokensInTurn(tx: pg.PoolClient, userId: number): Promise<TokenTurn[]> {
  const res = await tx.query<{ key: number; pass: number; weight: number }>({
    name: 'pixgate_tokens_in_turn',
    text: `WITH RECURSIVE t(key) AS (
       (SELECT token_id FROM jobs WHERE user_id = $1 AND state = 'queued' AND token_id IS NOT NULL ORDER BY token_id LIMIT 1)
       UNION ALL
       SELECT (SELECT j.token_id FROM jobs j
                WHERE j.user_id = $1 AND j.state = 'queued' AND j.token_id > t.key
                ORDER BY j.token_id LIMIT 1)
         FROM t WHERE t.key IS NOT NULL
     ), keys(key) AS (
       SELECT key FROM t WHERE key IS NOT NULL
       UNION ALL
       SELECT ${NO_TOKEN_KEY}::bigint
        WHERE (SELECT 1 FROM jobs WHERE user_id = $1 AND state = 'queued' AND token_id IS NULL ${QUEUE_ORDER} LIMIT 1) = 1
     )
     SELECT keys.key, COALESCE(p.pass, 0) AS pass, COALESCE(tk.weight, 1) AS weight
       FROM keys
       LEFT JOIN queue_passes p ON p.user_id = $1 AND p.token_key = keys.key
       LEFT JOIN tokens tk ON tk.id = keys.key`,
    values: [userId],
  });
  return res.rows
    .map((row) => ({ key: Number(row.key), pass: Number(row.pass), weight: Number(row.weight) }))
    .sort((a, b) => a.pass - b.pass || a.key - b.key);
}

/** What dispatch needs of a head to bind it (a queued job's pin and override never change). */
interface Head {
  id: number;
  pinnedEmail: string | null;
  maxJobsOverride: number | null;
}
const HEAD_COLUMNS = 'id, priority, pinned_email, max_jobs_override';

/**
 * A token's next fitting job: the best (priority DESC, id) among the heads of its
 * lines. A line is (pinned account, override) within the token — for each fit class (fairness.ts),
 * the jobs without override when the class's plain limit has room, and for each distinct override
 * above the class's load the jobs with that override. Each head is one LIMIT 1 seek on jobs_queue;
 * the distinct overrides come from a skip scan. So the cost is a few seeks per class, never a
 * read of the queue, however long it is or however many of its jobs do not fit.
 *
 * Every ORDER BY spells out the index's leading columns: they are constant within a line, so the
 * order is the same, but it lets the planner see that the index already delivers it even where
 * a column is matched by IS NULL (which, unlike "=", does not make it a known constant).
 */
async function headOfToken(
  tx: pg.PoolClient,
  userId: number,
  key: number,
  classes: readonly FitClass[],
  skip: readonly number[],
): Promise<Head | null> {
  if (classes.length === 0) return null;
  const values: unknown[] = [userId, skip];
  const param = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  const token = tokenCondition(key, key === NO_TOKEN_KEY ? '' : param(key));
  const order = QUEUE_ORDER;
  const ctes: string[] = [];
  const arms: string[] = [];
  classes.forEach((cls, i) => {
    const pinned = cls.pinnedEmail === null ? 'pinned_email IS NULL' : `pinned_email = ${param(cls.pinnedEmail)}`;
    const line = `user_id = $1 AND state = 'queued' AND ${token} AND ${pinned} AND id <> ALL($2::bigint[])`;
    // plainFits as a parameter, not a text variant: a one-time filter in the plan.
    const plainFits = param(cls.plainFits);
    arms.push(
      `(SELECT ${HEAD_COLUMNS} FROM jobs WHERE ${line} AND max_jobs_override IS NULL AND ${plainFits}::boolean
         ${order}, priority DESC, id LIMIT 1)`,
    );
    const above = param(cls.overrideAbove);
    ctes.push(
      `o${i}(v) AS (
         (SELECT max_jobs_override FROM jobs WHERE ${line} AND max_jobs_override > ${above} ${order} LIMIT 1)
         UNION ALL
         SELECT (SELECT max_jobs_override FROM jobs WHERE ${line} AND max_jobs_override > o${i}.v ${order} LIMIT 1)
           FROM o${i} WHERE o${i}.v IS NOT NULL
       )`,
    );
    arms.push(
      `(SELECT h.* FROM o${i} CROSS JOIN LATERAL
         (SELECT ${HEAD_COLUMNS} FROM jobs WHERE ${line} AND max_jobs_override = o${i}.v ${order}, priority DESC, id LIMIT 1) h)`,
    );
  });
  const text = `WITH RECURSIVE ${ctes.join(',\n')}
     SELECT * FROM (${arms.join('\nUNION ALL\n')}) heads
      ORDER BY priority DESC, id
      LIMIT 1`;
  // A named (prepared) statement: the text depends only on how many accounts are healthy and on
  // whether the token is null (everything else is a parameter), so each connection prepares a
  // handful of variants once instead of re-planning this many-armed query on every dispatch.
  const name = `pixgate_head_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
  const res = await tx.query<{ id: number; pinned_email: string | null; max_jobs_override: number | null }>({ name, text, values });
  const row = res.rows[0];
  if (!row) return null;
  return { id: Number(row.id), pinnedEmail: row.pinned_email, maxJobsOverride: row.max_jobs_override === null ? null : Number(row.max_jobs_override) };
}

/**
 * One fair dispatch step for a tenant, in one transaction:
 *   lock the tenant's accounts → lock the tenant's queue → count loads → walk the tokens in turn
 *   order → find the token's best fitting head → lock it, bind it, advance the token's pass and
 *   the tenant's vtime (one statement).
 */
export async function dispatch(
  pool: pg.Pool,
  channels: Channels,
  userId: number,
  now: number,
  random?: () => number,
): Promise<Dispatched | null> {
  // Unlocked pre-check, so dispatchers woken for a tenant with an empty queue (every freed slot
  // wakes them) do not contend with reserve() for the account locks. A job queued just after this
  // read announces itself on the queue channel, which wakes the dispatcher again.
  const any = await pool.query({
    name: 'pixgate_dispatch_any',
    text: `SELECT 1 FROM jobs WHERE user_id = $1 AND state = 'queued' ${QUEUE_ORDER} LIMIT 1`,
    values: [userId],
  });
  if (any.rowCount === 0) return null;

  return withTransaction(pool, async (tx) => {
    // Race prevented: two dispatches (any instances), or a dispatch and a reserve(), both counting
    // the same free slot and both binding a job to it. The account rows are locked FOR UPDATE in
    // email order, as reserve() does, so they queue behind each other; the loads are then counted
    // by a later statement, whose snapshot includes everything the previous lock holder committed.
    const accounts = await lockAccounts(tx, userId, null);
    if (accounts.length === 0) return null;
    // Race prevented: a concurrent enqueue() reading the queue state (has this token anything
    // queued? what is the tenant's vtime?) half-way through our pass/vtime update. Serialises the
    // fairness state of the tenant; see the file comment for the order.
    await lockTenant(tx, userId);
    const loads = await loadsOf(tx, userId, accounts);
    const classes = fitClasses(loads, now);
    if (classes.length === 0) return null;

    for (const turn of await tokensInTurn(tx, userId)) {
      const skipped: number[] = [];
      for (;;) {
        const head = await headOfToken(tx, userId, turn.key, classes, skipped);
        if (!head) break;
        const choice = chooseAccount(loads, { email: head.pinnedEmail, maxJobsOverride: head.maxJobsOverride, now, random });
        if (!choice.ok) {
          // Cannot happen: the head query only returns jobs that fit. Skip rather than trust it.
          skipped.push(head.id);
          continue;
        }
        // One statement binds the job, advances the token's pass and moves the tenant's vtime.
        // Race prevented by `picked`: a job being cancelled or expired at this moment (finish(),
        // deleteAccount(), expireQueued() hold its row lock) must not also be dispatched. SKIP
        // LOCKED: do not wait for them — if the row is locked, the token's next head is taken
        // instead. A row changed and committed since the head query is re-checked by FOR UPDATE
        // against its latest version, so a job no longer queued drops out the same way; the pass
        // and vtime updates only happen when a job was bound.
        const stride = passStride(turn.weight);
        const bound = await tx.query<JobRow>({
          name: 'pixgate_dispatch_bind',
          text: `WITH picked AS (
             SELECT id FROM jobs WHERE id = $1 AND state = 'queued' FOR UPDATE SKIP LOCKED
           ), bound AS (
             UPDATE jobs SET state = 'submitting', email = $2, started_at = $3,
                             lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
               FROM picked
              WHERE jobs.id = picked.id
              RETURNING jobs.*
           ), advanced AS (
             INSERT INTO queue_passes (user_id, token_key, pass)
             SELECT $4, $5, $6::double precision + $7::double precision FROM bound
             ON CONFLICT (user_id, token_key) DO UPDATE SET pass = queue_passes.pass + $7::double precision
           ), clock AS (
             UPDATE users SET queue_vtime = $6 WHERE id = $4 AND EXISTS (SELECT 1 FROM bound)
           )
           SELECT * FROM bound`,
          values: [head.id, choice.account.email, now, userId, turn.key, turn.pass, stride],
        });
        const row = bound.rows[0];
        if (!row) {
          skipped.push(head.id);
          continue;
        }
        return { job: jobFromRow(row), account: choice.account };
      }
    }
    return null;
  });
}

/**
 * submitting → queued (compare-and-swap), back on its pinned account or none, slot released, and
 * its token (re)joins the queue as in enqueue(). Wakes dispatchers twice over: the job is queued
 * again and its slot is free.
 */
export async function requeue(pool: pg.Pool, channels: Channels, jobId: number): Promise<boolean> {
  const found = await pool.query<{ user_id: number }>('SELECT user_id FROM jobs WHERE id = $1', [jobId]);
  if (!found.rows[0]) return false;
  const userId = Number(found.rows[0].user_id);
  return withTransaction(pool, async (tx) => {
    // The tenant's queue lock first (the documented order), then the job row via the CAS.
    const vtime = await lockTenant(tx, userId);
    const res = await tx.query<JobRow>(
      `UPDATE jobs
          SET state = 'queued', email = pinned_email, started_at = NULL, next_poll_at = NULL,
              lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
        WHERE id = $1 AND state = 'submitting'
        RETURNING *`,
      [jobId],
    );
    const row = res.rows[0];
    if (!row) return false;
    const job = jobFromRow(row);
    await joinQueue(tx, userId, job.tokenId, vtime, job.id);
    const payload = { event: 'requeue', userId, jobId: job.id };
    await notify(tx, channels.queue, payload);
    await notify(tx, channels.slots, payload);
    return true;
  });
}

/**
 * Tenants with queued jobs, ascending: one seek on jobs_queue_age per tenant (tenants are few; the
 * queue may be long). LATERAL … ORDER BY LIMIT 1 rather than EXISTS, so the partial index is used
 * (see QUEUE_ORDER).
 */
export async function queuedUsers(db: Queryable): Promise<number[]> {
  const res = await db.query<{ id: number }>(
    `SELECT u.id FROM users u
      CROSS JOIN LATERAL (SELECT 1 FROM jobs j WHERE j.user_id = u.id AND j.state = 'queued' ORDER BY j.created_at LIMIT 1) q
      ORDER BY u.id`,
  );
  return res.rows.map((row) => Number(row.id));
}

export async function queuedJobs(db: Queryable, userId: number, limit: number): Promise<Job[]> {
  if (limit <= 0) return [];
  const res = await db.query<JobRow>(
    `SELECT * FROM jobs WHERE user_id = $1 AND state = 'queued' ORDER BY created_at, id LIMIT $2`,
    [userId, limit],
  );
  return res.rows.map(jobFromRow);
}

export async function countQueued(db: Queryable, userId: number): Promise<number> {
  const res = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE user_id = $1 AND state = 'queued'`, [userId]);
  return res.rows[0]!.n;
}

/**
 * Queued jobs that waited longer than their tenant's max_queue_wait_ms become timed_out, with
 * their callbacks, in one transaction. A compare-and-swap on the state like every transition:
 * a job dispatched or cancelled at the same moment is re-checked after its row lock and skipped.
 */
export async function expireQueued(pool: pg.Pool, channels: Channels, outbox: OutboxRef, now: number, error: string): Promise<Job[]> {
  // First the tenants whose oldest queued job is overdue (one index seek per tenant, no lock), so
  // a sweep with nothing to expire reads no queue; then, per such tenant, a range scan of
  // jobs_queue_age up to its own cut-off. A tenant found here whose jobs were dispatched meanwhile
  // simply updates nothing.
  const due = await pool.query<{ id: number; cutoff: number }>(
    `SELECT u.id, $1::bigint - u.max_queue_wait_ms AS cutoff
       FROM users u
      CROSS JOIN LATERAL (SELECT j.created_at FROM jobs j WHERE j.user_id = u.id AND j.state = 'queued'
                           ORDER BY j.created_at LIMIT 1) oldest
      WHERE oldest.created_at < $1::bigint - u.max_queue_wait_ms
      ORDER BY u.id`,
    [now],
  );
  if (due.rows.length === 0) return [];
  return withTransaction(pool, async (tx) => {
    const expired: Job[] = [];
    for (const tenant of due.rows) {
      const res = await tx.query<JobRow>(
        `UPDATE jobs
            SET state = 'timed_out', finished_at = $3, error = $4, next_poll_at = NULL,
                lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
          WHERE user_id = $1 AND state = 'queued' AND created_at < $2
          RETURNING *`,
        [tenant.id, tenant.cutoff, now, error],
      );
      expired.push(...res.rows.map(jobFromRow));
    }
    expired.sort((a, b) => a.id - b.id);
    await writeOutbox(tx, channels, outbox, expired, 'final', now);
    return expired;
  });
}
