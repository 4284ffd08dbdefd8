/**
 * The queue's SQL shared by enqueue (queueEnqueue.ts), dispatch (queue.ts) and requeue
 * (queueLifecycle.ts): the statements a queue transaction starts with, and the upsert by which a
 * token joins the queue. The lock order they follow is described in queue.ts.
 */
import { NO_TOKEN_KEY } from '../fairness.ts';
import { ACCOUNT_COLUMNS } from './admission.ts';
import type { SqlStatement } from './pool.ts';
import { QUEUE_ORDER } from './queueCandidates.ts';
import { SLOT_HOLDERS_OF_USER } from '../sql/states.ts';
/**
 * Spelling out jobs_queue's leading columns in an ORDER BY (constant within the rows the query
 * selects, so the order is unchanged) makes "the first queued row" an index seek on the partial
 * index in every case. Without it the planner may walk another index over the tenant's whole job
 * history and filter on the state (it does when most rows are queued, or the statistics are stale);
 * and `x IS NULL`, unlike `x = $1`, does not tell it that a column is constant. Not usable inside
 * EXISTS (PostgreSQL drops its ORDER BY), hence the scalar subqueries. Where a query wants a line's
 * best jobs rather than any one (queueCandidates.ts), the ORDER BY goes on with the index's remaining
 * columns exactly as the index has them — priority DESC, queue_rank, id (migration 4), compareQueued's
 * order — so the rows come out of the index already sorted and the LIMIT stops the scan.
 */

/** SQL condition selecting one token's jobs (key 0 stands for jobs without a token). */
export function tokenCondition(key: number, param: string): string {
  return key === NO_TOKEN_KEY ? 'token_id IS NULL' : `token_id = ${param}`;
}

// ── statements run at the start of a transaction (pool.ts beginWith) ─────

/** The tenant's queue lock (level 2), with what enqueue checks under it. */
export const ENQUEUE_LOCK: SqlStatement = {
  name: 'pixgate_q_enqueue_lock',
  types: 'bigint',
  text: `SELECT queue_vtime, queued_count, EXISTS (SELECT 1 FROM accounts WHERE user_id = $1) AS has_accounts
           FROM users WHERE id = $1 FOR NO KEY UPDATE`,
};

/** Level 1 for dispatch: every account of the tenant, in email byte order (as admission.ts lockAccounts). */
export const DISPATCH_LOCK_ACCOUNTS: SqlStatement = {
  name: 'pixgate_q_lock_accounts',
  types: 'bigint',
  text: `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE user_id = $1 ORDER BY email COLLATE "C" FOR NO KEY UPDATE`,
};

/** Level 2: the tenant's queue lock, with the fairness clock and the queue length. */
export const TENANT_LOCK: SqlStatement = {
  name: 'pixgate_q_lock_tenant',
  types: 'bigint',
  text: 'SELECT queue_vtime, queued_count FROM users WHERE id = $1 FOR NO KEY UPDATE',
};

/**
 * Slot holders per account (partial index jobs_active_per_account: the cost follows the live jobs,
 * not the history). Its own statement after the locks, so its snapshot includes every job the
 * previous lock holder bound (see admission.ts).
 */
export const DISPATCH_SLOTS: SqlStatement = {
  name: 'pixgate_q_slots',
  types: 'bigint',
  text: `SELECT email, count(*)::int AS n FROM (${SLOT_HOLDERS_OF_USER}) holders GROUP BY email`,
};

/**
 * The tenant's tokens that have queued jobs, with their pass and weight. The distinct token ids
 * come from a skip scan of jobs_queue (one index seek per token, not a read of the whole queue);
 * jobs without a token are key 0.
 */
export const DISPATCH_TURNS: SqlStatement = {
  name: 'pixgate_q_turns',
  types: 'bigint',
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
};

export const QUEUE_STATEMENTS = [
  ENQUEUE_LOCK,
  DISPATCH_LOCK_ACCOUNTS,
  TENANT_LOCK,
  DISPATCH_SLOTS,
  DISPATCH_TURNS,
];

/**
 * A token joins the queue, as part of the statement that queues its job: with nothing queued it
 * starts at max(its pass, the tenant's vtime) — time spent idle is not credited; with jobs already
 * queued its pass is left alone (the row is only created, at vtime, if missing). "Nothing queued"
 * is judged on the statement's snapshot, which does not include the job the same statement inserts
 * (or puts back). `$key` is the token key, `$vtime` the vtime read under the tenant lock.
 */
export function joinQueueUpsert(source: string, userId: string, key: number, keyParam: string): string {
  return `INSERT INTO queue_passes (user_id, token_key, pass) ${source}
     ON CONFLICT (user_id, token_key) DO UPDATE SET pass = GREATEST(queue_passes.pass, EXCLUDED.pass)
      WHERE (SELECT 1 FROM jobs WHERE user_id = ${userId} AND state = 'queued' AND ${tokenCondition(key, keyParam)}
             ${QUEUE_ORDER} LIMIT 1) IS NULL`;
}
