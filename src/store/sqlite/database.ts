/**
 * Opening a SQLite connection with the pragmas Pixgate relies on, plus a per-connection
 * prepared-statement cache.
 *
 * One `Database` object is one connection. better-sqlite3 is synchronous, so inside one process
 * a transaction can never interleave with another call on the same connection; the locks below
 * matter for other connections (other processes, or a second store on the same file).
 */
import Database from 'better-sqlite3';

export type Db = Database.Database;
export type Statement = Database.Statement;

/** How long a writer waits for another connection's write lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

export function openDatabase(path: string): Db {
  const db = new Database(path);
  // busy_timeout first: switching to WAL needs a brief exclusive lock, and two processes opening the
  // same new file at once must wait for each other instead of failing with SQLITE_BUSY.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // WAL: readers never block the writer and the writer never blocks readers (invariant 6).
  // Persisted in the file; ':memory:' databases answer 'memory' and that is fine.
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode is durable against process crashes (a committed transaction is in the WAL
  // before the call returns); only an OS crash / power loss can drop the last commits.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  return db;
}

/**
 * Prepared statements, compiled once per connection on first use. Lazy so that a store can be
 * constructed before `migrate()` has created the tables the statements refer to.
 */
export class StatementCache {
  private readonly cache = new Map<string, Statement>();

  constructor(private readonly db: Db) {}

  get(sql: string): Statement {
    let stmt = this.cache.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.cache.set(sql, stmt);
    }
    return stmt;
  }
}

/**
 * Runs `fn` inside `BEGIN IMMEDIATE`: the write lock is taken before the first read, so a
 * read-then-write (count then insert, select then update) cannot be invalidated by another
 * connection's commit in between. A deferred transaction would instead fail with
 * SQLITE_BUSY_SNAPSHOT when it tries to upgrade to a writer after someone else committed.
 */
export function immediate<A extends unknown[], R>(db: Db, fn: (...args: A) => R): (...args: A) => R {
  const tx = db.transaction(fn);
  return (...args: A) => tx.immediate(...args);
}
