/**
 * Numbered schema migrations, applied once each and recorded in `schema_migrations`.
 * Append new entries; never edit an applied one. The numbering is shared with PostgreSQL
 * (postgres/migrations.ts): version N names the same change in both, and a step one engine does not
 * need is an entry without statements. A new migration takes the next number in both lists
 * (test/store/migrations.test.ts holds them equal).
 *
 * Notes on the schema:
 * - No CHECK constraints on enum-like columns (job type/state, account state): SQLite cannot alter a
 *   CHECK without rebuilding the table, and the Store contract's types already guard the values.
 * - `upstream_id` is TEXT: PixVerse ids exceed 2^53, and TEXT affinity keeps a digit string as text
 *   (INTEGER/NUMERIC affinity would turn it into a lossy number).
 * - Jobs keep no foreign key to accounts: deleting an account leaves its (cancelled) jobs behind.
 * - Times are INTEGER epoch milliseconds supplied by the caller.
 */
import { HELD_SLOTS_MIGRATION, SLOT_COUNTS_MIGRATION } from './slotCounts.ts';

import type { Migration } from '../migration.ts';

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
  {
    version: 2,
    name: 'queue, fairness, tenant settings and callbacks outbox',
    // jobs.email and jobs.started_at become nullable (a queued job has neither an account nor a
    // slot yet). SQLite cannot relax NOT NULL in place, so the table is rebuilt (create, copy, drop,
    // rename) keeping every id and the AUTOINCREMENT high-water mark. Nothing references jobs, so
    // this is safe with foreign_keys on; deliveries deliberately keep no foreign key to jobs either.
    sql: `
      -- Tenant settings (defaults = DEFAULT_TENANT_SETTINGS at the time of writing; new users get the
      -- current constant from createUser). Existing users get an empty webhook secret: the store never
      -- invents secrets, and '' means "none yet" to the caller (rotated on first use).
      ALTER TABLE users ADD COLUMN queue_by_default          INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE users ADD COLUMN max_queue_length          INTEGER NOT NULL DEFAULT 100000;
      ALTER TABLE users ADD COLUMN max_queue_wait_ms         INTEGER NOT NULL DEFAULT 3600000;
      ALTER TABLE users ADD COLUMN webhook_secret            TEXT    NOT NULL DEFAULT '';
      ALTER TABLE users ADD COLUMN webhook_secret_prev       TEXT;
      ALTER TABLE users ADD COLUMN webhook_secret_prev_until INTEGER;
      -- Fair dispatch: the tenant's virtual time (the pass of the last served token before its advance).
      ALTER TABLE users ADD COLUMN queue_vtime               REAL    NOT NULL DEFAULT 0;
      -- How many of the tenant's jobs are queued, kept by the triggers below so that enqueue's
      -- maxQueueLength check and countQueued cost O(1) instead of counting a 100k-row queue.
      ALTER TABLE users ADD COLUMN queued_count              INTEGER NOT NULL DEFAULT 0;

      ALTER TABLE tokens ADD COLUMN weight REAL NOT NULL DEFAULT 1;

      -- Stride-scheduling pass per (tenant, token). token_key is tokens.id, or 0 for jobs without a
      -- token (a pseudo-token of weight 1). A row exists for every token that ever queued a job.
      CREATE TABLE queue_passes (
        user_id   INTEGER NOT NULL REFERENCES users(id),
        token_key INTEGER NOT NULL,
        pass      REAL    NOT NULL,
        PRIMARY KEY (user_id, token_key)
      ) WITHOUT ROWID;

      CREATE TABLE jobs_v2 (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id           INTEGER NOT NULL REFERENCES users(id),
        token_id          INTEGER REFERENCES tokens(id),
        email             TEXT,
        pinned_email      TEXT,
        type              TEXT NOT NULL,
        state             TEXT NOT NULL,
        upstream_id       TEXT,
        trace_id          TEXT NOT NULL,
        upstream_json     TEXT NOT NULL,
        request_json      TEXT NOT NULL,
        reply_url         TEXT,
        reply_ref         TEXT,
        priority          INTEGER NOT NULL DEFAULT 0,
        max_jobs_override INTEGER,
        created_at        INTEGER NOT NULL,
        queued_at         INTEGER,
        started_at        INTEGER,
        finished_at       INTEGER,
        result_url        TEXT,
        error             TEXT,
        upstream_status   INTEGER,
        result_json       TEXT,
        poll_count        INTEGER NOT NULL DEFAULT 0,
        next_poll_at      INTEGER,
        lease_owner       TEXT,
        lease_token       TEXT,
        lease_expires_at  INTEGER
      );
      INSERT INTO jobs_v2 (id, user_id, token_id, email, type, state, upstream_id, trace_id, upstream_json,
                           request_json, reply_url, reply_ref, created_at, started_at, finished_at, result_url,
                           error, upstream_status, result_json, poll_count, next_poll_at, lease_owner,
                           lease_token, lease_expires_at)
           SELECT id, user_id, token_id, email, type, state, upstream_id, trace_id, upstream_json,
                  request_json, reply_url, reply_ref, created_at, started_at, finished_at, result_url,
                  error, upstream_status, result_json, poll_count, next_poll_at, lease_owner,
                  lease_token, lease_expires_at
             FROM jobs;
      -- Carry the id high-water mark over (it may exceed MAX(id)): ids are never reused.
      DELETE FROM sqlite_sequence WHERE name = 'jobs_v2';
      INSERT INTO sqlite_sequence (name, seq) SELECT 'jobs_v2', seq FROM sqlite_sequence WHERE name = 'jobs';
      DROP TABLE jobs;
      ALTER TABLE jobs_v2 RENAME TO jobs;

      -- The indexes of migration 1 (dropped with the old table), unchanged.
      CREATE INDEX jobs_active ON jobs(user_id, email) WHERE state IN ('submitting','running');
      CREATE INDEX jobs_due ON jobs(state, next_poll_at);
      CREATE INDEX jobs_lookup ON jobs(user_id, email, type, upstream_id);
      CREATE INDEX jobs_lease_owner ON jobs(lease_owner) WHERE lease_owner IS NOT NULL;
      -- Dispatch: the head of one (tenant, token, pinned account, override) line in priority order is
      -- a single seek, so a dispatch costs a few seeks per token whatever the queue length. Partial:
      -- only queued rows are indexed. Queries must repeat "state = 'queued'".
      CREATE INDEX jobs_queue ON jobs(user_id, token_id, pinned_email, max_jobs_override, priority DESC, id)
        WHERE state = 'queued';
      -- A tenant's queue by age: queuedJobs (oldest first), expireQueued.
      CREATE INDEX jobs_queue_age ON jobs(user_id, created_at) WHERE state = 'queued';

      -- users.queued_count follows every move into and out of 'queued', whichever statement makes
      -- it (enqueue, dispatch, requeue, finish, expireQueued, deleteAccount). Jobs are never deleted
      -- and never change tenant, so insert + state change cover every case.
      CREATE TRIGGER jobs_queued_insert AFTER INSERT ON jobs WHEN new.state = 'queued'
      BEGIN
        UPDATE users SET queued_count = queued_count + 1 WHERE id = new.user_id;
      END;
      CREATE TRIGGER jobs_queued_enter AFTER UPDATE OF state ON jobs WHEN new.state = 'queued' AND old.state <> 'queued'
      BEGIN
        UPDATE users SET queued_count = queued_count + 1 WHERE id = new.user_id;
      END;
      CREATE TRIGGER jobs_queued_leave AFTER UPDATE OF state ON jobs WHEN old.state = 'queued' AND new.state <> 'queued'
      BEGIN
        UPDATE users SET queued_count = queued_count - 1 WHERE id = old.user_id;
      END;

      -- Callbacks outbox. seq orders one job's deliveries (1, 2, …) and they go out strictly in order.
      CREATE TABLE deliveries (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id          INTEGER NOT NULL REFERENCES users(id),
        job_id           INTEGER NOT NULL,
        seq              INTEGER NOT NULL,
        event            TEXT    NOT NULL,
        url              TEXT    NOT NULL,
        body             TEXT    NOT NULL,
        state            TEXT    NOT NULL DEFAULT 'pending',
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  INTEGER,
        last_error       TEXT,
        last_status      INTEGER,
        created_at       INTEGER NOT NULL,
        delivered_at     INTEGER,
        lease_owner      TEXT,
        lease_token      TEXT,
        lease_expires_at INTEGER,
        UNIQUE (job_id, seq)
      );
      -- Due deliveries in due order; only pending rows are indexed.
      CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE state = 'pending';
      -- A tenant's deliveries newest first (rowid order within the user).
      CREATE INDEX deliveries_user ON deliveries(user_id);
      -- redeliver: a tenant's dead-lettered deliveries, optionally since a time.
      CREATE INDEX deliveries_dead ON deliveries(user_id, created_at) WHERE state = 'dead';
    `,
  },
  {
    version: 3,
    name: 'queued-job counter per tenant',
    // Part of migration 2 here (users.queued_count and its triggers).
    sql: '',
  },
  {
    version: 4,
    name: 'queue rank (least laxity first), PixVerse account webhooks, expedited polls',
    // Plain ADD COLUMNs (no table rebuild: every new column is nullable or has a constant default),
    // an UPDATE of the queued rows only, and index rebuilds, all in migrate()'s one BEGIN IMMEDIATE
    // transaction: another process opening the file waits (busy_timeout) and then finds version 3 done.
    sql: `
      -- Order within one priority of a token's queue line, lowest first (Job.queueRank: epoch ms when
      -- queued minus the expected run time). REAL, not INTEGER: the caller's expected time may carry a
      -- fraction and the rank must come back exactly as given. NULL for jobs admitted directly by
      -- reserve() (never queued).
      ALTER TABLE jobs ADD COLUMN queue_rank REAL;
      -- Set by expeditePoll (a PixVerse webhook said the job ended), cleared by a claim; a poll that was
      -- in flight when it was set reschedules the job at once (see tracking.ts).
      ALTER TABLE jobs ADD COLUMN poll_hint INTEGER NOT NULL DEFAULT 0;
      -- The account's PixVerse webhook (id, and its secret sealed like api_key_enc); both NULL for none.
      ALTER TABLE accounts ADD COLUMN webhook_id         TEXT;
      ALTER TABLE accounts ADD COLUMN webhook_secret_enc TEXT;

      -- Jobs already waiting keep a sane order: their rank is when they were queued (queued_at =
      -- created_at for every job that came through enqueue), i.e. as if their expected run time were 0.
      -- Jobs queued after the upgrade (rank = queued time − expected time) may therefore pass them, but
      -- only if queued less than their expected run time later, the bound the rank gives anyway. Only
      -- queued rows are touched (through jobs_queue_age): finished history keeps NULL, nothing orders it.
      -- The triggers do not fire: they watch UPDATE OF state, and this changes queue_rank only.
      UPDATE jobs SET queue_rank = COALESCE(queued_at, created_at) WHERE state = 'queued';

      -- Dispatch, as in migration 2, with queue_rank between priority and id: the head of one (tenant,
      -- token, pinned account, override) line in (priority DESC, queue_rank, id) order stays a single
      -- LIMIT-1 seek (queue.ts PLAIN_HEAD_SQL / OVERRIDE_HEAD_SQL read it in index order, no sort).
      -- Partial on state = 'queued' as before; queries must repeat that predicate.
      DROP INDEX jobs_queue;
      CREATE INDEX jobs_queue ON jobs(user_id, token_id, pinned_email, max_jobs_override, priority DESC, queue_rank, id)
        WHERE state = 'queued';
      -- queuedJobs: a tenant's first jobs in (priority DESC, queue_rank, id) order, read in index order
      -- with a LIMIT (the estimate of /scheduler shows the first 1,000 of a queue that may hold 100k).
      -- The rowid (id) is the implicit last column.
      CREATE INDEX jobs_queue_order ON jobs(user_id, priority DESC, queue_rank) WHERE state = 'queued';
      -- jobsByUpstreamId: a PixVerse webhook names only the video id. Partial: queued and submitting
      -- jobs have none. "upstream_id = ?" implies "upstream_id IS NOT NULL", so SQLite uses it; the
      -- rowid order inside one key serves "newest first" without a sort.
      CREATE INDEX jobs_upstream ON jobs(upstream_id) WHERE upstream_id IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: 'idempotency keys',
    // A new table only; the other tables are untouched.
    sql: `
      -- One row per (token, Idempotency-Key): written with the job it asked for (reserve/enqueue), the
      -- first answer added once known. token_id 0 stands for "no token". No foreign keys: the row is a
      -- record of an answer, swept by expiry; joins are never needed.
      CREATE TABLE idempotency_keys (
        token_id     INTEGER NOT NULL,
        idem_key     TEXT NOT NULL,
        user_id      INTEGER NOT NULL,
        fingerprint  TEXT NOT NULL,
        job_id       INTEGER NOT NULL,
        status       INTEGER,
        body         TEXT,
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        PRIMARY KEY (token_id, idem_key)
      ) WITHOUT ROWID;
      -- The sweeper deletes expired keys oldest first.
      CREATE INDEX idempotency_keys_expiry ON idempotency_keys(expires_at);
    `,
  },
  {
    version: 6,
    name: 'instance liveness for in-doubt submits',
    // One process opens the file: a restart itself says the previous submitter is gone.
    sql: '',
  },
  {
    version: 7,
    name: 'untracked jobs keep their result; deleted jobs leave lists and reads',
    // Plain ADD COLUMNs with NULL or constant defaults: no table rebuild, existing rows unchanged.
    sql: `
      -- DELETE /scheduler/{id} on a job in flight: the job stops holding its slot (slot counts
      -- require untracked_at IS NULL) but is still polled, so its result stays readable.
      ALTER TABLE jobs ADD COLUMN untracked_at     INTEGER;
      ALTER TABLE jobs ADD COLUMN untrack_callback INTEGER NOT NULL DEFAULT 0;
      -- DELETE /videos|images/{id}: hidden from lists and reads (PixVerse keeps its own copy).
      ALTER TABLE jobs ADD COLUMN deleted_at       INTEGER;
      -- GET /videos|images|music: a tenant's visible jobs of one type, newest first (rowid order).
      CREATE INDEX jobs_listing ON jobs(user_id, type) WHERE deleted_at IS NULL;
    `,
  },
  {
    version: 8,
    name: 'index of dead-lettered callback deliveries',
    // Part of migration 2 here (deliveries_dead).
    sql: '',
  },
  {
    version: 9,
    name: 'recent failures of a tenant (dashboard)',
    sql: `
      -- recentFailures: a tenant's latest failed jobs, read newest first up to a LIMIT without
      -- scanning its finished history. Partial: queries repeat the state predicate.
      CREATE INDEX jobs_failures ON jobs(user_id, finished_at) WHERE state IN ('failed', 'moderated', 'timed_out');
    `,
  },
  {
    version: 10,
    name: 'PixVerse webhook receipts (replay guard shared by instances)',
    sql: `
      -- A PixVerse delivery acted on, by a digest of its signed headers and body, until its
      -- timestamp can no longer pass the replay window. Survives restarts, so a replay is refused
      -- after one too.
      CREATE TABLE webhook_receipts (
        receipt    TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX webhook_receipts_expiry ON webhook_receipts(expires_at);
    `,
  },
  {
    version: 11,
    name: 'per-account slot counts kept by triggers, free-account index (reserve without a pool scan)',
    sql: SLOT_COUNTS_MIGRATION,
  },
  {
    version: 12,
    name: 'provider of accounts and jobs',
    sql: `
      -- Which provider runs an account and its jobs (the <provider> segment of the job id). Every
      -- row so far belongs to PixVerse, the only provider until now; the default fills them in.
      ALTER TABLE accounts ADD COLUMN provider TEXT NOT NULL DEFAULT 'pixverse';
      ALTER TABLE jobs ADD COLUMN provider TEXT NOT NULL DEFAULT 'pixverse';
    `,
  },
  {
    version: 13,
    name: 'a timed-out job keeps its slot until the provider ends it',
    sql: HELD_SLOTS_MIGRATION,
  },
];

/** The name old-numbered files recorded at version 3 (see migrate.ts renumberLegacy). */
export const LEGACY_VERSION_3 = 'queue rank (least laxity first), PixVerse account webhooks, expedited polls';
