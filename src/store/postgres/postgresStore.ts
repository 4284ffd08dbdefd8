/**
 * The PostgreSQL Store: several stateless gateway instances share one database, each with its own
 * store (one pool). All coordination between instances happens in PostgreSQL — row locks for
 * admission and dispatch, compare-and-swap updates for transitions, leases for tracking and callback
 * delivery — so this only composes the shared statement families (../sql) with PostgreSQL's own
 * admission and queue planners over a pool.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Store } from '../store.ts';
import { accountStore } from '../sql/accounts.ts';
import { jobStore } from '../sql/jobs.ts';
import { outboxStore, type OutboxRef } from '../sql/outbox.ts';
import { queueReadStore } from '../sql/queue.ts';
import { pendingMigrations, snapshot } from '../sql/snapshot.ts';
import { tenantStore } from '../sql/tenants.ts';
import { staleSubmitStore, trackingStore } from '../sql/tracking.ts';
import { reserve } from './admission.ts';
import { PostgresExec } from './driver.ts';
import * as idempotency from './idempotency.ts';
import { migrate } from './migrate.ts';
import { MIGRATIONS } from './migrations.ts';
import { channelsFor, type Channels } from './notify.ts';
import { createPool, ensureSchema, type PoolOptions } from './pool.ts';
import * as queue from './queue.ts';

export interface PostgresStore extends Store {
  readonly dialect: 'postgres';
  /** Channel names this store notifies on; pass the same schema to listenForChanges(). */
  readonly channels: Channels;
  readonly schema: string | null;
  /** This process's id in `instances` and on the submits it starts (see beatInstance). */
  readonly instance: string | null;
  /** The pool; exposed for diagnostics and tests, not for callers' SQL. */
  readonly pool: pg.Pool;
}

export function createPostgresStore(
  pool: pg.Pool,
  schema: string | null,
  instance: string | null = null,
): PostgresStore {
  const channels = channelsFor(schema);
  const x = new PostgresExec(pool, channels);
  const outbox: OutboxRef = { builder: null };
  const tenants = tenantStore(x);
  return {
    dialect: 'postgres',
    channels,
    schema,
    instance,
    pool,
    migrate: () => migrate(pool),
    pendingMigrations: () => pendingMigrations(x, 'pixgate_migrations', MIGRATIONS),
    snapshot: () => snapshot(x),
    close: async () => {
      if (!pool.ended && !pool.ending) await pool.end();
    },
    ...tenants,
    ...accountStore(x, outbox),
    ...jobStore(x, outbox),
    ...outboxStore(x, outbox),
    ...trackingStore(x, tenants),
    ...staleSubmitStore(x, instance),
    reserve: (input) => reserve(pool, input),
    getIdempotencyKey: (tokenId, key, now) => idempotency.getKey(pool, tokenId, key, now),
    recordIdempotentAnswer: (tokenId, key, jobId, answer, now) =>
      idempotency.recordAnswer(pool, tokenId, key, jobId, answer, now),
    deleteExpiredIdempotencyKeys: (now, limit) => idempotency.deleteExpired(pool, now, limit),
    enqueue: (input, maxQueueLength) => queue.enqueue(pool, channels, input, maxQueueLength),
    dispatch: (userId, now, random) => queue.dispatch(pool, userId, now, random),
    dispatchBatch: (userId, now, limit, random) => queue.dispatchBatch(pool, userId, now, limit, random),
    requeue: (jobId) => queue.requeue(pool, channels, jobId),
    ...queueReadStore(x, outbox),
  };
}

/**
 * Opens a store on `url`. With `schema`, every pooled connection uses that schema (created if
 * missing), which is how tests isolate themselves and how several deployments share a server.
 * Call migrate() before use.
 */
export async function openPostgresStore(url: string, opts: PoolOptions = {}): Promise<PostgresStore> {
  const instance = opts.instance ?? randomUUID();
  const pool = createPool(url, { ...opts, instance });
  if (opts.schema) {
    try {
      await ensureSchema(pool, opts.schema);
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
  }
  return createPostgresStore(pool, opts.schema ?? null, instance);
}
