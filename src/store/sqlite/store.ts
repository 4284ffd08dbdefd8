/**
 * The embedded Store: the shared statement families (../sql) over one better-sqlite3 connection,
 * plus SQLite's own admission and queue planners. better-sqlite3 is synchronous; methods are async
 * only to satisfy the shared contract (a thrown SQLite error becomes a rejected promise).
 */
import type { Store } from '../store.ts';
import { accountStore } from '../sql/accounts.ts';
import { jobStore } from '../sql/jobs.ts';
import { outboxStore, type OutboxRef } from '../sql/outbox.ts';
import { queueReadStore } from '../sql/queue.ts';
import { pendingMigrations, snapshot } from '../sql/snapshot.ts';
import { tenantStore } from '../sql/tenants.ts';
import { staleSubmitStore, trackingStore } from '../sql/tracking.ts';
import { AdmissionQueries } from './admission.ts';
import { openDatabase, StatementCache, type Db } from './database.ts';
import { SqliteExec } from './driver.ts';
import { GroupCommit } from './groupCommit.ts';
import { IdempotencyQueries } from './idempotency.ts';
import { migrate } from './migrate.ts';
import { MIGRATIONS } from './migrations.ts';
import { QueueQueries } from './queue.ts';

export interface SqliteStore extends Store {
  readonly dialect: 'sqlite';
  /** The underlying connection; exposed for diagnostics and tests, not for callers' SQL. */
  readonly db: Db;
  /** The file path (or ':memory:') this store was opened on. */
  readonly path: string;
}

export function createSqliteStore(db: Db, path: string): SqliteStore {
  const sql = new StatementCache(db);
  const x = new SqliteExec(db, sql);
  const outbox: OutboxRef = { builder: null };
  const idempotency = new IdempotencyQueries(sql);
  const admission = new AdmissionQueries(db, sql, idempotency);
  const queue = new QueueQueries(db, sql, idempotency);
  const tenants = tenantStore(x);
  // The create path's write transactions (reserve, markRunning, finish) commit in groups: on that
  // path the COMMIT costs more than the statements it commits (groupCommit.ts).
  const group = new GroupCommit(db);
  const grouped = jobStore(new SqliteExec(db, sql, group), outbox);
  return {
    dialect: 'sqlite',
    db,
    path,
    migrate: async () => {
      migrate(db);
    },
    pendingMigrations: () => pendingMigrations(x, 'schema_migrations', MIGRATIONS),
    snapshot: () => snapshot(x),
    close: async () => {
      if (db.open) db.close();
    },
    ...tenants,
    ...accountStore(x, outbox),
    ...jobStore(x, outbox),
    markRunning: grouped.markRunning,
    finish: grouped.finish,
    ...outboxStore(x, outbox),
    ...trackingStore(x, tenants),
    ...staleSubmitStore(x, null),
    reserve: (input) => group.run(() => admission.reserve(input)),
    getIdempotencyKey: async (tokenId, key, now) => idempotency.get(tokenId, key, now),
    recordIdempotentAnswer: async (tokenId, key, jobId, answer, now) =>
      idempotency.record(tokenId, key, jobId, answer, now),
    deleteExpiredIdempotencyKeys: async (now, limit) => idempotency.deleteExpired(now, limit),
    enqueue: async (input, maxQueueLength) => queue.enqueue(input, maxQueueLength),
    dispatch: async (userId, now, random) => queue.dispatch(userId, now, random),
    dispatchBatch: async (userId, now, limit, random) => queue.dispatchBatch(userId, now, limit, random),
    requeue: async (jobId, now) => queue.requeue(jobId, now),
    ...queueReadStore(x, outbox),
  };
}

/**
 * Opens (creating if needed) a SQLite store and applies pending migrations.
 * `path` may be ':memory:'. Pass `{ migrate: false }` to control migration yourself.
 */
export async function openSqliteStore(path: string, opts: { migrate?: boolean } = {}): Promise<SqliteStore> {
  const db = openDatabase(path);
  const store = createSqliteStore(db, path);
  if (opts.migrate ?? true) {
    try {
      await store.migrate();
    } catch (err) {
      db.close();
      throw err;
    }
  }
  return store;
}
