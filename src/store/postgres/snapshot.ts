/**
 * Cluster-wide aggregates for the metrics scrape and the readiness check. Plain reads on the pool
 * (no transaction, no locks): a scrape never waits behind admission. Each statement is confined to
 * live rows by a partial index whose predicate it repeats, so its cost does not grow with history.
 */
import type { AccountState } from '../../domain/account.ts';
import type { JobState, JobType } from '../../domain/job.ts';
import type { StoreSnapshot } from '../store.ts';
import { MIGRATIONS } from './migrations.ts';
import type { Queryable } from './pool.ts';

/** Correlated count over jobs_active_per_account, as accountLoads does, for every tenant. */
export const SNAPSHOT_ACCOUNTS_SQL = `
  SELECT a.user_id, a.email, a.max_jobs, a.state,
         (SELECT COUNT(*) FROM jobs j
           WHERE j.user_id = a.user_id AND j.email = a.email AND j.state IN ('submitting', 'running'))::int AS executing
    FROM accounts a`;

/** Two halves, one per partial index (jobs_active_per_account, jobs_queue_age). */
export const SNAPSHOT_JOBS_SQL = `
  SELECT user_id, state, type, email, COUNT(*)::int AS n FROM jobs
   WHERE state IN ('submitting', 'running') GROUP BY user_id, state, type, email
  UNION ALL
  SELECT user_id, 'queued', type, NULL, COUNT(*)::int FROM jobs WHERE state = 'queued' GROUP BY user_id, type`;

/** deliveries_due covers pending rows; deliveries_dead (migration 5) the dead-lettered ones. */
export const SNAPSHOT_DELIVERIES_SQL = `
  SELECT (SELECT COUNT(*) FROM deliveries WHERE state = 'pending')::int AS pending,
         (SELECT MIN(created_at) FROM deliveries WHERE state = 'pending')::float8 AS oldest,
         (SELECT COUNT(*) FROM deliveries WHERE state = 'dead')::int AS dead`;

interface AccountRow {
  user_id: number;
  email: string;
  max_jobs: number;
  state: AccountState;
  executing: number;
}

interface JobCountRow {
  user_id: number;
  state: JobState;
  type: JobType;
  email: string | null;
  n: number;
}

export async function snapshot(db: Queryable): Promise<StoreSnapshot> {
  const [accounts, jobs, deliveries] = await Promise.all([
    db.query<AccountRow>(SNAPSHOT_ACCOUNTS_SQL),
    db.query<JobCountRow>(SNAPSHOT_JOBS_SQL),
    db.query<{ pending: number; oldest: number | null; dead: number }>(SNAPSHOT_DELIVERIES_SQL),
  ]);
  const d = deliveries.rows[0]!;
  return {
    accounts: accounts.rows.map((r) => ({ userId: Number(r.user_id), email: r.email, maxJobs: r.max_jobs, executing: r.executing, state: r.state })),
    liveJobs: jobs.rows.map((r) => ({ userId: Number(r.user_id), state: r.state, type: r.type, email: r.email, count: r.n })),
    deliveries: { pending: d.pending, dead: d.dead, oldestPendingCreatedAt: d.oldest },
  };
}

export async function pendingMigrations(db: Queryable): Promise<number> {
  const res = await db.query<{ version: number }>('SELECT version FROM pixgate_migrations');
  const applied = new Set(res.rows.map((r) => r.version));
  return MIGRATIONS.filter((m) => !applied.has(m.version)).length;
}
