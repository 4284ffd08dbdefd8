/**
 * Cluster-wide aggregates for the metrics scrape and the readiness check. Plain reads outside any
 * transaction (never waiting behind admission). Each statement is confined to live rows by a partial
 * index whose predicate it repeats, so a scrape costs the same with a million finished jobs behind it.
 */
import type { AccountState } from '../../domain/account.ts';
import type { JobState, JobType } from '../../domain/job.ts';
import type { StoreSnapshot } from '../store.ts';
import { all, one, type Exec } from './op.ts';
import { HOLDS_SLOT } from './states.ts';

/** Correlated count over the live-jobs index, as accountLoads does, for every tenant. */
export const SNAPSHOT_ACCOUNTS_SQL = `
  SELECT a.user_id, a.email, a.max_jobs, a.state,
         (SELECT COUNT(*) FROM jobs j
           WHERE j.user_id = a.user_id AND j.email = a.email AND j.${HOLDS_SLOT}) AS executing
    FROM accounts a`;

/** Two halves so each repeats a partial index's exact predicate (live jobs, queue age). */
export const SNAPSHOT_JOBS_SQL = `
  SELECT user_id, state, type, email, COUNT(*) AS n FROM jobs WHERE ${HOLDS_SLOT} GROUP BY user_id, state, type, email
  UNION ALL
  SELECT user_id, state, type, NULL, COUNT(*) FROM jobs WHERE state = 'queued' GROUP BY user_id, state, type`;

export const SNAPSHOT_PENDING_SQL = `SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE state = 'pending'`;
export const SNAPSHOT_DEAD_SQL = `SELECT COUNT(*) AS n FROM deliveries WHERE state = 'dead'`;

type Int = number | string;

export function snapshot(x: Exec): Promise<StoreSnapshot> {
  return x.read(function* () {
    const accounts = yield* all<{
      user_id: Int;
      email: string;
      max_jobs: Int;
      state: AccountState;
      executing: Int;
    }>(SNAPSHOT_ACCOUNTS_SQL);
    const jobs = yield* all<{ user_id: Int; state: JobState; type: JobType; email: string | null; n: Int }>(
      SNAPSHOT_JOBS_SQL,
    );
    const pending = yield* one<{ n: Int; oldest: Int | null }>(SNAPSHOT_PENDING_SQL);
    const dead = yield* one<{ n: Int }>(SNAPSHOT_DEAD_SQL);
    return {
      accounts: accounts.map((r) => ({
        userId: Number(r.user_id),
        email: r.email,
        maxJobs: Number(r.max_jobs),
        executing: Number(r.executing),
        state: r.state,
      })),
      liveJobs: jobs.map((r) => ({
        userId: Number(r.user_id),
        state: r.state,
        type: r.type,
        email: r.email,
        count: Number(r.n),
      })),
      deliveries: {
        pending: Number(pending?.n ?? 0),
        dead: Number(dead?.n ?? 0),
        oldestPendingCreatedAt:
          pending?.oldest === null || pending?.oldest === undefined ? null : Number(pending.oldest),
      },
    };
  });
}

/** Migrations this code knows that the database has not recorded; a query, so it also proves the store answers. */
export function pendingMigrations(
  x: Exec,
  table: string,
  known: readonly { version: number }[],
): Promise<number> {
  return x.read(function* () {
    const applied = new Set(
      (yield* all<{ version: Int }>(`SELECT version FROM ${table}`)).map((r) => Number(r.version)),
    );
    return known.filter((m) => !applied.has(m.version)).length;
  });
}
