/**
 * Numbered schema migrations, applied once each and recorded in `schema_migrations`.
 * Append new entries; never edit an applied one.
 *
 * Notes on the schema:
 * - No CHECK constraints on enum-like columns (job type/state, account state): SQLite cannot alter a
 *   CHECK without rebuilding the table, and the Store contract's types already guard the values.
 * - `upstream_id` is TEXT: PixVerse ids exceed 2^53, and TEXT affinity keeps a digit string as text
 *   (INTEGER/NUMERIC affinity would turn it into a lossy number).
 * - Jobs keep no foreign key to accounts: deleting an account leaves its (cancelled) jobs behind.
 * - Times are INTEGER epoch milliseconds supplied by the caller.
 */
import { immediate, type Db } from './database.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE users (
        id         INTEGER PRIMARY KEY,
        name       TEXT,
        reply_url  TEXT,
        created_at INTEGER NOT NULL
      );

      CREATE TABLE tokens (
        id         INTEGER PRIMARY KEY,
        user_id    INTEGER NOT NULL REFERENCES users(id),
        hash       TEXT NOT NULL UNIQUE,
        label      TEXT,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE INDEX tokens_user ON tokens(user_id);

      CREATE TABLE accounts (
        user_id        INTEGER NOT NULL REFERENCES users(id),
        email          TEXT NOT NULL,
        api_key_enc    TEXT NOT NULL,
        max_jobs       INTEGER NOT NULL,
        state          TEXT NOT NULL DEFAULT 'ok',
        reason         TEXT,
        cooldown_until INTEGER,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL,
        PRIMARY KEY (user_id, email)
      ) WITHOUT ROWID;

      -- AUTOINCREMENT: a row id is never reused, so a pending id ("pending-<rowId>") handed to a
      -- client can never come to name a different job after the newest row is deleted.
      CREATE TABLE jobs (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id          INTEGER NOT NULL REFERENCES users(id),
        token_id         INTEGER REFERENCES tokens(id),
        email            TEXT NOT NULL,
        type             TEXT NOT NULL,
        state            TEXT NOT NULL,
        upstream_id      TEXT,
        trace_id         TEXT NOT NULL,
        upstream_json    TEXT NOT NULL,
        request_json     TEXT NOT NULL,
        reply_url        TEXT,
        reply_ref        TEXT,
        created_at       INTEGER NOT NULL,
        started_at       INTEGER NOT NULL,
        finished_at      INTEGER,
        result_url       TEXT,
        error            TEXT,
        upstream_status  INTEGER,
        result_json      TEXT,
        poll_count       INTEGER NOT NULL DEFAULT 0,
        next_poll_at     INTEGER,
        lease_owner      TEXT,
        lease_token      TEXT,
        lease_expires_at INTEGER
      );

      -- Slot counting (reserve, accountLoads, activeJobs). Partial: terminal jobs, which pile up
      -- forever, stay out of the index, so a count touches only the few live rows. Queries must
      -- repeat the exact predicate "state IN ('submitting','running')" for SQLite to use it.
      CREATE INDEX jobs_active ON jobs(user_id, email) WHERE state IN ('submitting','running');
      -- Due polls: state = 'running' AND next_poll_at <= now ORDER BY next_poll_at (a range scan in
      -- index order, no sort). Its state prefix also serves every "live jobs" sweep
      -- (expireJobs, claimStaleSubmitting): state equality skips the terminal history.
      CREATE INDEX jobs_due ON jobs(state, next_poll_at);
      -- GET by public id: user:<id>-pixverse:<email>-<type>:<upstreamId>.
      CREATE INDEX jobs_lookup ON jobs(user_id, email, type, upstream_id);
      -- renewLeases / releaseLeases by owner; only leased rows are indexed.
      CREATE INDEX jobs_lease_owner ON jobs(lease_owner) WHERE lease_owner IS NOT NULL;
    `,
  },
];

/**
 * Applies every pending migration inside one BEGIN IMMEDIATE transaction. Two processes opening
 * the same file at once serialize on the write lock: the second waits (busy_timeout), then reads
 * `schema_migrations` after the first committed and finds nothing left to do.
 * Returns the versions applied by this call.
 */
export function migrate(db: Db, now: number = Date.now()): number[] {
  const run = immediate(db, () => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const done = new Set(
      (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
    );
    const applied: number[] = [];
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, now);
      applied.push(m.version);
    }
    return applied;
  });
  return run();
}
