import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { openSqliteStore, MIGRATIONS } from '../../src/store/sqlite/index.ts';
import { LOADS_SQL } from '../../src/store/sql/accounts.ts';
import { DUE_SQL, STALE_SQL } from '../../src/store/sql/tracking.ts';
import {
  COUNT_QUEUED_SQL,
  HAS_QUEUED_SQL,
  OVERRIDE_HEAD_SQL,
  PASSES_SQL,
  PLAIN_HEAD_SQL,
} from '../../src/store/sqlite/queue.ts';
import { QUEUED_JOBS_SQL } from '../../src/store/sql/queue.ts';
import { BY_UPSTREAM_SQL } from '../../src/store/sql/jobs.ts';
import { DUE_DELIVERIES_SQL } from '../../src/store/sql/outbox.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import type { TokenRecord } from '../../src/store/store.ts';
import { runStoreConformance } from './conformance.ts';
import { runSnapshotConformance } from './snapshotConformance.ts';
import type { Command } from './sqlite-worker.ts';

const T0 = 1_700_000_000_000;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'pixgate-sqlite-'));
}

runStoreConformance('sqlite (temp file)', async () => {
  const dir = tempDir();
  const path = join(dir, 'store.db');
  const store = await openSqliteStore(path);
  return {
    store,
    cleanup: async (failed) => {
      await store.close();
      if (failed) console.error(`kept failed test database: ${path}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
});
runSnapshotConformance('sqlite (temp file)', async () => {
  const dir = tempDir();
  const path = join(dir, 'store.db');
  const store = await openSqliteStore(path);
  return {
    store,
    cleanup: async (failed) => {
      await store.close();
      if (failed) console.error(`kept failed test database: ${path}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
});

// ── cross-process helpers ────────────────────────────────────────────────

const WORKER = fileURLToPath(new URL('./sqlite-worker.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

type Reply = Record<string, unknown>;

/** A worker process with its own connection to `path` (see sqlite-worker.ts for the protocol). */
class Child {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly waiting: ((reply: Reply) => void)[] = [];
  private readonly early: Reply[] = [];
  private exited: Error | null = null;

  constructor(path: string) {
    this.proc = spawn(process.execPath, ['--import', TSX, WORKER, path]);
    this.proc.stderr.pipe(process.stderr);
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      const reply = JSON.parse(line) as Reply;
      const next = this.waiting.shift();
      if (next) next(reply);
      else this.early.push(reply);
    });
    this.proc.on('exit', (code) => {
      this.exited = new Error(`worker exited with ${code}`);
      for (const w of this.waiting.splice(0)) w({ error: this.exited.message });
    });
  }

  /** The next line the child prints. */
  next(): Promise<Reply> {
    const ready = this.early.shift();
    if (ready) return Promise.resolve(ready);
    if (this.exited) return Promise.resolve({ error: this.exited.message });
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  write(command: Command): void {
    this.proc.stdin.write(`${JSON.stringify(command)}\n`);
  }

  stop(): void {
    if (!this.exited) this.proc.stdin.end(`${JSON.stringify({ cmd: 'exit' })}\n`);
  }
}

/** Sends one command to every child at the same moment and collects their replies. */
async function race(children: Child[], command: Command): Promise<Reply[]> {
  const replies = children.map((c) => c.next());
  for (const c of children) c.write(command);
  const all = await Promise.all(replies);
  for (const r of all) if (r.error) assert.fail(`worker: ${String(r.error)}`);
  return all;
}

// ── SQLite-specific behaviour ────────────────────────────────────────────

describe('SqliteStore specifics', () => {
  it('opens with WAL, NORMAL sync, foreign keys and a busy timeout', async () => {
    const dir = tempDir();
    try {
      const store = await openSqliteStore(join(dir, 'p.db'));
      assert.equal(store.dialect, 'sqlite');
      assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(store.db.pragma('synchronous', { simple: true }), 1);
      assert.equal(store.db.pragma('foreign_keys', { simple: true }), 1);
      assert.equal(store.db.pragma('busy_timeout', { simple: true }), 5000);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('works in memory too', async () => {
    const store = await openSqliteStore(':memory:');
    const u = await store.createUser('m', T0, 'whsec_test');
    await store.upsertAccount({ userId: u.id, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 1, now: T0 });
    const res = await store.reserve({
      provider: 'pixverse',
      userId: u.id,
      tokenId: null,
      email: null,
      maxJobsOverride: null,
      type: 'video',
      traceId: 't',
      upstream: { op: 'x', params: {} },
      request: {},
      replyUrl: null,
      replyRef: null,
      now: T0,
    });
    assert.equal(res.ok, true);
    await store.close();
    await store.close(); // idempotent
  });

  it('hot queries read live rows through indexes, never by scanning all job history', async () => {
    const store = await openSqliteStore(':memory:');
    const plan = (sql: string, params: unknown) =>
      (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[])
        .map((r) => r.detail)
        .join(' | ');
    // The shared statements bind `$1`, `$2`, … (named 1, 2, … for better-sqlite3).
    const due = { 1: 0, 2: 1 };
    const stale = { 1: 0, 2: 0, 3: 1 };
    assert.match(
      plan(LOADS_SQL, 1),
      /SEARCH j USING (COVERING )?INDEX jobs_active \(user_id=\? AND email=\?\)/,
    );
    // Held slots of timed-out jobs: their own partial index, not the terminal history.
    assert.match(
      plan(LOADS_SQL, 1),
      /SEARCH h USING (COVERING )?INDEX jobs_slot_held \(user_id=\? AND email=\?\)/,
    );
    assert.doesNotMatch(plan(LOADS_SQL, 1), /SCAN h\b/);
    assert.match(plan(DUE_SQL, due), /USING (COVERING )?INDEX jobs_due \(state=\? AND next_poll_at<\?\)/);
    assert.doesNotMatch(plan(DUE_SQL, due), /TEMP B-TREE/, 'due polls come out in index order');
    assert.match(plan(STALE_SQL, stale), /USING (COVERING )?INDEX jobs_due \(state=\?\)/);
    for (const sql of [LOADS_SQL, DUE_SQL, STALE_SQL])
      assert.doesNotMatch(plan(sql, sql === LOADS_SQL ? 1 : sql === DUE_SQL ? due : stale), /SCAN j(obs)?\b/);

    // Dispatch: every probe is one seek on jobs_queue with all equality columns bound (NULL token
    // and NULL pin included, via IS), in index order — no scan of the queue, no sort.
    for (const tokenId of [null, 7]) {
      for (const pinned of [null, 'a@x.io']) {
        const line = { userId: 1, tokenId, pinned };
        assert.match(
          plan(PLAIN_HEAD_SQL, line),
          /SEARCH jobs USING INDEX jobs_queue \(user_id=\? AND token_id=\? AND pinned_email=\? AND max_jobs_override=\?\)/,
        );
        const over = plan(OVERRIDE_HEAD_SQL, { ...line, above: 1 });
        assert.match(
          over,
          /SEARCH jobs USING INDEX jobs_queue \(user_id=\? AND token_id=\? AND pinned_email=\? AND max_jobs_override>\?\)/,
        );
        for (const p of [plan(PLAIN_HEAD_SQL, line), over]) assert.doesNotMatch(p, /TEMP B-TREE|SCAN/);
      }
    }
    assert.match(
      plan(HAS_QUEUED_SQL, { userId: 1, tokenId: null }),
      /COVERING INDEX jobs_queue \(user_id=\? AND token_id=\?\)/,
    );
    // queuedJobs: the tenant's queue in (priority DESC, queue_rank, id) order straight from jobs_queue_order.
    assert.match(
      plan(QUEUED_JOBS_SQL, { 1: 1, 2: 1000 }),
      /SEARCH jobs USING INDEX jobs_queue_order \(user_id=\?\)/,
    );
    assert.doesNotMatch(plan(QUEUED_JOBS_SQL, { 1: 1, 2: 1000 }), /TEMP B-TREE|SCAN/);
    // jobsByUpstreamId: a seek on the partial jobs_upstream, newest first without a sort.
    assert.match(
      plan(BY_UPSTREAM_SQL, { 1: '42' }),
      /SEARCH jobs USING INDEX jobs_upstream \(upstream_id=\?\)/,
    );
    assert.doesNotMatch(plan(BY_UPSTREAM_SQL, { 1: '42' }), /TEMP B-TREE|SCAN/);
    assert.match(plan(PASSES_SQL, 1), /SEARCH q USING PRIMARY KEY \(user_id=\?\)/);
    assert.match(
      plan(COUNT_QUEUED_SQL, 1),
      /SEARCH users USING INTEGER PRIMARY KEY \(rowid=\?\)/,
      'a counter, not a count',
    );
    assert.match(
      plan(DUE_DELIVERIES_SQL, { 1: 0, 2: 1 }),
      /SEARCH d USING INDEX deliveries_due \(next_attempt_at<\?\)/,
    );
    assert.doesNotMatch(plan(DUE_DELIVERIES_SQL, { 1: 0, 2: 1 }), /SCAN/);
    await store.close();
  });

  it('dispatch stays fast with 100,000 queued jobs over 3 tokens', { timeout: 60_000 }, async (t) => {
    const store = await openSqliteStore(':memory:');
    try {
      const u = await store.createUser('big', T0, 'whsec_test');
      const emails = ['a@x.io', 'b@x.io', 'c@x.io', 'd@x.io'];
      for (const email of emails)
        await store.upsertAccount({ userId: u.id, email, apiKeyEnc: 'k', maxJobs: 8, now: T0 });
      const tokens: TokenRecord[] = [];
      for (let i = 0; i < 3; i++) tokens.push(await store.addToken(u.id, `${i}`.repeat(64), null, T0));
      await store.setTokenWeight(u.id, tokens[0]!.id, 2);
      const base = {
        userId: u.id,
        maxJobsOverride: null,
        type: 'video' as const,
        traceId: 't',
        upstream: { op: 'x', params: {} },
        request: {},
        replyUrl: null,
        replyRef: null,
        priority: 0,
        now: T0,
        queueRank: T0,
      };
      // The first job of each token goes through enqueue (joins the fairness table); the rest are
      // bulk-inserted: a mix of priorities, pins and per-job overrides, in one transaction.
      for (const tok of tokens)
        assert.ok(
          (await store.enqueue({ provider: 'pixverse', ...base, tokenId: tok.id, email: null }, 200_000)).ok,
        );
      const insert = store.db.prepare(
        `INSERT INTO jobs (user_id, token_id, email, pinned_email, type, state, trace_id, upstream_json, request_json,
                           priority, queue_rank, max_jobs_override, created_at, queued_at)
         VALUES (?, ?, ?, ?, 'video', 'queued', 't', '{}', '{}', ?, ?, ?, ?, ?)`,
      );
      store.db.transaction(() => {
        for (let i = 3; i < 100_000; i++) {
          const pin = i % 5 === 0 ? emails[i % emails.length]! : null;
          const override = i % 11 === 0 ? 1 + (i % 8) : null;
          // Ranks: queued at T0 + i, minus an expected run time of 0, 1 or 2 minutes.
          insert.run(
            u.id,
            tokens[i % 3]!.id,
            pin,
            pin,
            (i % 3) - 1,
            T0 + i - 60_000 * ((i % 7) % 3),
            override,
            T0 + i,
            T0 + i,
          );
        }
      })();
      assert.equal(await store.countQueued(u.id), 100_000);
      const exactCount = () =>
        (
          store.db
            .prepare(`SELECT COUNT(*) AS n FROM jobs WHERE user_id = ? AND state = 'queued'`)
            .get(u.id) as { n: number }
        ).n;

      const times: number[] = [];
      const timed = async <R>(fn: () => Promise<R>): Promise<R> => {
        const start = process.hrtime.bigint();
        const r = await fn();
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
        return r;
      };
      // Fill all 32 slots, then keep them full: finish one, dispatch one (the steady state).
      const held: number[] = [];
      for (let i = 0; i < 32; i++) held.push((await timed(() => store.dispatch(u.id, T0)))!.job.id);
      assert.equal(await timed(() => store.dispatch(u.id, T0)), null, 'all full');
      for (let i = 0; i < 300; i++) {
        await store.finish(held.shift()!, { state: 'completed' }, T0);
        const d = await timed(() => store.dispatch(u.id, T0));
        assert.ok(d);
        held.push(d.job.id);
      }
      // Batches of 16 (the dispatcher's size) after 16 slots free at once.
      const batchTimes: number[] = [];
      for (let i = 0; i < 10; i++) {
        for (let k = 0; k < 16; k++) await store.finish(held.shift()!, { state: 'completed' }, T0);
        const start = process.hrtime.bigint();
        const batch = await store.dispatchBatch(u.id, T0, 16);
        batchTimes.push(Number(process.hrtime.bigint() - start) / 1e6);
        assert.equal(batch.length, 16);
        held.push(...batch.map((d) => d.job.id));
      }
      const batchMedian = [...batchTimes].sort((a, b) => a - b)[batchTimes.length >> 1]!;
      const enqueueStart = process.hrtime.bigint();
      for (let i = 0; i < 20; i++)
        await store.enqueue({ provider: 'pixverse', ...base, tokenId: tokens[1]!.id, email: null }, 200_000);
      const enqueueMs = Number(process.hrtime.bigint() - enqueueStart) / 1e6 / 20;

      assert.equal(
        await store.countQueued(u.id),
        exactCount(),
        'the trigger-kept counter matches a real count',
      );
      await store.expireQueued(T0 + 3_600_000 + 50_001, 'expired'); // the oldest 50k-odd jobs
      assert.equal(await store.countQueued(u.id), exactCount());

      const sorted = [...times].sort((a, b) => a - b);
      const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
      const mean = times.reduce((a, b) => a + b, 0) / times.length;
      t.diagnostic(
        `dispatch over 100k queued: mean ${mean.toFixed(3)} ms, p50 ${pct(0.5).toFixed(3)} ms, p99 ${pct(0.99).toFixed(3)} ms, ` +
          `max ${sorted[sorted.length - 1]!.toFixed(3)} ms (${times.length} calls); batch of 16 median ${batchMedian.toFixed(3)} ms; ` +
          `enqueue ${enqueueMs.toFixed(3)} ms`,
      );
      assert.ok(pct(0.5) < 5, `dispatch p50 ${pct(0.5)} ms`);
    } finally {
      await store.close();
    }
  });

  it('migration 2 upgrades a version-1 file in place, keeping every row and the id high-water mark', async () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'v1.db');
      // A data dir written by the previous release: only migration 1 applied.
      const old = openDatabase(path);
      old.exec(
        `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
      );
      old.exec(MIGRATIONS[0]!.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (1, ?, ?)').run(MIGRATIONS[0]!.name, T0);
      old
        .prepare(
          `INSERT INTO users (id, name, reply_url, created_at) VALUES (1, 'old', 'https://hook.example/old', ?)`,
        )
        .run(T0);
      old
        .prepare(`INSERT INTO tokens (id, user_id, hash, label, created_at) VALUES (1, 1, ?, 'cli', ?)`)
        .run('e'.repeat(64), T0);
      old
        .prepare(
          `INSERT INTO accounts (user_id, email, api_key_enc, max_jobs, created_at, updated_at) VALUES (1, 'a@x.io', 'k', 2, ?, ?)`,
        )
        .run(T0, T0);
      const job = old.prepare(
        `INSERT INTO jobs (user_id, token_id, email, type, state, upstream_id, trace_id, upstream_json, request_json,
                           created_at, started_at, next_poll_at)
         VALUES (1, 1, 'a@x.io', 'video', 'running', '384751234567890123456', 'tr', '{"op":"x","params":{}}', '{"a":1}', ?, ?, ?)`,
      );
      for (let i = 0; i < 3; i++) job.run(T0, T0 + i, T0 + 100);
      old.prepare('DELETE FROM jobs WHERE id = 3').run(); // the newest id must still never be reused
      old.close();

      const store = await openSqliteStore(path);
      try {
        assert.deepEqual(
          (
            store.db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as {
              version: number;
            }[]
          ).map((r) => r.version),
          MIGRATIONS.map((m) => m.version),
        );
        assert.deepEqual(store.db.pragma('foreign_key_check'), []);
        assert.equal(store.db.pragma('integrity_check', { simple: true }), 'ok');
        const user = (await store.getUser(1))!;
        assert.deepEqual(user, {
          id: 1,
          name: 'old',
          replyUrl: 'https://hook.example/old',
          createdAt: T0,
          queueByDefault: false,
          maxQueueLength: 100_000,
          maxQueueWaitMs: 3_600_000,
          webhookSecret: '',
          webhookSecretPrev: null,
          webhookSecretPrevUntil: null,
        });
        const rotated = (await store.rotateWebhookSecret(1, 'whsec_new', T0 + 1000))!;
        assert.deepEqual(
          [rotated.webhookSecret, rotated.webhookSecretPrev, rotated.webhookSecretPrevUntil],
          ['whsec_new', null, null],
          'an empty pre-migration secret is not kept as a previous one',
        );
        assert.equal((await store.listTokens(1))[0]!.weight, 1);

        const kept = (await store.getJob(2))!;
        assert.deepEqual(
          [
            kept.email,
            kept.pinnedEmail,
            kept.state,
            kept.upstreamId,
            kept.priority,
            kept.maxJobsOverride,
            kept.queuedAt,
            kept.startedAt,
            kept.nextPollAt,
          ],
          ['a@x.io', null, 'running', '384751234567890123456', 0, null, null, T0 + 1, T0 + 100],
        );
        assert.deepEqual(kept.request, { a: 1 });
        assert.deepEqual(
          (await store.accountLoads(1)).map((l) => l.executing),
          [2],
        );
        assert.equal(
          await store.findJob(1, 'a@x.io', 'video', '384751234567890123456').then((j) => j!.id),
          2,
        );

        // New rows continue above the old high-water mark (3), and the queue works on the old data.
        const q = await store.enqueue(
          {
            provider: 'pixverse',
            userId: 1,
            tokenId: 1,
            email: null,
            maxJobsOverride: null,
            type: 'video',
            traceId: 't',
            upstream: { op: 'x', params: {} },
            request: {},
            replyUrl: null,
            replyRef: null,
            priority: 0,
            now: T0 + 5,
            queueRank: T0 + 5,
          },
          10,
        );
        assert.ok(q.ok);
        assert.equal(q.job.id, 4);
        await store.finish(1, { state: 'completed' }, T0 + 6);
        assert.equal((await store.dispatch(1, T0 + 7))!.job.id, 4);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('migration 3 upgrades a version-2 file: the waiting queue keeps its order, old rows read back, new columns work', async () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'v2.db');
      // A data dir written by the previous release: migrations 1 and 2 applied, jobs in every state.
      const old = openDatabase(path);
      old.exec(
        `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
      );
      for (const m of MIGRATIONS.slice(0, 2)) {
        old.exec(m.sql);
        old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, T0);
      }
      old
        .prepare(`INSERT INTO users (id, name, created_at, webhook_secret) VALUES (1, 'old', ?, 'whsec_old')`)
        .run(T0);
      old
        .prepare(
          `INSERT INTO accounts (user_id, email, api_key_enc, max_jobs, created_at, updated_at) VALUES (1, 'a@x.io', 'k', 1, ?, ?)`,
        )
        .run(T0, T0);
      // The pseudo-token's fairness row, as the release's enqueue() left it.
      old.prepare(`INSERT INTO queue_passes (user_id, token_key, pass) VALUES (1, 0, 0)`).run();
      const insert = old.prepare(
        `INSERT INTO jobs (user_id, email, pinned_email, type, state, upstream_id, trace_id, upstream_json, request_json,
                           priority, created_at, queued_at, started_at, next_poll_at)
         VALUES (1, ?, NULL, 'video', ?, ?, 't', '{"op":"x","params":{}}', '{}', ?, ?, ?, ?, ?)`,
      );
      // id 1: running (came through the queue), id 2: completed; ids 3..7 queued, ages and priorities mixed.
      insert.run('a@x.io', 'running', '384751234567890123456', 0, T0, T0, T0 + 1, T0 + 100);
      insert.run('a@x.io', 'completed', '11', 0, T0, null, T0, null);
      const queued: [number, number][] = [
        [0, 10],
        [1, 20],
        [0, 30],
        [-1, 40],
        [1, 50],
      ]; // [priority, created_at offset]
      for (const [priority, at] of queued)
        insert.run(null, 'queued', null, priority, T0 + at, T0 + at, null, null);
      old.close();

      const store = await openSqliteStore(path);
      try {
        assert.deepEqual(
          (
            store.db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as {
              version: number;
            }[]
          ).map((r) => r.version),
          MIGRATIONS.map((m) => m.version),
        );
        assert.equal(store.db.pragma('integrity_check', { simple: true }), 'ok');
        const indexed = (name: string) =>
          (store.db.pragma(`index_info(${name})`) as { name: string }[]).map((c) => c.name);
        assert.deepEqual(indexed('jobs_queue'), [
          'user_id',
          'token_id',
          'pinned_email',
          'max_jobs_override',
          'priority',
          'queue_rank',
          'id',
        ]);

        // Queued jobs are ranked by when they were queued; every other job keeps NULL.
        const ranks = (
          store.db.prepare('SELECT id, queue_rank FROM jobs ORDER BY id').all() as {
            id: number;
            queue_rank: number | null;
          }[]
        ).map((r) => r.queue_rank);
        assert.deepEqual(ranks, [null, null, T0 + 10, T0 + 20, T0 + 30, T0 + 40, T0 + 50]);
        assert.equal(await store.countQueued(1), 5);
        assert.deepEqual(
          (await store.queuedJobs(1, 10)).map((j) => j.id),
          [4, 7, 3, 5, 6],
          'priority, then age, as before',
        );

        // Old rows read back whole; the new columns have their defaults.
        const running = (await store.getJob(1))!;
        assert.deepEqual(
          [running.state, running.upstreamId, running.queueRank, running.nextPollAt],
          ['running', '384751234567890123456', null, T0 + 100],
        );
        const account = (await store.getAccount(1, 'a@x.io'))!;
        assert.deepEqual([account.webhookId, account.webhookSecretEnc], [null, null]);
        assert.deepEqual(
          (await store.jobsByUpstreamId('384751234567890123456')).map((j) => j.id),
          [1],
        );
        assert.equal(await store.expeditePoll(1, T0 + 50), true);
        assert.equal((await store.getJob(1))!.nextPollAt, T0 + 50);

        // A job queued after the upgrade, expecting 25 ms of work at T0 + 35 (rank T0 + 10), waits behind
        // the older normal-priority job of equal rank (lower id) and ahead of the younger ones.
        const q = await store.enqueue(
          {
            provider: 'pixverse',
            userId: 1,
            tokenId: null,
            email: null,
            maxJobsOverride: null,
            type: 'video',
            traceId: 't',
            upstream: { op: 'x', params: {} },
            request: {},
            replyUrl: null,
            replyRef: null,
            priority: 0,
            now: T0 + 35,
            queueRank: T0 + 10,
          },
          10,
        );
        assert.ok(q.ok);
        await store.finish(1, { state: 'completed' }, T0 + 60); // the one slot frees
        const order: number[] = [];
        for (let i = 0; i < 6; i++) {
          const d = (await store.dispatch(1, T0 + 61))!;
          order.push(d.job.id);
          await store.finish(d.job.id, { state: 'completed' }, T0 + 62);
        }
        assert.deepEqual(order, [4, 7, 3, q.job.id, 5, 6]);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('foreign keys are enforced', async () => {
    const store = await openSqliteStore(':memory:');
    await assert.rejects(
      store.upsertAccount({ userId: 999, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 1, now: T0 }),
    );
    await store.close();
  });

  it('migrate() is idempotent on one connection and across connections', async () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'm.db');
      const a = await openSqliteStore(path);
      await a.migrate();
      const b = await openSqliteStore(path);
      await Promise.all([a.migrate(), b.migrate()]);
      const rows = a.db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as {
        version: number;
      }[];
      assert.deepEqual(
        rows.map((r) => r.version),
        MIGRATIONS.map((m) => m.version),
      );
      await a.close();
      await b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two stores on one file see each other and never overbook (same process)', async () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'two.db');
      const a = await openSqliteStore(path);
      const b = await openSqliteStore(path);
      const u = await a.createUser('u', T0, 'whsec_test');
      await a.upsertAccount({ userId: u.id, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 3, now: T0 });
      const input = {
        userId: u.id,
        provider: 'pixverse',
        tokenId: null,
        email: null,
        maxJobsOverride: null,
        type: 'video' as const,
        traceId: 't',
        upstream: { op: 'x', params: {} },
        request: {},
        replyUrl: null,
        replyRef: null,
        now: T0,
      };
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).reserve(input)));
      assert.equal(results.filter((r) => r.ok).length, 3);
      assert.equal((await b.accountLoads(u.id))[0]!.executing, 3);
      await a.close();
      await b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('several processes on one file', () => {
    // Three real processes share the file for both races (process start-up dominates the cost).
    // The tests below run in order and build on each other: the migrate race creates the schema.
    const dir = tempDir();
    const path = join(dir, 'race.db');
    let children: Child[] = [];

    before(
      async () => {
        children = Array.from({ length: 3 }, () => new Child(path));
        for (const r of await Promise.all(children.map((c) => c.next())))
          assert.equal(r.ready, true, JSON.stringify(r));
      },
      { timeout: 60_000 },
    );
    after(() => {
      for (const c of children) c.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('migrating a new file at once: one applies each migration, the rest find nothing to do', {
      timeout: 30_000,
    }, async () => {
      const applied = (await race(children, { cmd: 'migrate' })).map((r) => r.applied as number[]);
      assert.equal(applied.filter((v) => v.length > 0).length, 1, `applied by: ${JSON.stringify(applied)}`);
      assert.deepEqual(
        applied.flat().sort((a, b) => a - b),
        MIGRATIONS.map((m) => m.version),
      );
      // And again, now that the schema exists: a no-op everywhere.
      assert.deepEqual(
        (await race(children, { cmd: 'migrate' })).map((r) => r.applied),
        [[], [], []],
      );
    });

    it('racing reserve/finish never overbooks any account', { timeout: 60_000 }, async () => {
      const setup = await openSqliteStore(path);
      try {
        const u = await setup.createUser('u', T0, 'whsec_test');
        const limits: Record<string, number> = { 'a@x.io': 2, 'b@x.io': 1, 'c@x.io': 3 };
        for (const [email, maxJobs] of Object.entries(limits)) {
          await setup.upsertAccount({ userId: u.id, email, apiKeyEnc: 'k', maxJobs, now: T0 });
        }
        const emails = Object.keys(limits);

        // Phase 1, reserve only: exactly the total capacity is admitted, however the race goes.
        const fill = await race(children, {
          cmd: 'reserve',
          userId: u.id,
          emails,
          attempts: 40,
          finishRate: 0,
        });
        assert.equal(
          fill.reduce((n, r) => n + (r.admitted as number), 0),
          6,
        );
        for (const load of await setup.accountLoads(u.id))
          assert.equal(load.executing, limits[load.account.email]);

        // Phase 2: free everything, then churn with finishes interleaved.
        for (const job of await setup.activeJobs(u.id))
          await setup.finish(job.id, { state: 'cancelled' }, T0);
        const churn = await race(children, {
          cmd: 'reserve',
          userId: u.id,
          emails,
          attempts: 250,
          finishRate: 0.5,
        });
        for (const r of churn) {
          for (const [email, seen] of Object.entries(r.maxSeen as Record<string, number>)) {
            assert.ok(
              seen <= limits[email]!,
              `${email}: a process saw ${seen} slot holders > ${limits[email]}`,
            );
          }
        }
        const admitted = churn.reduce((n, r) => n + (r.admitted as number), 0);
        const finished = churn.reduce((n, r) => n + (r.finished as number), 0);
        assert.ok(admitted > 6, `churn should admit repeatedly (admitted ${admitted})`);
        const loads = await setup.accountLoads(u.id);
        for (const load of loads) assert.ok(load.executing <= limits[load.account.email]!);
        assert.equal(
          loads.reduce((n, l) => n + l.executing, 0),
          admitted - finished,
        );
      } finally {
        await setup.close();
      }
    });

    it('racing enqueue/dispatch/finish never overbooks any account', { timeout: 60_000 }, async () => {
      const setup = await openSqliteStore(path);
      try {
        const u = await setup.createUser('q', T0, 'whsec_test');
        const limits: Record<string, number> = { 'a@x.io': 2, 'b@x.io': 1, 'c@x.io': 3 };
        for (const [email, maxJobs] of Object.entries(limits)) {
          await setup.upsertAccount({ userId: u.id, email, apiKeyEnc: 'k', maxJobs, now: T0 });
        }
        const replies = await race(children, {
          cmd: 'queue',
          userId: u.id,
          emails: Object.keys(limits),
          attempts: 200,
        });
        for (const r of replies) {
          for (const [email, seen] of Object.entries(r.maxSeen as Record<string, number>)) {
            assert.ok(
              seen <= limits[email]!,
              `${email}: a process saw ${seen} slot holders > ${limits[email]}`,
            );
          }
        }
        const sum = (key: string) => replies.reduce((n, r) => n + (r[key] as number), 0);
        assert.ok(sum('dispatched') > 6, `dispatch should run repeatedly (dispatched ${sum('dispatched')})`);
        const loads = await setup.accountLoads(u.id);
        for (const load of loads) assert.ok(load.executing <= limits[load.account.email]!);
        assert.equal(
          loads.reduce((n, l) => n + l.executing, 0),
          sum('dispatched') - sum('finished'),
        );
        assert.equal(await setup.countQueued(u.id), sum('enqueued') - sum('dispatched'));
      } finally {
        await setup.close();
      }
    });
  });

  it('a re-opened file keeps users, accounts and jobs (durability)', async () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'durable.db');
      const first = await openSqliteStore(path);
      const u = await first.createUser('u', T0, 'whsec_test');
      const token = await first.addToken(u.id, 'e'.repeat(64), 'cli', T0);
      await first.upsertAccount({ userId: u.id, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 2, now: T0 });
      const res = await first.reserve({
        provider: 'pixverse',
        userId: u.id,
        tokenId: token.id,
        email: null,
        maxJobsOverride: null,
        type: 'video',
        traceId: 'trace',
        upstream: { op: 'x', params: { id: '384751234567890123456' } },
        request: { a: 1 },
        replyUrl: null,
        replyRef: 'r',
        now: T0,
      });
      assert.ok(res.ok);
      await first.markRunning(res.job.id, '384751234567890123456', T0 + 100, T0);
      const before = await first.getJob(res.job.id);
      await first.close();

      const second = await openSqliteStore(path);
      assert.deepEqual(await second.getJob(res.job.id), before);
      assert.deepEqual(
        (await second.accountLoads(u.id)).map((l) => l.executing),
        [1],
      );
      assert.equal((await second.activeTokens(u.id))[0]!.hash, 'e'.repeat(64));
      assert.equal(await second.nextPollDue(), T0 + 100);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
