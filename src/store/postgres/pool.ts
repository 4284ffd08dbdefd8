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

/** Instance ids go into connection options too: letters, digits and dashes only. */
function checkInstanceId(id: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) throw new Error(`invalid instance id ${JSON.stringify(id)}`);
  return id;
}

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(
      `invalid PostgreSQL schema name ${JSON.stringify(schema)} (use lower-case letters, digits and _)`,
    );
  }
  return schema;
}

/**
 * Type parsers local to our pools (never the process-wide `pg.types`, which other code may use):
 * BIGINT (epoch-ms times, ids, count(*)) comes back as a JS number. Every value we store in a
 * BIGINT fits in 2^53 (times, row ids, counters); the one number that may not — a provider's job id —
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
  /**
   * This process's instance id, set on every session as `pixgate.instance`: the jobs trigger
   * stamps it on each job that starts submitting, so other instances know whose submit it is.
   */
  instance?: string;
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
  const options: string[] = [];
  if (opts.schema) options.push(`-c search_path=${checkSchemaName(opts.schema)}`);
  if (opts.instance) options.push(`-c pixgate.instance=${checkInstanceId(opts.instance)}`);
  if (options.length > 0) config.options = options.join(' ');
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

/**
 * deadlock_detected and serialization_failure: the transaction was rolled back and may be rerun as a
 * whole. Also invalid_sql_statement_name, raised by an EXECUTE of a statement this connection no
 * longer has (its session was reset under us): that transaction is rolled back with nothing done,
 * and `forgetOnMissing` has forgotten what the connection had prepared, so the rerun prepares again.
 */
function isRetryable(err: unknown): boolean {
  return isPgError(err, '40P01') || isPgError(err, '40001') || isPgError(err, '26000');
}

export interface TransactionOptions {
  /**
   * `fn` sends BEGIN itself, as the first statement of its first query (see `beginWith`), so the
   * transaction's opening locks cost no extra round trip. Until it has, `fn` must not query.
   */
  fnBegins?: boolean;
}

/**
 * Runs `fn` in one READ COMMITTED transaction on one client. Every multi-statement
 * operation goes through here so that its locks are held until COMMIT.
 *
 * Locks are always taken in a fixed order (account rows by email, then job rows), so deadlocks
 * should not happen; if PostgreSQL still reports one, the whole transaction was rolled back and
 * is simply run again (a couple of times at most).
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  opts: TransactionOptions = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken = false;
    // A checked-out client has no pool listener: a connection reset between two statements of the
    // transaction would otherwise be an unhandled 'error' event and take the process down. The
    // statement in flight (or the next one) fails on its own; the client is discarded.
    const onError = () => {
      broken = true;
    };
    client.on('error', onError);
    try {
      if (!opts.fnBegins) await client.query('BEGIN');
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
      client.off('error', onError);
      client.release(broken);
    }
  }
}

// ── opening a transaction in one round trip ──────────────────────────────

/**
 * A statement prepared server-side with SQL PREPARE, so that it can run by EXECUTE inside a
 * multi-statement simple query (`beginWith`). Parameters must be integers (they are written into
 * the EXECUTE text); `types` lists their SQL types.
 */
export interface SqlStatement {
  /** Lower-case identifier, unique per connection (shares a namespace with node-postgres's named statements). */
  name: string;
  types: string;
  text: string;
}

/** Connections on which every SqlStatement has been prepared (a new connection is a new client object). */
const preparedOn = new WeakMap<pg.PoolClient, Set<string>>();

async function ensurePrepared(client: pg.PoolClient, statements: readonly SqlStatement[]): Promise<void> {
  let done = preparedOn.get(client);
  if (done && statements.every((s) => done!.has(s.name))) return;
  if (!done) {
    // Once per connection: what is already there (a PREPARE batch that failed half-way leaves its
    // first statements behind — PREPARE is not undone by a rollback).
    const res = await client.query<{ name: string }>('SELECT name FROM pg_prepared_statements');
    done = new Set(res.rows.map((row) => row.name));
    preparedOn.set(client, done);
  }
  const missing = statements.filter((s) => !done!.has(s.name));
  if (missing.length === 0) return;
  await client.query(missing.map((s) => `PREPARE ${s.name} (${s.types}) AS ${s.text}`).join(';\n'));
  for (const s of missing) done.add(s.name);
}

/**
 * BEGIN and the transaction's first statements in ONE round trip: a multi-statement simple query
 * `BEGIN; EXECUTE a(…); EXECUTE b(…); …` (the statements are prepared on the connection once, so
 * nothing is re-planned). PostgreSQL runs them in order and, under READ COMMITTED, gives each its
 * own snapshot — exactly as if they had been sent one by one: a statement after a lock sees what
 * the previous lock holder committed. Returns each EXECUTE's rows, in order. For `withTransaction`
 * with `fnBegins`.
 */
export async function beginWith(
  client: pg.PoolClient,
  statements: readonly SqlStatement[],
  calls: readonly { statement: SqlStatement; args: readonly number[] }[],
  /** `SET LOCAL …` commands (fixed text) for this transaction only, run right after BEGIN. */
  settings: readonly string[] = [],
): Promise<pg.QueryResultRow[][]> {
  await ensurePrepared(client, statements);
  const text = [
    'BEGIN',
    ...settings,
    ...calls.map(({ statement, args }) => executeText(statement, args)),
  ].join('; ');
  const results = (await forgetOnMissing(client, client.query(text))) as unknown as
    | pg.QueryResult[]
    | pg.QueryResult;
  const list = Array.isArray(results) ? results : [results];
  return list.slice(1 + settings.length).map((r) => r.rows);
}

/** One prepared SqlStatement by EXECUTE (after `beginWith` prepared it on this connection). */
export async function execute(
  client: pg.PoolClient,
  statement: SqlStatement,
  args: readonly number[],
): Promise<pg.QueryResultRow[]> {
  const res = await forgetOnMissing(client, client.query(executeText(statement, args)));
  return res.rows;
}

/** A prepared statement missing on the server (session reset): forget what we thought it had. */
async function forgetOnMissing<T>(client: pg.PoolClient, query: Promise<T>): Promise<T> {
  try {
    return await query;
  } catch (err) {
    if (isPgError(err, '26000')) preparedOn.delete(client);
    throw err;
  }
}

/** The EXECUTE text; the arguments are written into it, so only integers are accepted. */
function executeText(statement: SqlStatement, args: readonly number[]): string {
  for (const arg of args) {
    if (!Number.isSafeInteger(arg))
      throw new TypeError(`EXECUTE ${statement.name}: argument ${String(arg)} is not an integer`);
  }
  return `EXECUTE ${statement.name}(${args.join(', ')})`;
}
