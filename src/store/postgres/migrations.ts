/**
 * Numbered schema migrations. Append only: never edit a migration that has shipped; add the next number.
 * The numbering is shared with SQLite (sqlite/migrations.ts): version N names the same change in both,
 * and a new migration takes the next number in both lists (test/store/migrations.test.ts).
 *
 * Times are BIGINT epoch milliseconds (the store never reads the clock; callers pass `now`).
 * JSON documents are TEXT holding JSON: they round-trip byte for byte (jsonb would reorder keys and
 * reject "\u0000" inside strings, which SQLite accepts), and nothing queries inside them.
 * PixVerse's job id is TEXT because it may exceed 2^53.
 */

import type { Migration } from '../migration.ts';
import { LATER_MIGRATIONS } from './migrationsLater.ts';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE users (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name        TEXT,
        reply_url   TEXT,
        created_at  BIGINT NOT NULL
      );

      CREATE TABLE tokens (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id     BIGINT NOT NULL REFERENCES users (id),
        hash        TEXT NOT NULL UNIQUE,
        label       TEXT,
        created_at  BIGINT NOT NULL,
        revoked_at  BIGINT
      );
      CREATE INDEX tokens_user ON tokens (user_id);

      CREATE TABLE accounts (
        user_id         BIGINT NOT NULL REFERENCES users (id),
        email           TEXT NOT NULL,
        api_key_enc     TEXT NOT NULL,
        max_jobs        INTEGER NOT NULL CHECK (max_jobs >= 0),
        state           TEXT NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'cooldown', 'error')),
        reason          TEXT,
        cooldown_until  BIGINT,
        created_at      BIGINT NOT NULL,
        updated_at      BIGINT NOT NULL,
        PRIMARY KEY (user_id, email)
      );

      -- No foreign key to accounts: a job outlives its account (deleteAccount cancels the job
      -- and deletes the account; the job row stays for GET and callbacks).
      CREATE TABLE jobs (
        id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id           BIGINT NOT NULL REFERENCES users (id),
        token_id          BIGINT REFERENCES tokens (id),
        email             TEXT NOT NULL,
        type              TEXT NOT NULL CHECK (type IN ('video', 'image', 'music')),
        state             TEXT NOT NULL CHECK (state IN ('queued', 'submitting', 'running',
                            'completed', 'failed', 'moderated', 'cancelled', 'timed_out')),
        upstream_id       TEXT,
        trace_id          TEXT NOT NULL,
        upstream_json     TEXT NOT NULL,
        request_json      TEXT NOT NULL,
        reply_url         TEXT,
        reply_ref         TEXT,
        created_at        BIGINT NOT NULL,
        started_at        BIGINT NOT NULL,
        finished_at       BIGINT,
        result_url        TEXT,
        error             TEXT,
        upstream_status   INTEGER,
        result_json       TEXT,
        poll_count        INTEGER NOT NULL DEFAULT 0,
        next_poll_at      BIGINT,
        lease_owner       TEXT,
        lease_token       TEXT,
        lease_expires_at  BIGINT
      );

      -- Admission counts slot holders of one account inside the reserve transaction; the partial
      -- index keeps that count proportional to the account's live jobs, not to its history.
      CREATE INDEX jobs_active_per_account ON jobs (user_id, email) WHERE state IN ('submitting', 'running');
      -- claimDuePolls / nextPollDue: the due running jobs, earliest first.
      CREATE INDEX jobs_due_polls ON jobs (next_poll_at) WHERE state = 'running';
      -- expireJobs / claimStaleSubmitting: slot holders by the time their slot was taken.
      CREATE INDEX jobs_active_started ON jobs (started_at) WHERE state IN ('submitting', 'running');
      -- GET /v2/pixverse/{type}/{id}: lookup by the parts of the public id.
      CREATE INDEX jobs_lookup ON jobs (user_id, email, type, upstream_id);
      -- releaseLeases on graceful shutdown.
      CREATE INDEX jobs_lease_owner ON jobs (lease_owner) WHERE lease_owner IS NOT NULL;
    `,
  },
  {
    version: 2,
    name: 'queue, fairness, tenant settings and callbacks outbox',
    sql: `
      -- Tenant settings (defaults = DEFAULT_TENANT_SETTINGS in store.ts) and webhook signing
      -- secrets. Existing tenants get an empty secret, which the gateway rotates on first use.
      -- queue_vtime: the tenant's virtual time for stride scheduling (the pass of the last
      -- dispatched token before its advance); a token that starts queueing joins at
      -- max(its pass, queue_vtime).
      ALTER TABLE users
        ADD COLUMN queue_by_default           BOOLEAN NOT NULL DEFAULT false,
        ADD COLUMN max_queue_length           INTEGER NOT NULL DEFAULT 100000 CHECK (max_queue_length >= 0),
        ADD COLUMN max_queue_wait_ms          BIGINT NOT NULL DEFAULT 3600000 CHECK (max_queue_wait_ms >= 0),
        ADD COLUMN webhook_secret             TEXT NOT NULL DEFAULT '',
        ADD COLUMN webhook_secret_prev        TEXT,
        ADD COLUMN webhook_secret_prev_until  BIGINT,
        ADD COLUMN queue_vtime                DOUBLE PRECISION NOT NULL DEFAULT 0;

      -- A token's share of its tenant's queue relative to the tenant's other tokens.
      ALTER TABLE tokens ADD COLUMN weight DOUBLE PRECISION NOT NULL DEFAULT 1 CHECK (weight > 0);

      -- Late binding: a queued job has no account (email NULL unless pinned) and no slot
      -- (started_at NULL) until dispatch() binds it.
      ALTER TABLE jobs
        ALTER COLUMN email DROP NOT NULL,
        ALTER COLUMN started_at DROP NOT NULL,
        ADD COLUMN pinned_email       TEXT,
        ADD COLUMN priority           SMALLINT NOT NULL DEFAULT 0,
        ADD COLUMN max_jobs_override  INTEGER,
        ADD COLUMN queued_at          BIGINT;
      -- Jobs admitted before the queue existed were bound to the account the client asked for or
      -- to a random one; which it was is unknown, so they keep pinned_email NULL.

      -- Stride scheduling: one virtual pass per (tenant, token); token_key 0 stands for jobs
      -- created without a token. A missing row means pass 0.
      CREATE TABLE queue_passes (
        user_id    BIGINT NOT NULL REFERENCES users (id),
        token_key  BIGINT NOT NULL,
        pass       DOUBLE PRECISION NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, token_key)
      );

      -- dispatch(): the head of one line of a token's queue — (tenant, token, pinned account,
      -- override) in (priority DESC, id) order — is a single LIMIT 1 index seek, and the distinct
      -- tokens / override values are found by skip scans over the leading columns, so a dispatch
      -- costs a few seeks whatever the queue length. Partial: the index holds only queued rows,
      -- so its size follows the queue, not the job history.
      CREATE INDEX jobs_queue ON jobs (user_id, token_id, pinned_email, max_jobs_override, priority DESC, id)
        WHERE state = 'queued';
      -- A tenant's queue by age: queuedJobs (oldest first), countQueued, expireQueued.
      CREATE INDEX jobs_queue_age ON jobs (user_id, created_at) WHERE state = 'queued';

      -- Callbacks outbox (design invariant 5): written in the transaction that changes the job.
      CREATE TABLE deliveries (
        id                BIGSERIAL PRIMARY KEY,
        user_id           BIGINT NOT NULL REFERENCES users (id),
        job_id            BIGINT NOT NULL REFERENCES jobs (id),
        seq               INTEGER NOT NULL,
        event             TEXT NOT NULL CHECK (event IN ('final', 'progress')),
        url               TEXT NOT NULL,
        body              TEXT NOT NULL,
        state             TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts          INTEGER NOT NULL DEFAULT 0,
        next_attempt_at   BIGINT,
        last_error        TEXT,
        last_status       INTEGER,
        created_at        BIGINT NOT NULL,
        delivered_at      BIGINT,
        lease_owner       TEXT,
        lease_token       TEXT,
        lease_expires_at  BIGINT,
        -- The per-job order, and the lookup of a job's earlier undelivered events.
        UNIQUE (job_id, seq)
      );
      -- claimDueDeliveries / nextDeliveryDue: pending deliveries, earliest due first.
      CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE state = 'pending';
      -- listDeliveries / redeliver: a tenant's deliveries, newest first.
      CREATE INDEX deliveries_user ON deliveries (user_id, id DESC);
    `,
  },
  {
    version: 3,
    name: 'queued-job counter per tenant',
    sql: `
      -- How many of the tenant's jobs are queued, kept exact by the triggers below (the design of
      -- the SQLite store's migration 2), so that enqueue's maxQueueLength check, countQueued and the
      -- dispatcher's "anything queued?" probe read one row instead of counting a 100k-row queue.
      ALTER TABLE users ADD COLUMN queued_count INTEGER NOT NULL DEFAULT 0;

      -- users.queued_count follows every move into and out of 'queued', whichever statement makes it
      -- (enqueue, dispatch, requeue, finish, expireQueued, deleteAccount): the same events as the
      -- SQLite triggers (a job inserted as queued, a state change into or out of it), plus a delete
      -- for safety (the store never deletes jobs). Statement-level triggers over the statement's
      -- transition tables, not row-level ones: a row trigger would update the tenant's users row once
      -- per job, and PostgreSQL makes each update of a row already updated n times in the same
      -- transaction walk the n earlier versions — quadratic, 200 s for a 100k-job expiry. Here a
      -- statement costs one update per tenant whose queue it changed (none for the statements that
      -- do not touch the queue: polls, leases, markRunning — a few tens of µs for the call). The
      -- count needs no join of old and new rows: a job never changes tenant, so per tenant the
      -- change is (new rows queued) − (old rows queued). The update runs in the transaction that
      -- moves the jobs, at the end of the statement, so it commits (or rolls back) with them.
      CREATE FUNCTION pixgate_count_queued() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          UPDATE users u SET queued_count = u.queued_count + d.n
            FROM (SELECT user_id, count(*)::int AS n FROM new_jobs WHERE state = 'queued' GROUP BY user_id) d
           WHERE u.id = d.user_id;
        ELSIF TG_OP = 'UPDATE' THEN
          UPDATE users u SET queued_count = u.queued_count + d.n
            FROM (SELECT user_id, sum(n)::int AS n
                    FROM (SELECT user_id, 1 AS n FROM new_jobs WHERE state = 'queued'
                          UNION ALL
                          SELECT user_id, -1 AS n FROM old_jobs WHERE state = 'queued') moved
                   GROUP BY user_id
                  HAVING sum(n) <> 0) d
           WHERE u.id = d.user_id;
        ELSE
          UPDATE users u SET queued_count = u.queued_count - d.n
            FROM (SELECT user_id, count(*)::int AS n FROM old_jobs WHERE state = 'queued' GROUP BY user_id) d
           WHERE u.id = d.user_id;
        END IF;
        RETURN NULL;
      END
      $fn$;
      CREATE TRIGGER jobs_queued_insert AFTER INSERT ON jobs
        REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION pixgate_count_queued();
      CREATE TRIGGER jobs_queued_update AFTER UPDATE ON jobs
        REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION pixgate_count_queued();
      CREATE TRIGGER jobs_queued_delete AFTER DELETE ON jobs
        REFERENCING OLD TABLE AS old_jobs FOR EACH STATEMENT EXECUTE FUNCTION pixgate_count_queued();

      -- Backfill. Exact even with other instances running: CREATE TRIGGER took a SHARE ROW EXCLUSIVE
      -- lock on jobs (held to COMMIT) after every transaction writing jobs had finished, so no job can
      -- enter or leave the queue between this count and the moment the triggers take over.
      UPDATE users u SET queued_count = q.n
        FROM (SELECT user_id, count(*)::int AS n FROM jobs WHERE state = 'queued' GROUP BY user_id) q
       WHERE q.user_id = u.id;
    `,
  },
  {
    version: 4,
    name: 'queue rank (least laxity first), PixVerse account webhooks, expedited polls',
    // Locks: the ALTERs take ACCESS EXCLUSIVE on accounts, then on jobs, held to COMMIT (the whole
    // migration is one transaction). accounts first: that is the order every transaction of the store
    // takes them in (admission, dispatch, pinned enqueue, deleteAccount: accounts, then jobs), so an
    // instance still running the previous release waits for this migration instead of deadlocking
    // with it (holding an account row, waiting for jobs, while we wait for accounts). While it runs,
    // those instances wait; the cost is the ADD COLUMNs (catalog only: every new column is nullable
    // or has a constant default, so no table rewrite), the UPDATE of the queued rows and three index
    // builds (one scan of jobs each). CREATE INDEX CONCURRENTLY cannot run inside a transaction, and
    // the migration must be atomic.
    sql: `
      -- The account's PixVerse webhook (its id, and its secret sealed like api_key_enc): both or neither.
      ALTER TABLE accounts
        ADD COLUMN webhook_id          TEXT,
        ADD COLUMN webhook_secret_enc  TEXT,
        ADD CONSTRAINT accounts_webhook_pair CHECK ((webhook_id IS NULL) = (webhook_secret_enc IS NULL));

      -- queue_rank: order within one priority of a token's queue line, lowest first (Job.queueRank:
      -- epoch ms when queued minus the expected run time). Double precision, not BIGINT: the caller's
      -- expected time may carry a fraction and the rank must come back exactly as given. NULL for jobs
      -- admitted directly by reserve() (never queued).
      -- poll_hint: set by expeditePoll (a PixVerse webhook said the job ended), cleared by a claim; a
      -- poll that was in flight when it was set reschedules the job at once (see tracking.ts).
      ALTER TABLE jobs
        ADD COLUMN queue_rank  DOUBLE PRECISION,
        ADD COLUMN poll_hint   BOOLEAN NOT NULL DEFAULT false;

      -- Jobs already waiting keep a sane order: their rank is when they were queued (queued_at =
      -- created_at for every job that came through enqueue), as if their expected run time were 0.
      -- Jobs queued after the upgrade (rank = queued time − expected time) may pass them, but only if
      -- queued less than their expected run time later, the bound the rank gives anyway. Only queued
      -- rows are written (jobs_queue_age finds them): finished history keeps NULL, nothing orders it.
      -- The queued-count trigger fires and finds nothing to change (the rows stay queued).
      UPDATE jobs SET queue_rank = COALESCE(queued_at, created_at) WHERE state = 'queued';

      -- dispatch(): as in migration 2, with queue_rank between priority and id, so the best jobs of one
      -- (tenant, token, pinned account, override) line in (priority DESC, queue_rank, id) order — the
      -- order of fairness.ts compareQueued — are still the first entries of the line in the index, read
      -- by a LIMIT seek (queueCandidates.ts spells the columns out in every ORDER BY for that).
      DROP INDEX jobs_queue;
      CREATE INDEX jobs_queue ON jobs (user_id, token_id, pinned_email, max_jobs_override, priority DESC, queue_rank, id)
        WHERE state = 'queued';
      -- queuedJobs: a tenant's first jobs in (priority DESC, queue_rank, id) order, read in index order
      -- up to the LIMIT (the /scheduler estimate shows the first 1,000 of a queue that may hold 100k).
      CREATE INDEX jobs_queue_order ON jobs (user_id, priority DESC, queue_rank, id) WHERE state = 'queued';
      -- jobsByUpstreamId: a PixVerse webhook names only the video id. Partial: queued and submitting
      -- jobs have none; "upstream_id = $1" implies the predicate (= is strict), so the planner uses it.
      CREATE INDEX jobs_upstream ON jobs (upstream_id) WHERE upstream_id IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: 'idempotency keys',
    // A new table only: no lock on the existing tables.
    sql: `
      -- One row per (token, Idempotency-Key): written with the job it asked for (reserve/enqueue), the
      -- first answer added once known. token_id 0 stands for "no token". No foreign keys: the row is a
      -- record of an answer, swept by expiry, and a reference to jobs would add a key-share lock on the
      -- job row to every claim.
      CREATE TABLE idempotency_keys (
        token_id     BIGINT NOT NULL,
        idem_key     TEXT NOT NULL,
        user_id      BIGINT NOT NULL,
        fingerprint  TEXT NOT NULL,
        job_id       BIGINT NOT NULL,
        status       INTEGER,
        body         TEXT,
        created_at   BIGINT NOT NULL,
        expires_at   BIGINT NOT NULL,
        PRIMARY KEY (token_id, idem_key)
      );
      -- The sweeper deletes expired keys oldest first.
      CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
    `,
  },
  {
    version: 6,
    name: 'instance liveness for in-doubt submits',
    sql: `
      -- Which instance started each submit, and when each instance last said it was alive: a dead
      -- instance's in-doubt submits are reconciled seconds after its last beat instead of after
      -- the two-minute age rule (sweeping.ts claimStaleSubmitting).
      ALTER TABLE jobs ADD COLUMN submitter TEXT;
      CREATE TABLE instances (
        id       TEXT PRIMARY KEY,
        beat_at  BIGINT NOT NULL
      );
      -- Stamped by trigger so every path into 'submitting' (reserve's insert, dispatch's bind, and
      -- any added later) records its submitter without each statement having to: the value is the
      -- session's pixgate.instance, set by the pool at connect (pool.ts); NULL on a session
      -- without it, which leaves the job to the age rule.
      CREATE FUNCTION pixgate_stamp_submitter() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        NEW.submitter := current_setting('pixgate.instance', true);
        RETURN NEW;
      END
      $fn$;
      CREATE TRIGGER jobs_submitter BEFORE INSERT OR UPDATE OF state ON jobs
        FOR EACH ROW WHEN (NEW.state = 'submitting') EXECUTE FUNCTION pixgate_stamp_submitter();
    `,
  },
  {
    version: 7,
    name: 'untracked jobs keep their result; deleted jobs leave lists and reads',
    // ADD COLUMN with NULL or constant defaults rewrites nothing; the brief ACCESS EXCLUSIVE lock on
    // jobs is the only lock taken, so the order argument of migration 4 is not at stake.
    sql: `
      -- DELETE /scheduler/{id} on a job in flight: the job stops holding its slot (slot counts
      -- require untracked_at IS NULL) but is still polled, so its result stays readable.
      ALTER TABLE jobs ADD COLUMN untracked_at BIGINT,
                       ADD COLUMN untrack_callback BOOLEAN NOT NULL DEFAULT false,
                       ADD COLUMN deleted_at BIGINT;
      -- GET /videos|images|music: a tenant's visible jobs of one type, newest first.
      CREATE INDEX jobs_listing ON jobs (user_id, type, id DESC) WHERE deleted_at IS NULL;
    `,
  },
  {
    version: 8,
    name: 'index of dead-lettered callback deliveries',
    // The metrics scrape counts dead deliveries on every instance; without this it scans the whole
    // outbox history. Partial, so delivered rows (nearly all of them) stay out of it. Plain CREATE
    // INDEX, not CONCURRENTLY: migrations run in one transaction; it locks out deliveries writes
    // only while it reads the table once.
    sql: `
      CREATE INDEX deliveries_dead ON deliveries (user_id, created_at) WHERE state = 'dead';
    `,
  },
  ...LATER_MIGRATIONS,
];
