import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { openSqliteStore, MIGRATIONS } from '../../src/store/sqlite/index.ts';
import { LOADS_SQL } from '../../src/store/sqlite/accounts.ts';
import { DUE_SQL, STALE_SQL } from '../../src/store/sqlite/tracking.ts';
import { runStoreConformance } from './conformance.ts';
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
    const u = await store.createUser('m', T0);
    await store.upsertAccount({ userId: u.id, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 1, now: T0 });
    const res = await store.reserve({
      userId: u.id, tokenId: null, email: null, maxJobsOverride: null, type: 'video', traceId: 't',
      upstream: { op: 'x', params: {} }, request: {}, replyUrl: null, replyRef: null, now: T0,
    });
    assert.equal(res.ok, true);
    await store.close();
    await store.close(); // idempotent
  });

  it('hot queries read live rows through indexes, never by scanning all job history', async () => {
    const store = await openSqliteStore(':memory:');
    const plan = (sql: string, params: unknown) =>
      (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((r) => r.detail).join(' | ');
    const named = { now: 0, limit: 1, before: 0 };
    assert.match(plan(LOADS_SQL, 1), /SEARCH j USING (COVERING )?INDEX jobs_active \(user_id=\? AND email=\?\)/);
    assert.match(plan(DUE_SQL, named), /USING (COVERING )?INDEX jobs_due \(state=\? AND next_poll_at<\?\)/);
    assert.doesNotMatch(plan(DUE_SQL, named), /TEMP B-TREE/, 'due polls come out in index order');
    assert.match(plan(STALE_SQL, named), /USING (COVERING )?INDEX jobs_due \(state=\?\)/);
    for (const sql of [LOADS_SQL, DUE_SQL, STALE_SQL]) assert.doesNotMatch(plan(sql, sql === LOADS_SQL ? 1 : named), /SCAN j(obs)?\b/);
    await store.close();
  });

  it('foreign keys are enforced', async () => {
    const store = await openSqliteStore(':memory:');
    await assert.rejects(store.upsertAccount({ userId: 999, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 1, now: T0 }));
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
      const rows = a.db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[];
      assert.deepEqual(rows.map((r) => r.version), MIGRATIONS.map((m) => m.version));
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
      const u = await a.createUser('u', T0);
      await a.upsertAccount({ userId: u.id, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 3, now: T0 });
      const input = {
        userId: u.id, tokenId: null, email: null, maxJobsOverride: null, type: 'video' as const, traceId: 't',
        upstream: { op: 'x', params: {} }, request: {}, replyUrl: null, replyRef: null, now: T0,
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

    before(async () => {
      children = Array.from({ length: 3 }, () => new Child(path));
      for (const r of await Promise.all(children.map((c) => c.next()))) assert.equal(r.ready, true, JSON.stringify(r));
    }, { timeout: 60_000 });
    after(() => {
      for (const c of children) c.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('migrating a new file at once: one applies each migration, the rest find nothing to do', { timeout: 30_000 }, async () => {
      const applied = (await race(children, { cmd: 'migrate' })).map((r) => r.applied as number[]);
      assert.equal(applied.filter((v) => v.length > 0).length, 1, `applied by: ${JSON.stringify(applied)}`);
      assert.deepEqual(applied.flat().sort(), MIGRATIONS.map((m) => m.version));
      // And again, now that the schema exists: a no-op everywhere.
      assert.deepEqual((await race(children, { cmd: 'migrate' })).map((r) => r.applied), [[], [], []]);
    });

    it('racing reserve/finish never overbooks any account', { timeout: 60_000 }, async () => {
      const setup = await openSqliteStore(path);
      try {
        const u = await setup.createUser('u', T0);
        const limits: Record<string, number> = { 'a@x.io': 2, 'b@x.io': 1, 'c@x.io': 3 };
        for (const [email, maxJobs] of Object.entries(limits)) {
          await setup.upsertAccount({ userId: u.id, email, apiKeyEnc: 'k', maxJobs, now: T0 });
        }
        const emails = Object.keys(limits);

        // Phase 1, reserve only: exactly the total capacity is admitted, however the race goes.
        const fill = await race(children, { cmd: 'reserve', userId: u.id, emails, attempts: 40, finishRate: 0 });
        assert.equal(fill.reduce((n, r) => n + (r.admitted as number), 0), 6);
        for (const load of await setup.accountLoads(u.id)) assert.equal(load.executing, limits[load.account.email]);

        // Phase 2: free everything, then churn with finishes interleaved.
        for (const job of await setup.activeJobs(u.id)) await setup.finish(job.id, { state: 'cancelled' }, T0);
        const churn = await race(children, { cmd: 'reserve', userId: u.id, emails, attempts: 250, finishRate: 0.5 });
        for (const r of churn) {
          for (const [email, seen] of Object.entries(r.maxSeen as Record<string, number>)) {
            assert.ok(seen <= limits[email]!, `${email}: a process saw ${seen} slot holders > ${limits[email]}`);
          }
        }
        const admitted = churn.reduce((n, r) => n + (r.admitted as number), 0);
        const finished = churn.reduce((n, r) => n + (r.finished as number), 0);
        assert.ok(admitted > 6, `churn should admit repeatedly (admitted ${admitted})`);
        const loads = await setup.accountLoads(u.id);
        for (const load of loads) assert.ok(load.executing <= limits[load.account.email]!);
        assert.equal(loads.reduce((n, l) => n + l.executing, 0), admitted - finished);
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
      const u = await first.createUser('u', T0);
      const token = await first.addToken(u.id, 'e'.repeat(64), 'cli', T0);
      await first.upsertAccount({ userId: u.id, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 2, now: T0 });
      const res = await first.reserve({
        userId: u.id, tokenId: token.id, email: null, maxJobsOverride: null, type: 'video', traceId: 'trace',
        upstream: { op: 'x', params: { id: '384751234567890123456' } }, request: { a: 1 }, replyUrl: null, replyRef: 'r', now: T0,
      });
      assert.ok(res.ok);
      await first.markRunning(res.job.id, '384751234567890123456', T0 + 100, T0);
      const before = await first.getJob(res.job.id);
      await first.close();

      const second = await openSqliteStore(path);
      assert.deepEqual(await second.getJob(res.job.id), before);
      assert.deepEqual((await second.accountLoads(u.id)).map((l) => l.executing), [1]);
      assert.equal((await second.activeTokens(u.id))[0]!.hash, 'e'.repeat(64));
      assert.equal(await second.nextPollDue(), T0 + 100);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
