/**
 * PostgreSQL store: the shared conformance suite, plus what only a networked store must prove —
 * several instances (separate pools, like separate gateway processes) sharing one database.
 *
 * Needs a real PostgreSQL (PIXGATE_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
 * If it is unreachable these tests FAIL; they never skip. Each test runs in its own fresh schema,
 * dropped afterwards unless the test failed (then it is kept and its name printed for inspection).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import type { ReserveInput } from '../../src/store/store.ts';
import { channelName, listenForChanges, MIGRATIONS, openPostgresStore, type PostgresStore } from '../../src/store/postgres/index.ts';
import { runStoreConformance } from './conformance.ts';

const DATABASE_URL = process.env.PIXGATE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const T0 = 1_700_000_000_000;

function freshSchemaName(): string {
  return `pixgate_test_${randomBytes(6).toString('hex')}`;
}

/** One-off admin connection (schema drops, checks that must bypass the store). */
async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function dropSchema(schema: string): Promise<void> {
  await admin((c) => c.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`));
}

/**
 * Schema drops run in the background (a DROP … CASCADE costs a few hundred ms on a busy machine,
 * and nothing waits on it); the suite's after() hook awaits them all, so a failed drop still fails
 * the run and no schema outlives it.
 */
const pendingDrops: Promise<void>[] = [];
after(() => Promise.all(pendingDrops).then(() => undefined));

/** A fresh schema shared by every store the test opens; closed and dropped afterwards, kept on failure. */
class Fixture {
  readonly schema = freshSchemaName();
  private readonly stores: PostgresStore[] = [];

  async open(opts: { migrate?: boolean; poolSize?: number } = {}): Promise<PostgresStore> {
    const store = await openPostgresStore(DATABASE_URL, { schema: this.schema, poolSize: opts.poolSize });
    this.stores.push(store);
    if (opts.migrate !== false) await store.migrate();
    return store;
  }

  /** SQL against the test schema through a separate connection (an independent observer). */
  async sql<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    return admin(async (c) => {
      await c.query(`SET search_path TO ${pg.escapeIdentifier(this.schema)}`);
      return (await c.query<R>(text, values)).rows;
    });
  }

  async cleanup(failed: boolean): Promise<void> {
    await Promise.all(this.stores.map((s) => s.close()));
    if (failed) {
      console.error(`[postgres.test] test failed; schema kept for inspection: ${this.schema}`);
      return;
    }
    pendingDrops.push(dropSchema(this.schema));
  }
}

function pgTest(title: string, body: (fx: Fixture) => Promise<void>, timeout = 20_000): void {
  it(title, { timeout }, async () => {
    const fx = new Fixture();
    let failed = true;
    try {
      await body(fx);
      failed = false;
    } finally {
      await fx.cleanup(failed);
    }
  });
}

function reserveInput(userId: number, over: Partial<ReserveInput> = {}): ReserveInput {
  return {
    userId,
    tokenId: null,
    email: null,
    maxJobsOverride: null,
    type: 'video',
    traceId: `trace-${randomBytes(6).toString('hex')}`,
    upstream: { op: 'video.text', params: { prompt: 'p' } },
    request: { prompt: 'p' },
    replyUrl: null,
    replyRef: null,
    now: T0,
    ...over,
  };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('PostgreSQL store', () => {
  it('PostgreSQL is reachable (these tests fail, never skip, without it)', async () => {
    const rows = await admin(async (c) => (await c.query<{ one: number }>('SELECT 1 AS one')).rows);
    assert.deepEqual(rows, [{ one: 1 }]);
  });

  runStoreConformance('postgres', async () => {
    const fx = new Fixture();
    const store = await fx.open();
    return { store, cleanup: (failed) => fx.cleanup(failed) };
  });

  describe('several instances on one database', () => {
    pgTest('concurrent migrate() on an empty schema: every instance comes up', async (fx) => {
      // Three "processes" starting at the same moment on a schema that does not exist yet.
      const stores = await Promise.all([1, 2, 3].map(() => fx.open({ migrate: false, poolSize: 2 })));
      await Promise.all(stores.map((s) => s.migrate()));
      const versions = await fx.sql<{ version: number }>('SELECT version FROM pixgate_migrations ORDER BY version');
      assert.deepEqual(versions.map((r) => r.version), MIGRATIONS.map((m) => m.version));
      // Migrating again is a no-op, and every instance can use the schema.
      await Promise.all(stores.map((s) => s.migrate()));
      const users = await Promise.all(stores.map((s, i) => s.createUser(`u${i}`, T0)));
      assert.equal(new Set(users.map((u) => u.id)).size, 3);
      const tables = await fx.sql<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
        [fx.schema],
      );
      assert.deepEqual(tables.map((t) => t.table_name), ['accounts', 'jobs', 'pixgate_migrations', 'tokens', 'users']);
    });

    pgTest('two instances hammering reserve/finish never exceed a limit', async (fx) => {
      const a = await fx.open({ poolSize: 6 });
      const b = await fx.open({ poolSize: 6 });
      const user = await a.createUser('tenant', T0);
      const limits = new Map([
        ['one@x.io', 1],
        ['two@x.io', 2],
        ['four@x.io', 4],
      ]);
      for (const [email, maxJobs] of limits) await a.upsertAccount({ userId: user.id, email, apiKeyEnc: 'k', maxJobs, now: T0 });
      const emails = [...limits.keys()];

      // Jobs we know hold a slot: added after reserve() returned (so committed), removed *before*
      // finish() is sent. The set is therefore always a subset of the true slot holders, and a set
      // larger than the limit proves a real overbooking (no false alarms from timing).
      const holding = new Map(emails.map((e) => [e, new Set<number>()]));
      const maxSeen = new Map(emails.map((e) => [e, 0]));
      const violations: string[] = [];

      // An independent observer counting slot holders with SQL while the hammer runs.
      let observing = true;
      const observed = new Map(emails.map((e) => [e, 0]));
      let samples = 0;
      const observer = admin(async (c) => {
        await c.query(`SET search_path TO ${pg.escapeIdentifier(fx.schema)}`);
        while (observing) {
          const res = await c.query<{ email: string; n: number }>(
            `SELECT email, count(*)::int AS n FROM jobs WHERE state IN ('submitting', 'running') GROUP BY email`,
          );
          samples++;
          for (const row of res.rows) {
            observed.set(row.email, Math.max(observed.get(row.email) ?? 0, row.n));
            if (row.n > limits.get(row.email)!) violations.push(`SQL saw ${row.n} on ${row.email}`);
          }
        }
      });

      const TOTAL = 300;
      let issued = 0;
      let admitted = 0;
      const refusals = new Map<string, number>();
      const rnd = (n: number) => Math.floor(Math.random() * n);
      const worker = async (): Promise<void> => {
        while (issued < TOTAL) {
          issued++;
          const store = Math.random() < 0.5 ? a : b;
          const pinned = Math.random() < 0.4 ? emails[rnd(emails.length)]! : null;
          const res = await store.reserve(reserveInput(user.id, { email: pinned, now: T0 + issued }));
          if (!res.ok) {
            refusals.set(res.reason, (refusals.get(res.reason) ?? 0) + 1);
            assert.ok(res.reason === (pinned ? 'account_full' : 'none_free'), `unexpected refusal ${res.reason}`);
            continue;
          }
          admitted++;
          const set = holding.get(res.job.email)!;
          set.add(res.job.id);
          maxSeen.set(res.job.email, Math.max(maxSeen.get(res.job.email)!, set.size));
          if (set.size > limits.get(res.job.email)!) violations.push(`${set.size} known holders on ${res.job.email}`);
          // Hold the slot a little, sometimes going through running, then free it from either instance.
          if (Math.random() < 0.5) await (Math.random() < 0.5 ? a : b).markRunning(res.job.id, String(900_000 + res.job.id), T0, T0);
          await sleep(rnd(4));
          set.delete(res.job.id);
          const outcome = Math.random() < 0.8 ? 'completed' : 'failed';
          const finished = await (Math.random() < 0.5 ? a : b).finish(res.job.id, { state: outcome }, T0 + issued);
          assert.ok(finished, 'the only finisher wins');
        }
      };
      await Promise.all(Array.from({ length: 24 }, worker));
      observing = false;
      await observer;

      assert.deepEqual(violations, []);
      for (const [email, limit] of limits) {
        assert.ok(maxSeen.get(email)! <= limit && observed.get(email)! <= limit, `${email} stayed within ${limit}`);
      }
      // The test only means something if the accounts were contended.
      assert.ok(admitted > 30, `admitted ${admitted}`);
      assert.ok((refusals.get('none_free') ?? 0) + (refusals.get('account_full') ?? 0) > 30, 'reserves were refused for lack of slots');
      assert.ok(samples > 5, 'the observer sampled during the run');
      // none_free is answered only when every account is at its limit in the same snapshot.
      assert.ok((refusals.get('none_free') ?? 0) > 0, 'all accounts were full at once');

      const [{ total, active }] = await fx.sql<{ total: number; active: number }>(
        `SELECT count(*)::int AS total, count(*) FILTER (WHERE state IN ('submitting', 'running'))::int AS active FROM jobs`,
      );
      assert.equal(total, admitted, 'one row per admission, none for refusals');
      assert.equal(active, 0, 'every slot was freed');
    }, 30_000);

    pgTest('deleteAccount racing reserves leaves no slot holder on the deleted account', async (fx) => {
      const a = await fx.open({ poolSize: 4 });
      const b = await fx.open({ poolSize: 4 });
      const user = await a.createUser('t', T0);
      for (let round = 0; round < 10; round++) {
        await a.upsertAccount({ userId: user.id, email: 'gone@x.io', apiKeyEnc: 'k', maxJobs: 8, now: T0 });
        const reserves = Array.from({ length: 12 }, (_, i) =>
          (i % 2 ? a : b).reserve(reserveInput(user.id, { email: 'gone@x.io' })),
        );
        const deletion = (round % 2 ? a : b).deleteAccount(user.id, 'gone@x.io', T0 + 1);
        const [deleted, ...results] = await Promise.all([deletion, ...reserves]);
        assert.ok(deleted, 'the account existed');
        for (const r of results) assert.ok(r.ok || r.reason === 'unknown_account' || r.reason === 'account_full', `round ${round}`);
        const admittedIds = results.flatMap((r) => (r.ok ? [r.job.id] : []));
        const cancelled = new Set(deleted.cancelled.map((j) => j.id));
        for (const id of admittedIds) assert.ok(cancelled.has(id), `job ${id} admitted before the delete was cancelled by it`);
        const [{ n }] = await fx.sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM jobs WHERE email = 'gone@x.io' AND state IN ('submitting', 'running')`,
        );
        assert.equal(n, 0, `round ${round}: no live job on a deleted account`);
      }
    });

    pgTest('claimDuePolls from two instances never hands a job to both while leases live', async (fx) => {
      const a = await fx.open({ poolSize: 6 });
      const b = await fx.open({ poolSize: 6 });
      const user = await a.createUser('t', T0);
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) {
        const email = `acc${i}@x.io`;
        await a.upsertAccount({ userId: user.id, email, apiKeyEnc: 'k', maxJobs: 8, now: T0 });
        for (let j = 0; j < 8; j++) {
          const res = await a.reserve(reserveInput(user.id, { email }));
          assert.ok(res.ok);
          assert.equal(await a.markRunning(res.job.id, String(10_000 + res.job.id), T0 + j, T0), true);
          ids.push(res.job.id);
        }
      }

      const claimedBy = new Map<number, string[]>();
      const claimer = (store: PostgresStore, owner: string) => async (): Promise<void> => {
        for (;;) {
          const jobs = await store.claimDuePolls(owner, T0 + 100, 60_000, 3);
          if (jobs.length === 0) return;
          for (const job of jobs) claimedBy.set(job.id, [...(claimedBy.get(job.id) ?? []), owner]);
          await sleep(Math.floor(Math.random() * 3));
        }
      };
      // Several loops per instance: both pools run claims in parallel, over and over.
      await Promise.all([
        ...Array.from({ length: 4 }, claimer(a, 'instance-a')),
        ...Array.from({ length: 4 }, claimer(b, 'instance-b')),
      ]);
      const doubles = [...claimedBy].filter(([, owners]) => owners.length > 1);
      assert.deepEqual(doubles, [], 'no job claimed twice');
      assert.deepEqual([...claimedBy.keys()].sort((x, y) => x - y), ids, 'every due job claimed once');
      const owners = new Set([...claimedBy.values()].flat());
      assert.equal(owners.size, 2, 'both instances got work');
      const rows = await fx.sql<{ lease_owner: string; n: number }>(
        `SELECT lease_owner, count(*)::int AS n FROM jobs WHERE lease_token IS NOT NULL GROUP BY lease_owner ORDER BY lease_owner`,
      );
      assert.equal(rows.reduce((sum, r) => sum + r.n, 0), ids.length);

      // Once the leases expire, the jobs go round again — each still to exactly one claimer.
      const again = await Promise.all([a, b, a, b].map((s, i) => s.claimDuePolls(`late-${i}`, T0 + 60_100, 60_000, 100)));
      const second = again.flat().map((j) => j.id);
      assert.equal(second.length, ids.length);
      assert.equal(new Set(second).size, ids.length);
    });
  });

  describe('LISTEN/NOTIFY', () => {
    pgTest('a freed slot and a started job are announced on the schema channels', async (fx) => {
      const store = await fx.open();
      const events: { channel: string; payload: Record<string, unknown> }[] = [];
      const listener = await listenForChanges(DATABASE_URL, fx.schema, (channel, payload) => {
        events.push({ channel, payload: JSON.parse(payload) as Record<string, unknown> });
      });
      try {
        assert.equal(listener.listening, true);
        const slots = channelName(fx.schema, 'slots');
        const jobs = channelName(fx.schema, 'jobs');
        assert.equal(slots, `pixgate_${fx.schema}_slots`);
        const user = await store.createUser('t', T0);
        await store.upsertAccount({ userId: user.id, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 2, now: T0 });
        await waitFor('account event', () => events.some((e) => e.channel === slots && e.payload.event === 'account'));

        const res = await store.reserve(reserveInput(user.id));
        assert.ok(res.ok);
        await store.markRunning(res.job.id, '42', T0 + 10, T0);
        await waitFor('running event', () => events.some((e) => e.channel === jobs && e.payload.jobId === res.job.id));

        events.length = 0;
        const done = await store.finish(res.job.id, { state: 'completed' }, T0 + 20);
        assert.ok(done);
        await waitFor('slot event', () => events.some((e) => e.channel === slots && e.payload.jobId === res.job.id));
        assert.deepEqual(events[0]!.payload, { event: 'finish', jobId: res.job.id, userId: user.id, email: 'a@x.io', state: 'completed' });

        // A losing compare-and-swap changes nothing and announces nothing.
        events.length = 0;
        assert.equal(await store.finish(res.job.id, { state: 'failed' }, T0 + 30), null);
        const other = await store.reserve(reserveInput(user.id));
        assert.ok(other.ok);
        await store.expireJobs(T0 + 1, T0 + 40, 'timeout');
        await waitFor('expire event', () => events.some((e) => e.payload.event === 'expired'));
        assert.deepEqual(events.map((e) => e.payload.event), ['expired'], 'no event from the losing finish');

        // Another schema's events do not leak in.
        const otherSchema = new Fixture();
        try {
          const foreign = await otherSchema.open();
          const u2 = await foreign.createUser('x', T0);
          await foreign.upsertAccount({ userId: u2.id, email: 'b@x.io', apiKeyEnc: 'k', maxJobs: 1, now: T0 });
          await sleep(100);
          assert.ok(!events.some((e) => e.payload.email === 'b@x.io'));
        } finally {
          await otherSchema.cleanup(false);
        }
      } finally {
        await listener.close();
      }
    });

    pgTest('an unreachable server degrades to "not listening" without throwing', async () => {
      const errors: Error[] = [];
      const listener = await listenForChanges('postgres://postgres@127.0.0.1:1/none', 'x', () => {}, {
        onError: (err) => errors.push(err),
        retryMs: 50,
      });
      assert.equal(listener.listening, false);
      assert.ok(errors.length >= 1);
      await sleep(120); // a retry or two happen in the background, harmlessly
      await listener.close();
      const after = errors.length;
      await sleep(150);
      assert.equal(errors.length, after, 'no retries after close');
    });
  });
});
