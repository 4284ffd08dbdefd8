/** Enqueue: a job waits in the tenant's queue, within its bound (locks: see queue.ts). */
import type pg from 'pg';
import type { EnqueueInput, EnqueueResult } from '../store.ts';
import { assertQueueRank, tokenKey, NO_TOKEN_KEY } from '../fairness.ts';
import { jobFromRow, num, type JobRow } from '../rows.ts';
import type { Channels } from './notify.ts';
import { beginWith, execute, withTransaction } from './pool.ts';
import { claimKey, orKeyTaken } from './idempotency.ts';
import { ENQUEUE_LOCK, joinQueueUpsert, QUEUE_STATEMENTS } from './queueStatements.ts';

/** Joins the queue, inserts the job and announces it: one statement (two variants: with or without a token). */
function enqueueStatement(key: number): { name: string; text: string } {
  const withToken = key !== NO_TOKEN_KEY;
  return {
    name: withToken ? 'pixgate_q_enqueue_token' : 'pixgate_q_enqueue_none',
    text: `WITH joined AS (
       ${joinQueueUpsert('VALUES ($1, $13, $14)', '$1', key, '$13')}
     ), job AS (
       INSERT INTO jobs (user_id, token_id, email, pinned_email, max_jobs_override, priority, queue_rank, type, state, trace_id,
                         upstream_json, request_json, reply_url, reply_ref, created_at, queued_at, started_at, provider)
       VALUES ($1, $2, $3, $3, $4, $5, $16, $6, 'queued', $7, $8, $9, $10, $11, $12, $12, NULL, $17)
       RETURNING *
     )
     SELECT job.*, pg_notify($15, json_build_object('event', 'enqueue', 'userId', job.user_id, 'jobId', job.id)::text) AS notified
       FROM job`,
  };
}

/**
 * Inserts a queued job. Round trips: BEGIN + the tenant lock in one, then one statement that joins
 * the queue, inserts the job and queues its NOTIFY, then COMMIT (a pinned job: BEGIN, its account
 * check, then the tenant lock). The queue is never counted: users.queued_count is kept by triggers
 * (migration 3), so the cost does not grow with the queue.
 *
 * The bound stays exact under concurrent enqueues (any instance) because the counter is read under
 * the tenant's queue lock — users FOR NO KEY UPDATE, the lock this transaction takes anyway for the
 * fairness state — and on that very row: a lock that had to wait returns the row as the previous
 * holder committed it, counter included. Everything that raises the counter (enqueue, requeue)
 * holds that lock, and our insert raises it (trigger) before we let go; what lowers it (dispatch,
 * finish, expiry) can only make the value we read too high, never too low — a refusal at worst.
 * The same lock makes "this token had nothing queued → it joins at the tenant's virtual time"
 * exact against a concurrent dispatch.
 */
export async function enqueue(
  pool: pg.Pool,
  channels: Channels,
  input: EnqueueInput,
  maxQueueLength: number,
): Promise<EnqueueResult> {
  assertQueueRank(input.queueRank);
  return orKeyTaken(
    withTransaction(
      pool,
      async (tx): Promise<EnqueueResult> => {
        let tenant: pg.QueryResultRow | undefined;
        if (input.email !== null) {
          await beginWith(tx, QUEUE_STATEMENTS, []);
          // FOR KEY SHARE on the pinned account — the weakest row lock, and the one that is needed: a
          // concurrent deleteAccount() (which locks the row FOR UPDATE and then cancels the jobs pinned
          // to it) either runs wholly before us — we find no row and refuse — or waits for our commit
          // and then cancels the job we queued. Without it a job could be queued for an account deleted
          // a moment earlier and wait for it forever. It does not conflict with the FOR NO KEY UPDATE
          // that dispatch() and reserve() hold on the account, so a pinned enqueue never waits for them.
          const account = await tx.query({
            name: 'pixgate_q_enqueue_account',
            text: 'SELECT 1 FROM accounts WHERE user_id = $1 AND email = $2 FOR KEY SHARE',
            values: [input.userId, input.email],
          });
          if (account.rowCount === 0) return { ok: false, reason: 'unknown_account' };
          tenant = (await execute(tx, ENQUEUE_LOCK, [input.userId]))[0];
          if (!tenant) return { ok: false, reason: 'unknown_account' };
        } else {
          // Unpinned: no account lock at all (the accounts are only checked for existence).
          tenant = (
            await beginWith(tx, QUEUE_STATEMENTS, [{ statement: ENQUEUE_LOCK, args: [input.userId] }])
          )[0]![0];
          if (!tenant?.has_accounts) return { ok: false, reason: 'no_accounts' };
        }
        const queued = num(tenant.queued_count as number);
        if (queued >= maxQueueLength) return { ok: false, reason: 'queue_full', queued };

        const key = tokenKey(input.tokenId);
        const res = await tx.query<JobRow>({
          ...enqueueStatement(key),
          values: [
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
            key,
            Number(tenant.queue_vtime),
            channels.queue,
            input.queueRank,
            input.provider,
          ],
        });
        const job = jobFromRow(res.rows[0]!);
        // Its NOTIFY above is only delivered at COMMIT, so a taken key (which rolls back) announces nothing.
        if (input.idempotency)
          await claimKey(tx, input.userId, input.tokenId, job.id, input.idempotency, input.now);
        return { ok: true, job };
      },
      { fnBegins: true },
    ),
  );
}
