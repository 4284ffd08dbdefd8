/**
 * Cluster-wide aggregates for the metrics scrape and the readiness check. Read-only statements
 * outside any transaction (WAL readers never block the writer). Each one is confined to live rows
 * through a partial index, so a scrape costs the same with a million finished jobs behind it.
 */
import type { AccountState } from '../../domain/account.ts';
import type { JobState, JobType } from '../../domain/job.ts';
import type { StoreSnapshot } from '../store.ts';
import type { StatementCache } from './database.ts';
import { HOLDS_SLOT } from './fragments.ts';
import { MIGRATIONS } from './migrations.ts';

/** Correlated count over `jobs_active`, as in accounts.ts LOADS_SQL, for every tenant. */
export const SNAPSHOT_ACCOUNTS_SQL = `
  SELECT a.user_id, a.email, a.max_jobs, a.state,
         (SELECT COUNT(*) FROM jobs j
           WHERE j.user_id = a.user_id AND j.email = a.email AND j.${HOLDS_SLOT}) AS executing
    FROM accounts a`;

/** Two halves so each repeats a partial index's exact predicate (jobs_active, jobs_queue_age). */
export const SNAPSHOT_JOBS_SQL = `
  SELECT user_id, state, type, email, COUNT(*) AS n FROM jobs WHERE ${HOLDS_SLOT} GROUP BY user_id, state, type, email
  UNION ALL
  SELECT user_id, state, type, NULL, COUNT(*) FROM jobs WHERE state = 'queued' GROUP BY user_id, type`;

export const SNAPSHOT_PENDING_SQL = `SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE state = 'pending'`;
export const SNAPSHOT_DEAD_SQL = `SELECT COUNT(*) AS n FROM deliveries WHERE state = 'dead'`;

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

export class SnapshotQueries {
  constructor(private readonly sql: StatementCache) {}

  snapshot(): StoreSnapshot {
    const accounts = (this.sql.get(SNAPSHOT_ACCOUNTS_SQL).all() as AccountRow[]).map((r) => ({
      userId: r.user_id,
      email: r.email,
      maxJobs: r.max_jobs,
      executing: r.executing,
      state: r.state,
    }));
    const liveJobs = (this.sql.get(SNAPSHOT_JOBS_SQL).all() as JobCountRow[]).map((r) => ({
      userId: r.user_id,
      state: r.state,
      type: r.type,
      email: r.email,
      count: r.n,
    }));
    const pending = this.sql.get(SNAPSHOT_PENDING_SQL).get() as { n: number; oldest: number | null };
    const dead = this.sql.get(SNAPSHOT_DEAD_SQL).get() as { n: number };
    return { accounts, liveJobs, deliveries: { pending: pending.n, dead: dead.n, oldestPendingCreatedAt: pending.oldest } };
  }

  pendingMigrations(): number {
    const applied = new Set((this.sql.get('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
    return MIGRATIONS.filter((m) => !applied.has(m.version)).length;
  }
}
