/**
 * Connection pool, schema selection and the transaction helper.
 *
 * Several stateless gateway processes share one PostgreSQL; each process owns one pool.
 * Nothing here keeps state between queries except what PostgreSQL itself holds.
 */
import pg from 'pg';

/** What every SQL module needs: a pool or a checked-out client, queried with positional parameters. */
export interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** Schema names are interpolated into connection options and DDL, so they must be plain identifiers. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)} (use lower-case letters, digits and _)`);
  }
  return schema;
}

/**
 * Type parsers local to our pools (never the process-wide `pg.types`, which other code may use):
 * BIGINT (epoch-ms times, ids, count(*)) comes back as a JS number. Every value we store in a
 * BIGINT fits in 2^53 (times, row ids, counters); the one number that may not — PixVerse's id —
 * is kept in a TEXT column and never reaches this parser.
 */
function typeOverrides(): pg.TypeOverrides {
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, (text: string) => Number(text));
  return types;
}

export interface PoolOptions {
  schema?: string;
  poolSize?: number;
}

export function createPool(url: string, opts: PoolOptions = {}): pg.Pool {
  const config: pg.PoolConfig = {
    connectionString: url,
    max: opts.poolSize ?? 10,
    types: typeOverrides(),
    application_name: 'pixgate',
    // Fail a request instead of hanging forever when the server is unreachable or the pool is starved.
    connectionTimeoutMillis: 10_000,
  };
  // search_path as a startup option: the server applies it while opening the session, so every
  // pooled connection is in the schema before its first query, with no extra round trip and no
  // SET that a later RESET ALL / DISCARD ALL could undo. (Behind PgBouncer, allow `options` in
  // ignore_startup_parameters or switch this to a SET in the pool's 'connect' handler.)
  if (opts.schema) config.options = `-c search_path=${checkSchemaName(opts.schema)}`;
  const pool = new pg.Pool(config);
  // An idle client can lose its connection (server restart, network); without a listener the
  // 'error' event would crash the process. The pool discards that client and opens a new one.
  pool.on('error', () => {});
  return pool;
}

/**
 * Creates the schema if it is missing, through the store's own pool (a search_path naming a
 * schema that does not exist yet is allowed, so the pool's first connection can create it).
 * Several instances may start at once: CREATE SCHEMA IF NOT EXISTS is not race-free in
 * PostgreSQL (two sessions can both pass the existence check and one then fails on the
 * catalog's unique index), so that loser's error is treated as success.
 */
export async function ensureSchema(pool: pg.Pool, schema: string): Promise<void> {
  try {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(checkSchemaName(schema))}`);
  } catch (err) {
    if (!isPgError(err, '23505') && !isPgError(err, '42P06')) throw err;
  }
}

export function isPgError(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** deadlock_detected and serialization_failure: the transaction was rolled back and may be rerun as a whole. */
function isRetryable(err: unknown): boolean {
  return isPgError(err, '40P01') || isPgError(err, '40001');
}

/**
 * Runs `fn` in one READ COMMITTED transaction on one client. Every multi-statement
 * operation goes through here so that its locks are held until COMMIT.
 *
 * Locks are always taken in a fixed order (account rows by email, then job rows), so deadlocks
 * should not happen; if PostgreSQL still reports one, the whole transaction was rolled back and
 * is simply run again (a couple of times at most).
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the connection is unusable; do not hand it back to the pool
      }
      if (attempt < 3 && isRetryable(err)) continue;
      throw err;
    } finally {
      client.release(broken);
    }
  }
}
