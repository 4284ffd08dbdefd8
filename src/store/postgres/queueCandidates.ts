/**
 * Reading dispatch candidates: each competing token's next fitting jobs, read in one query per
 * batch from the jobs_queue index (see queue.ts for the dispatch transaction that uses them).
 */
import type pg from 'pg';
import { NO_TOKEN_KEY, QUEUE_ORDER_SQL, type FitClass } from '../fairness.ts';

/** The leading columns of the jobs_queue index: queries ordered this way are index seeks. */
export const QUEUE_ORDER = 'ORDER BY user_id, token_id, pinned_email, max_jobs_override';
/**
 * The rest of jobs_queue (migration 4), in the index's own directions: a line's jobs in this order are
 * its index entries in order, and it is fairness.ts compareQueued's order, so the best `perLine` jobs
 * read here are the ones the planner in queue.ts would pick among.
 */
export const LINE_ORDER = QUEUE_ORDER_SQL;

export interface Turn {
  key: number;
  pass: number;
  weight: number;
}

/** A queued job as dispatch plans with it (a queued job's pin and override never change). */
export interface Candidate {
  id: number;
  key: number;
  priority: number;
  queueRank: number | null;
  pinnedEmail: string | null;
  maxJobsOverride: number | null;
}
const CANDIDATE_COLUMNS = 'id, token_id, priority, queue_rank, pinned_email, max_jobs_override';

/**
 * The candidates statement (see fetchCandidates). One fixed text for every tenant, whatever its
 * number of accounts or tokens: the fit classes and the tokens are array parameters.
 *
 * For each token group — the tokens with an id ($4, one LATERAL seek each: `token_id = key`), and
 * the pseudo-token of jobs without one ($5; `token_id IS NULL` is not an equality, so it has arms
 * of its own) — the lines are:
 *   - pinned lines: the distinct pinned accounts that have queued jobs of the token (a skip scan:
 *     one seek per distinct pin, one more to find there are no others), kept when the pin is a
 *     healthy account's ($6–$8: its class's plainFits and overrideAbove);
 *   - the unpinned line, when any account is healthy ($9–$11);
 * and within each line the jobs without override (when plainFits) and, per distinct override above
 * the class's load (a skip scan again), the jobs with that override. Every ORDER BY spells out the
 * index's leading columns (QUEUE_ORDER), so each of these is an index seek on jobs_queue; the heads
 * continue with its remaining ones (LINE_ORDER: priority DESC, queue_rank, id), so a line's best jobs
 * are its first index entries and LIMIT $3 stops there — no sort, whatever the line's length.
 */
function candidatesText(): string {
  const order = QUEUE_ORDER;
  const queued = "user_id = $1 AND state = 'queued'";
  const fresh = 'id <> ALL($2::bigint[])';
  const groups = [
    {
      g: 'r',
      source: 'SELECT key FROM unnest($4::bigint[]) AS t(key)',
      token: (a: string) => `token_id = ${a}.key`,
    },
    {
      g: 'n',
      source: `SELECT ${NO_TOKEN_KEY}::bigint AS key WHERE $5::boolean`,
      token: (_a: string) => 'token_id IS NULL',
    },
  ];
  const ctes: string[] = [];
  const arms: string[] = [];
  for (const { g, source, token } of groups) {
    ctes.push(
      `tk_${g}(key) AS (${source})`,
      `pins_${g}(key, pin) AS (
         SELECT tk.key, (SELECT pinned_email FROM jobs WHERE ${queued} AND ${token('tk')} AND pinned_email IS NOT NULL
                          ORDER BY user_id, token_id, pinned_email LIMIT 1)
           FROM tk_${g} tk
         UNION ALL
         SELECT p.key, (SELECT pinned_email FROM jobs WHERE ${queued} AND ${token('p')} AND pinned_email > p.pin
                         ORDER BY user_id, token_id, pinned_email LIMIT 1)
           FROM pins_${g} p WHERE p.pin IS NOT NULL
       )`,
      `lines_${g}(key, pin, plain, above) AS (
         SELECT p.key, p.pin, c.plain, c.above
           FROM pins_${g} p JOIN unnest($6::text[], $7::boolean[], $8::integer[]) AS c(pin, plain, above) ON c.pin = p.pin
       )`,
      `pov_${g}(key, pin, v) AS (
         SELECT l.key, l.pin, (SELECT max_jobs_override FROM jobs
                                WHERE ${queued} AND ${token('l')} AND pinned_email = l.pin AND ${fresh} AND max_jobs_override > l.above
                                ${order} LIMIT 1)
           FROM lines_${g} l
         UNION ALL
         SELECT o.key, o.pin, (SELECT max_jobs_override FROM jobs
                                WHERE ${queued} AND ${token('o')} AND pinned_email = o.pin AND ${fresh} AND max_jobs_override > o.v
                                ${order} LIMIT 1)
           FROM pov_${g} o WHERE o.v IS NOT NULL
       )`,
      `uov_${g}(key, v) AS (
         SELECT tk.key, (SELECT max_jobs_override FROM jobs
                          WHERE ${queued} AND ${token('tk')} AND pinned_email IS NULL AND ${fresh} AND max_jobs_override > $11::integer
                          ${order} LIMIT 1)
           FROM tk_${g} tk WHERE $9::boolean
         UNION ALL
         SELECT o.key, (SELECT max_jobs_override FROM jobs
                         WHERE ${queued} AND ${token('o')} AND pinned_email IS NULL AND ${fresh} AND max_jobs_override > o.v
                         ${order} LIMIT 1)
           FROM uov_${g} o WHERE o.v IS NOT NULL
       )`,
    );
    const head = (alias: string, where: string) =>
      `(SELECT ${alias}.key, ${CANDIDATE_COLUMNS} FROM jobs WHERE ${queued} AND ${token(alias)} AND ${fresh} AND ${where}
         ${order}, ${LINE_ORDER} LIMIT $3)`;
    arms.push(
      `(SELECT h.* FROM lines_${g} l CROSS JOIN LATERAL ${head('l', 'pinned_email = l.pin AND max_jobs_override IS NULL')} h WHERE l.plain)`,
      `(SELECT h.* FROM pov_${g} o CROSS JOIN LATERAL ${head('o', 'pinned_email = o.pin AND max_jobs_override = o.v')} h)`,
      `(SELECT h.* FROM tk_${g} tk CROSS JOIN LATERAL ${head('tk', 'pinned_email IS NULL AND max_jobs_override IS NULL')} h
         WHERE $9::boolean AND $10::boolean)`,
      `(SELECT h.* FROM uov_${g} o CROSS JOIN LATERAL ${head('o', 'pinned_email IS NULL AND max_jobs_override = o.v')} h)`,
    );
  }
  return `WITH RECURSIVE ${ctes.join(',\n')}\n${arms.join('\nUNION ALL\n')}`;
}
/** Exported for the plan test (test/store/postgres.test.ts). */
export const CANDIDATES = { name: 'pixgate_q_candidates', text: candidatesText() };

/**
 * Up to `perLine` best jobs (priority DESC, queue_rank, id) of every line of the given tokens that fits a free
 * slot now (one statement, see candidatesText). A line is (token, pinned account, override): for
 * each fit class (fairness.ts), the jobs without override when the class's plain limit has room, and
 * for each distinct override above the class's load the jobs with that override. The cost is a few
 * seeks per token and per pinned account or override actually present in its queue — never a read
 * of the queue, however long it is or however many of its jobs do not fit.
 */
export async function fetchCandidates(
  tx: pg.PoolClient,
  userId: number,
  keys: readonly number[],
  classes: readonly FitClass[],
  skip: readonly number[],
  perLine: number,
): Promise<Candidate[]> {
  if (classes.length === 0 || keys.length === 0) return [];
  const pinned = classes.filter((c) => c.pinnedEmail !== null);
  const unpinned = classes.find((c) => c.pinnedEmail === null);
  const res = await tx.query<{
    key: number;
    id: number;
    priority: number;
    queue_rank: number | null;
    pinned_email: string | null;
    max_jobs_override: number | null;
  }>({
    ...CANDIDATES,
    values: [
      userId,
      skip,
      perLine,
      keys.filter((k) => k !== NO_TOKEN_KEY),
      keys.includes(NO_TOKEN_KEY),
      pinned.map((c) => c.pinnedEmail),
      pinned.map((c) => c.plainFits),
      pinned.map((c) => c.overrideAbove),
      unpinned !== undefined,
      unpinned?.plainFits ?? false,
      unpinned?.overrideAbove ?? 0,
    ],
  });
  return res.rows.map((row) => ({
    id: Number(row.id),
    key: Number(row.key),
    priority: Number(row.priority),
    queueRank: row.queue_rank === null ? null : Number(row.queue_rank),
    pinnedEmail: row.pinned_email,
    maxJobsOverride: row.max_jobs_override === null ? null : Number(row.max_jobs_override),
  }));
}

/** Tokens read together at the least (a few seeks each): see planSteps. */
