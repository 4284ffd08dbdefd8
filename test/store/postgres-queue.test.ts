/**
 * PostgreSQL store, continued: dispatch batches, the queue counter and locks, and the queue and the
 * outbox shared by several instances. Same fixture as postgres.test.ts (postgresFixture.ts).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe } from 'node:test';
import pg from 'pg';
import { DEFAULT_TENANT_SETTINGS } from '../../src/store/store.ts';
import { MIGRATIONS, type PostgresStore } from '../../src/store/postgres/index.ts';
import { CANDIDATES, QUEUED_JOBS_SQL } from '../../src/store/postgres/queue.ts';
import {
  DATABASE_URL,
  T0,
  SECRET,
  admin,
  pgTest,
  reserveInput,
  enqueueInput,
  enqueueOk,
  simpleBuilder,
} from './postgresFixture.ts';

describe('PostgreSQL store: queue and outbox', () => {
  describe('dispatch batches, the queue counter and the queue locks', () => {
    /** Counts the queries (round trips) every pg client sends while `fn` runs. */
    async function countQueries<T>(fn: () => Promise<T>): Promise<{ result: T; queries: number }> {
      const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
      const original = proto.query;
      let queries = 0;
      proto.query = function (this: unknown, ...args: unknown[]) {
        queries++;
        return original.apply(this, args);
      };
      try {
        return { result: await fn(), queries };
      } finally {
        proto.query = original;
      }
    }

    pgTest(
      '100,000 queued: a batch of 16 costs the round trips of one dispatch, enqueue never counts the queue',
      async (fx, t) => {
        const store = await fx.open({ poolSize: 1 });
        const user = await store.createUser('big', T0, SECRET);
        const limits = [6, 6, 6, 6, 5, 5, 5, 5, 5, 5]; // 54 slots
        const emails = limits.map((_, i) => `acc${i}@x.io`);
        for (const [i, maxJobs] of limits.entries())
          await store.upsertAccount({ userId: user.id, email: emails[i]!, apiKeyEnc: 'k', maxJobs, now: T0 });
        const token = await store.addToken(user.id, 'b'.repeat(64), null, T0);
        await enqueueOk(store, user.id, { tokenId: token.id });
        // The rest in bulk (one INSERT: the statement-level trigger counts them in one update).
        await fx.sql(
          `INSERT INTO jobs (user_id, token_id, pinned_email, type, state, trace_id, upstream_json, request_json, priority, queue_rank,
                           created_at, queued_at)
         SELECT $1, $2, NULL, 'video', 'queued', 't', '{}', '{}', 0, $3::bigint + g - 60000 * (g % 3), $3::bigint + g, $3::bigint + g
           FROM generate_series(1, 99999) g`,
          [user.id, token.id, T0],
        );
        await fx.sql('ANALYZE');
        assert.equal(await store.countQueued(user.id), 100_000, 'the trigger-kept counter');

        // Warm the connection (statements are prepared once per connection), then count round trips.
        const held: number[] = (await store.dispatchBatch(user.id, T0, 4)).map((d) => d.job.id);
        const one = await countQueries(() => store.dispatch(user.id, T0));
        held.push(one.result!.job.id);
        const batch = await countQueries(() => store.dispatchBatch(user.id, T0, 16));
        assert.equal(batch.result.length, 16);
        held.push(...batch.result.map((d) => d.job.id));
        const enq = await countQueries(() =>
          store.enqueue(enqueueInput(user.id, { tokenId: token.id }), 200_000),
        );
        const pinnedEnq = await countQueries(() =>
          store.enqueue(enqueueInput(user.id, { email: emails[0]! }), 200_000),
        );
        assert.ok(enq.result.ok && pinnedEnq.result.ok);
        // pre-check; BEGIN + locks + loads + turns; candidates; bind; COMMIT.
        assert.equal(one.queries, 5, 'a dispatch: five round trips');
        assert.equal(batch.queries, 5, 'a batch of 16: the same five');
        assert.equal(enq.queries, 3, 'an enqueue: BEGIN + tenant lock; insert; COMMIT');
        assert.equal(pinnedEnq.queries, 5, 'a pinned enqueue: BEGIN; account; tenant lock; insert; COMMIT');

        // The candidates statement, planned as dispatch runs it (generic plan), reads a few index
        // pages, not the queue: far fewer buffers than the ~2,000 pages of 100k queued rows.
        const plan = await admin(async (c) => {
          await c.query(`SET search_path TO ${pg.escapeIdentifier(fx.schema)}`);
          await c.query('SET plan_cache_mode = force_generic_plan');
          await c.query('SET jit = off');
          await c.query(`PREPARE cand AS ${CANDIDATES.text}`);
          const args = [
            user.id,
            '{}',
            16,
            `{${token.id}}`,
            false,
            `{${emails.join(',')}}`,
            `{${emails.map(() => 't').join(',')}}`,
            `{${emails.map(() => 0).join(',')}}`,
            true,
            true,
            0,
          ];
          const res = await c.query<{ 'QUERY PLAN': unknown[] }>(
            `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE cand(${args.map((a) => (typeof a === 'string' ? `'${a}'` : String(a))).join(', ')})`,
          );
          return res.rows[0]!['QUERY PLAN'][0] as { Plan: Record<string, unknown> };
        });
        const nodes: Record<string, unknown>[] = [];
        const walk = (node: Record<string, unknown>) => {
          nodes.push(node);
          for (const child of (node['Plans'] as Record<string, unknown>[] | undefined) ?? []) walk(child);
        };
        walk(plan.Plan);
        assert.ok(
          !nodes.some((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'jobs'),
          'no sequential scan of jobs',
        );
        const buffers = Number(plan.Plan['Shared Hit Blocks']) + Number(plan.Plan['Shared Read Blocks']);
        assert.ok(buffers < 300, `candidates read ${buffers} buffers`);

        // Timings, for the record (the machine is shared; round trips above are what is asserted).
        const time = async (fn: () => Promise<unknown>) => {
          const start = performance.now();
          await fn();
          return performance.now() - start;
        };
        const singles: number[] = [];
        const batches: number[] = [];
        const enqueues: number[] = [];
        for (let i = 0; i < 40; i++) {
          await store.finish(held.shift()!, { state: 'completed' }, T0);
          singles.push(await time(async () => held.push((await store.dispatch(user.id, T0))!.job.id)));
        }
        for (let i = 0; i < 15; i++) {
          for (let k = 0; k < 16; k++) await store.finish(held.shift()!, { state: 'completed' }, T0);
          batches.push(
            await time(async () =>
              held.push(...(await store.dispatchBatch(user.id, T0, 16)).map((d) => d.job.id)),
            ),
          );
        }
        for (let i = 0; i < 40; i++)
          enqueues.push(
            await time(() => store.enqueue(enqueueInput(user.id, { tokenId: token.id }), 200_000)),
          );
        const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!.toFixed(2);
        t.diagnostic(
          `100k queued: dispatch median ${median(singles)} ms, batch of 16 median ${median(batches)} ms, enqueue median ${median(enqueues)} ms; candidates read ${buffers} buffers`,
        );
        const [{ n }] = await fx.sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM jobs WHERE user_id = $1 AND state = 'queued'`,
          [user.id],
        );
        assert.equal(await store.countQueued(user.id), n, 'the counter matches a real count');
      },
      { timeout: 120_000 },
    );

    pgTest(
      'a batch skips a queued job another transaction holds, still fills the free slots, and keeps the passes exact',
      async (fx) => {
        const store = await fx.open();
        const user = await store.createUser('t', T0, SECRET);
        await store.upsertAccount({ userId: user.id, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 3, now: T0 });
        const ta = await store.addToken(user.id, '1'.repeat(64), null, T0); // the lower key: wins ties
        const tb = await store.addToken(user.id, '2'.repeat(64), null, T0);
        const a1 = await enqueueOk(store, user.id, { tokenId: ta.id });
        const b1 = await enqueueOk(store, user.id, { tokenId: tb.id });
        const a2 = await enqueueOk(store, user.id, { tokenId: ta.id });
        const b2 = await enqueueOk(store, user.id, { tokenId: tb.id });
        const a3 = await enqueueOk(store, user.id, { tokenId: ta.id });
        // Another transaction (a cancel in flight, say) holds a1's row: the batch plans it first, its
        // bind skips it (SKIP LOCKED, no waiting), and the batch replans the free slot.
        const holder = new pg.Client({ connectionString: DATABASE_URL });
        await holder.connect();
        try {
          await holder.query(`SET search_path TO ${pg.escapeIdentifier(fx.schema)}`);
          await holder.query('BEGIN');
          await holder.query('SELECT 1 FROM jobs WHERE id = $1 FOR NO KEY UPDATE', [a1.id]);
          const got = await store.dispatchBatch(user.id, T0 + 1, 3);
          assert.deepEqual(
            got.map((d) => d.job.id).sort((x, y) => x - y),
            [b1.id, a2.id, a3.id].sort((x, y) => x - y),
          );
          await holder.query('ROLLBACK');
        } finally {
          await holder.end();
        }
        assert.equal((await store.getJob(a1.id))!.state, 'queued');
        // What three single dispatches would have left: token a served twice, b once, vtime 1.
        const passes = await fx.sql<{ token_key: number; pass: number }>(
          'SELECT token_key, pass FROM queue_passes ORDER BY token_key',
        );
        assert.deepEqual(
          passes.map((p) => [Number(p.token_key), p.pass]),
          [
            [ta.id, 2],
            [tb.id, 1],
          ],
        );
        const [{ queue_vtime }] = await fx.sql<{ queue_vtime: number }>(
          'SELECT queue_vtime FROM users WHERE id = $1',
          [user.id],
        );
        assert.equal(queue_vtime, 1);
        assert.equal(await store.countQueued(user.id), 2);
        // b (pass 1) is next, then a1, the oldest of a.
        for (const d of await store.activeJobs(user.id))
          await store.finish(d.id, { state: 'completed' }, T0 + 2);
        assert.deepEqual(
          (await store.dispatchBatch(user.id, T0 + 3, 5)).map((d) => d.job.id),
          [b2.id, a1.id],
        );
      },
    );

    pgTest(
      'a pinned enqueue does not wait for a dispatch or reserve holding the accounts, but does for deleteAccount',
      async (fx) => {
        const store = await fx.open();
        const user = await store.createUser('t', T0, SECRET);
        await store.upsertAccount({ userId: user.id, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 1, now: T0 });
        const holder = new pg.Client({ connectionString: DATABASE_URL });
        await holder.connect();
        try {
          await holder.query(`SET search_path TO ${pg.escapeIdentifier(fx.schema)}`);
          // What dispatch() and reserve() hold while they count and bind.
          await holder.query('BEGIN');
          await holder.query('SELECT 1 FROM accounts WHERE user_id = $1 FOR NO KEY UPDATE', [user.id]);
          const quick = await Promise.race([
            store.enqueue(enqueueInput(user.id, { email: 'a@x.io' }), 100),
            sleep(3000).then(() => 'blocked' as const),
          ]);
          assert.ok(
            quick !== 'blocked' && quick.ok,
            'the pinned enqueue went through while the accounts were locked',
          );
          await holder.query('ROLLBACK');

          // What deleteAccount() takes: the enqueue waits, then finds the account gone.
          await holder.query('BEGIN');
          await holder.query('SELECT 1 FROM accounts WHERE user_id = $1 AND email = $2 FOR UPDATE', [
            user.id,
            'a@x.io',
          ]);
          let settled = false;
          const waiting = store.enqueue(enqueueInput(user.id, { email: 'a@x.io' }), 100).finally(() => {
            settled = true;
          });
          await sleep(300);
          assert.equal(settled, false, 'blocked behind the deletion');
          await holder.query('DELETE FROM accounts WHERE user_id = $1 AND email = $2', [user.id, 'a@x.io']);
          await holder.query('COMMIT');
          assert.deepEqual(await waiting, { ok: false, reason: 'unknown_account' });
        } finally {
          await holder.end();
        }
      },
    );

    pgTest('a dispatch that waited for the account locks counts the slots their holder took', async (fx) => {
      const store = await fx.open();
      const user = await store.createUser('t', T0, SECRET);
      await store.upsertAccount({ userId: user.id, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 3, now: T0 });
      for (let i = 0; i < 5; i++) await enqueueOk(store, user.id);
      const holder = new pg.Client({ connectionString: DATABASE_URL });
      await holder.connect();
      try {
        await holder.query(`SET search_path TO ${pg.escapeIdentifier(fx.schema)}`);
        // A reserve() in progress on another instance: accounts locked, two slots about to be taken.
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM accounts WHERE user_id = $1 ORDER BY email FOR NO KEY UPDATE', [
          user.id,
        ]);
        const batch = store.dispatchBatch(user.id, T0 + 1, 10);
        await sleep(200);
        for (let i = 0; i < 2; i++) {
          await holder.query(
            `INSERT INTO jobs (user_id, email, type, state, trace_id, upstream_json, request_json, created_at, started_at)
             VALUES ($1, 'a@x.io', 'video', 'submitting', 'r', '{}', '{}', $2, $2)`,
            [user.id, T0],
          );
        }
        await holder.query('COMMIT');
        assert.equal((await batch).length, 1, 'one slot was left');
      } finally {
        await holder.end();
      }
      assert.equal((await store.accountLoads(user.id))[0]!.executing, 3);
      assert.equal(await store.countQueued(user.id), 4);
    });

    pgTest(
      'three instances: batches, enqueues, requeues, cancels, expiry and account deletions never overbook; the counter stays exact',
      async (fx, t) => {
        const stores = await Promise.all([1, 2, 3].map(() => fx.open({ poolSize: 5 })));
        const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)]!;
        const users = await Promise.all([0, 1].map((i) => stores[0]!.createUser(`t${i}`, T0, SECRET)));
        const limits = new Map([
          ['one@x.io', 1],
          ['two@x.io', 2],
          ['three@x.io', 3],
        ]);
        for (const u of users)
          for (const [email, maxJobs] of limits)
            await stores[0]!.upsertAccount({ userId: u.id, email, apiKeyEnc: 'k', maxJobs, now: T0 });
        const tokens = await Promise.all(
          users.map((u, i) => stores[0]!.addToken(u.id, String(i + 5).repeat(64), null, T0)),
        );
        const emails = [...limits.keys()];
        const violations: string[] = [];
        const errors: unknown[] = [];
        let observing = true;
        const observer = admin(async (c) => {
          await c.query(`SET search_path TO ${pg.escapeIdentifier(fx.schema)}`);
          while (observing) {
            const res = await c.query<{ user_id: number; email: string; n: number }>(
              `SELECT j.user_id, j.email, count(*)::int AS n FROM jobs j JOIN accounts a ON a.user_id = j.user_id AND a.email = j.email
              WHERE j.state IN ('submitting', 'running') GROUP BY j.user_id, j.email`,
            );
            for (const row of res.rows)
              if (row.n > limits.get(row.email)!)
                violations.push(`SQL saw ${row.n} on ${row.user_id}/${row.email}`);
            await sleep(5);
          }
        });
        let now = T0 + 10;
        const done = { enqueued: 0, dispatched: 0, requeued: 0, cancelled: 0, expired: 0, deleted: 0 };
        const deadline = Date.now() + 6000;
        const worker = async (): Promise<void> => {
          while (Date.now() < deadline) {
            const store = pick(stores);
            const u = pick(users);
            const ui = users.indexOf(u);
            const r = Math.random();
            try {
              if (r < 0.35) {
                const res = await store.enqueue(
                  enqueueInput(u.id, {
                    tokenId: Math.random() < 0.5 ? tokens[ui]!.id : null,
                    email: Math.random() < 0.3 ? pick(emails) : null,
                    now: now++,
                  }),
                  40,
                );
                if (res.ok) done.enqueued++;
              } else if (r < 0.6) {
                for (const d of await store.dispatchBatch(u.id, now++, 1 + Math.floor(Math.random() * 6))) {
                  done.dispatched++;
                  const later = Math.random();
                  if (later < 0.15) done.requeued += Number(await pick(stores).requeue(d.job.id, now++));
                  else if (later < 0.6) await pick(stores).finish(d.job.id, { state: 'completed' }, now++);
                  else await pick(stores).markRunning(d.job.id, String(700_000 + d.job.id), now, now);
                }
              } else if (r < 0.8) {
                const live = [...(await store.activeJobs(u.id)), ...(await store.queuedJobs(u.id, 20))];
                if (live.length > 0 && (await store.finish(pick(live).id, { state: 'cancelled' }, now++)))
                  done.cancelled++;
              } else if (r < 0.87) {
                // Jobs queued more than 0–50 ticks ago time out (the default wait, shifted).
                done.expired += (
                  await store.expireQueued(
                    now + DEFAULT_TENANT_SETTINGS.maxQueueWaitMs - Math.floor(Math.random() * 50),
                    'queued too long',
                  )
                ).length;
              } else if (r < 0.93) {
                const email = pick(emails);
                if (await store.deleteAccount(u.id, email, now++)) done.deleted++;
                await store.upsertAccount({
                  userId: u.id,
                  email,
                  apiKeyEnc: 'k',
                  maxJobs: limits.get(email)!,
                  now,
                });
              } else {
                await store.reserve(
                  reserveInput(u.id, { email: Math.random() < 0.5 ? pick(emails) : null, now: now++ }),
                );
              }
            } catch (err) {
              errors.push(err);
            }
          }
        };
        await Promise.all(Array.from({ length: 12 }, () => worker()));
        observing = false;
        await observer;
        t.diagnostic(JSON.stringify(done));
        assert.ok(
          done.dispatched > 50 &&
            done.requeued > 0 &&
            done.cancelled > 0 &&
            done.expired > 0 &&
            done.deleted > 0,
          JSON.stringify(done),
        );
        assert.deepEqual(errors, [], 'no operation failed (no deadlock survived its retries)');
        assert.deepEqual(violations, []);
        const counts = await fx.sql<{ id: number; queued_count: number; n: number }>(
          `SELECT u.id, u.queued_count, (SELECT count(*)::int FROM jobs j WHERE j.user_id = u.id AND j.state = 'queued') AS n FROM users u ORDER BY u.id`,
        );
        for (const row of counts)
          assert.equal(
            row.queued_count,
            row.n,
            `tenant ${row.id}: counter ${row.queued_count}, real ${row.n}`,
          );
        // Drain what is left: still never above a limit, and the counter follows to zero.
        for (const u of users) {
          for (;;) {
            const active = await stores[0]!.activeJobs(u.id);
            for (const j of active) await stores[1]!.finish(j.id, { state: 'completed' }, now++);
            const got = await stores[2]!.dispatchBatch(u.id, now++, 16);
            if (got.length === 0 && active.length === 0) break;
          }
          for (const load of await stores[0]!.accountLoads(u.id))
            assert.ok(load.executing <= load.account.maxJobs);
        }
        const left = await fx.sql<{ queued_count: number; n: number }>(
          `SELECT u.queued_count, (SELECT count(*)::int FROM jobs j WHERE j.user_id = u.id AND j.state = 'queued') AS n FROM users u`,
        );
        for (const row of left) assert.equal(row.queued_count, row.n);
      },
      { timeout: 60_000 },
    );

    pgTest('a connection that lost its prepared statements prepares them again', async (fx) => {
      const store = await fx.open({ poolSize: 1 });
      const user = await store.createUser('t', T0, SECRET);
      await store.upsertAccount({ userId: user.id, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 5, now: T0 });
      for (let i = 0; i < 3; i++) await enqueueOk(store, user.id);
      assert.equal((await store.dispatchBatch(user.id, T0, 1)).length, 1);
      // As a session reset would (DISCARD ALL behind a pooler): the one pooled connection forgets them.
      const pool = (store as unknown as { pool: pg.Pool }).pool;
      await pool.query('DEALLOCATE pixgate_q_lock_accounts');
      await pool.query('DEALLOCATE pixgate_q_enqueue_lock');
      assert.equal((await store.dispatchBatch(user.id, T0, 1)).length, 1);
      await enqueueOk(store, user.id);
      assert.equal(await store.countQueued(user.id), 2);
    });

    pgTest(
      'migration 3 counts the queue of a populated schema, and the counter follows every change after',
      async (fx) => {
        // A schema as version 2 left it: two tenants with queued, running and finished jobs.
        await fx.sql(`CREATE SCHEMA ${pg.escapeIdentifier(fx.schema)}`);
        await fx.sql(MIGRATIONS[0]!.sql);
        await fx.sql(MIGRATIONS[1]!.sql);
        await fx.sql(`CREATE TABLE pixgate_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
        await fx.sql(
          `INSERT INTO pixgate_migrations (version, name) VALUES (1, 'initial schema'), (2, 'queue')`,
        );
        await fx.sql(`INSERT INTO users (name, created_at) VALUES ('a', ${T0}), ('b', ${T0}), ('c', ${T0})`);
        await fx.sql(`INSERT INTO accounts (user_id, email, api_key_enc, max_jobs, created_at, updated_at)
                    VALUES (1, 'a@x.io', 'k', 2, ${T0}, ${T0}), (2, 'a@x.io', 'k', 2, ${T0}, ${T0})`);
        const job = (user: number, state: string, i: number) =>
          `(${user}, 'video', '${state}', 't', '{}', '{}', ${T0 + i}, ${state === 'queued' ? 'NULL' : T0})`;
        await fx.sql(`INSERT INTO jobs (user_id, type, state, trace_id, upstream_json, request_json, created_at, started_at) VALUES
                    ${[job(1, 'queued', 1), job(1, 'queued', 2), job(1, 'queued', 3), job(1, 'completed', 4), job(2, 'queued', 5), job(2, 'cancelled', 6)].join(', ')}`);

        const store = await fx.open();
        assert.deepEqual(await Promise.all([1, 2, 3].map((id) => store.countQueued(id))), [3, 1, 0]);
        assert.deepEqual(await store.queuedUsers(), [1, 2]);
        // And from here on the triggers keep it: dispatch, cancel, expiry, enqueue.
        assert.equal((await store.dispatchBatch(1, T0 + 10, 5)).length, 2);
        assert.equal(await store.countQueued(1), 1);
        await enqueueOk(store, 2);
        assert.equal(await store.countQueued(2), 2);
        assert.equal((await store.expireQueued(T0 + 3_600_000 + 100, 'expired')).length, 3);
        assert.deepEqual(await Promise.all([1, 2].map((id) => store.countQueued(id))), [0, 0]);
        assert.deepEqual(await store.queuedUsers(), []);
      },
      { emptySchema: true },
    );
  });

  describe('queue and outbox across instances', () => {
    pgTest(
      'two instances dispatching one tenant: no limit exceeded, no job dispatched twice',
      async (fx) => {
        const a = await fx.open({ poolSize: 5 });
        const b = await fx.open({ poolSize: 5 });
        const user = await a.createUser('tenant', T0, SECRET);
        const tokens = await Promise.all(
          [1, 2, 3].map((i) => a.addToken(user.id, String(i).repeat(64), null, T0)),
        );
        await a.setTokenWeight(user.id, tokens[2]!.id, 2);
        const limits = new Map([
          ['one@x.io', 1],
          ['two@x.io', 2],
          ['three@x.io', 3],
        ]);
        for (const [email, maxJobs] of limits)
          await a.upsertAccount({ userId: user.id, email, apiKeyEnc: 'k', maxJobs, now: T0 });
        const emails = [...limits.keys()];

        // 200 queued jobs from both instances: three tokens and none, some pinned, some with an override
        // (the override is always below the account limit, so it never lifts a limit here).
        const TOTAL = 200;
        const queued = new Set<number>();
        await Promise.all(
          Array.from({ length: TOTAL }, (_, i) =>
            enqueueOk(i % 2 ? a : b, user.id, {
              tokenId: i % 4 === 3 ? null : tokens[i % 4]!.id,
              email: i % 5 === 0 ? emails[i % 3]! : null,
              maxJobsOverride: i % 7 === 0 ? 1 : null,
              priority: (i % 3) - 1,
              now: T0 + i,
            }).then((job) => queued.add(job.id)),
          ),
        );
        assert.equal(queued.size, TOTAL);
        assert.equal(await a.countQueued(user.id), TOTAL);

        const dispatchedBy = new Map<number, string[]>();
        const holding = new Map(emails.map((e) => [e, new Set<number>()]));
        const violations: string[] = [];
        let observing = true;
        let samples = 0;
        const observer = admin(async (c) => {
          await c.query(`SET search_path TO ${pg.escapeIdentifier(fx.schema)}`);
          while (observing) {
            const res = await c.query<{ email: string; n: number }>(
              `SELECT email, count(*)::int AS n FROM jobs WHERE state IN ('submitting', 'running') GROUP BY email`,
            );
            samples++;
            for (const row of res.rows)
              if (row.n > limits.get(row.email)!) violations.push(`SQL saw ${row.n} on ${row.email}`);
            await sleep(2); // leave the CPU to the instances under test
          }
        });

        let done = 0;
        let idle = 0;
        let now = T0 + 1000;
        const worker = (store: PostgresStore, name: string) => async (): Promise<void> => {
          while (done < TOTAL) {
            const d = await store.dispatch(user.id, now++);
            if (!d) {
              if (++idle > 5_000) assert.fail('dispatch stalled with jobs queued');
              await sleep(3);
              continue;
            }
            dispatchedBy.set(d.job.id, [...(dispatchedBy.get(d.job.id) ?? []), name]);
            const email = d.job.email!;
            assert.equal(d.account.email, email);
            if (d.job.pinnedEmail !== null)
              assert.equal(email, d.job.pinnedEmail, 'a pinned job runs on its account');
            const set = holding.get(email)!;
            set.add(d.job.id);
            if (set.size > limits.get(email)!) violations.push(`${set.size} known holders on ${email}`);
            // Sometimes the submit "fails" and the job goes back to the queue (from either instance).
            if (Math.random() < 0.1) {
              set.delete(d.job.id);
              assert.equal(await (Math.random() < 0.5 ? a : b).requeue(d.job.id, now), true);
              continue;
            }
            if (Math.random() < 0.5)
              await (Math.random() < 0.5 ? a : b).markRunning(d.job.id, String(500_000 + d.job.id), now, now);
            await sleep(Math.floor(Math.random() * 3));
            set.delete(d.job.id);
            assert.ok(
              await (Math.random() < 0.5 ? a : b).finish(d.job.id, { state: 'completed' }, now),
              'one finisher',
            );
            done++;
          }
        };
        // As many workers as slots (1 + 2 + 3): every slot can be held while others dispatch.
        await Promise.all([
          ...Array.from({ length: 3 }, worker(a, 'a')),
          ...Array.from({ length: 3 }, worker(b, 'b')),
        ]);
        observing = false;
        await observer;

        assert.deepEqual(violations, []);
        assert.ok(samples > 3, 'the observer sampled during the run');
        // Requeued jobs are dispatched again, so count completions rather than dispatches.
        const rows = await fx.sql<{ state: string; n: number }>(
          `SELECT state, count(*)::int AS n FROM jobs GROUP BY state`,
        );
        assert.deepEqual(
          rows,
          [{ state: 'completed', n: TOTAL }],
          'every queued job ran to completion exactly once',
        );
        assert.deepEqual(
          [...dispatchedBy.keys()].sort((x, y) => x - y),
          [...queued].sort((x, y) => x - y),
        );
        const owners = new Set([...dispatchedBy.values()].flat());
        assert.equal(owners.size, 2, 'both instances dispatched');
        assert.equal(await a.countQueued(user.id), 0);
        assert.deepEqual(await b.queuedUsers(), []);
      },
      { timeout: 40_000 },
    );

    pgTest('concurrent claimDueDeliveries from two owners never return the same delivery', async (fx) => {
      const a = await fx.open({ poolSize: 5 });
      const b = await fx.open({ poolSize: 5 });
      a.setOutboxBuilder(simpleBuilder);
      b.setOutboxBuilder(simpleBuilder);
      const user = await a.createUser('t', T0, SECRET);
      await a.upsertAccount({ userId: user.id, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 8, now: T0 });
      // 60 jobs with two deliveries each (progress, then final): 120 deliveries, each job's in order.
      const jobIds: number[] = [];
      for (let i = 0; i < 60; i++) {
        const res = await a.reserve(reserveInput(user.id));
        assert.ok(res.ok);
        await (i % 2 ? a : b).markRunning(res.job.id, String(1000 + i), T0, T0);
        await (i % 2 ? b : a).finish(res.job.id, { state: 'completed' }, T0 + 1);
        jobIds.push(res.job.id);
      }
      const claims = new Map<number, string[]>();
      const deliveredSeq = new Map<number, number>();
      const orderViolations: string[] = [];
      const deliverer = (store: PostgresStore, owner: string) => async (): Promise<void> => {
        for (let empty = 0; empty < 30; ) {
          const batch = await store.claimDueDeliveries(owner, T0 + 10, 60_000, 3);
          if (batch.length === 0) {
            empty++;
            await sleep(2);
            continue;
          }
          empty = 0;
          for (const d of batch) {
            claims.set(d.id, [...(claims.get(d.id) ?? []), owner]);
            const last = deliveredSeq.get(d.jobId) ?? 0;
            if (d.seq !== last + 1)
              orderViolations.push(`job ${d.jobId}: seq ${d.seq} claimed after ${last}`);
          }
          await sleep(Math.floor(Math.random() * 3));
          for (const d of batch) {
            deliveredSeq.set(d.jobId, d.seq);
            assert.equal(
              await store.recordAttempt(d.id, d.leaseToken!, { delivered: true, status: 204 }, T0 + 11),
              true,
            );
          }
        }
      };
      await Promise.all([
        ...Array.from({ length: 3 }, deliverer(a, 'owner-a')),
        ...Array.from({ length: 3 }, deliverer(b, 'owner-b')),
      ]);
      const doubles = [...claims].filter(([, owners]) => owners.length > 1);
      assert.deepEqual(doubles, [], 'no delivery claimed twice');
      assert.deepEqual(orderViolations, [], "a job's deliveries go out in seq order");
      assert.equal(claims.size, 120);
      assert.equal(new Set([...claims.values()].flat()).size, 2, 'both owners got work');
      const rows = await fx.sql<{ state: string; n: number }>(
        `SELECT state, count(*)::int AS n FROM deliveries GROUP BY state`,
      );
      assert.deepEqual(rows, [{ state: 'delivered', n: 120 }]);
      assert.equal(await a.nextDeliveryDue(), null);
    });

    pgTest('enqueues racing a deleteAccount never leave a job queued for the deleted account', async (fx) => {
      const a = await fx.open({ poolSize: 4 });
      const b = await fx.open({ poolSize: 4 });
      const user = await a.createUser('t', T0, SECRET);
      await a.upsertAccount({ userId: user.id, email: 'stay@x.io', apiKeyEnc: 'k', maxJobs: 1, now: T0 });
      for (let round = 0; round < 8; round++) {
        await a.upsertAccount({ userId: user.id, email: 'gone@x.io', apiKeyEnc: 'k', maxJobs: 1, now: T0 });
        const enqueues = Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? a : b).enqueue(enqueueInput(user.id, { email: 'gone@x.io' }), 100_000),
        );
        const [deleted, ...results] = await Promise.all([
          (round % 2 ? a : b).deleteAccount(user.id, 'gone@x.io', T0 + 1),
          ...enqueues,
        ]);
        assert.ok(deleted);
        const cancelled = new Set(deleted.cancelled.map((j) => j.id));
        for (const r of results) {
          if (r.ok)
            assert.ok(
              cancelled.has(r.job.id),
              `round ${round}: job queued before the delete was cancelled by it`,
            );
          else assert.equal(r.reason, 'unknown_account');
        }
        const [{ n }] = await fx.sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM jobs WHERE state = 'queued'`,
        );
        assert.equal(n, 0, `round ${round}: nothing left queued for a deleted account`);
      }
    });

    pgTest(
      'migration 4 upgrades a populated schema: the waiting queue keeps its order, reads seek the new indexes',
      async (fx) => {
        // A schema as version 3 left it: a tenant with a running job, a finished one and a mixed queue.
        await fx.sql(`CREATE SCHEMA ${pg.escapeIdentifier(fx.schema)}`);
        for (const m of MIGRATIONS.slice(0, 3)) await fx.sql(m.sql);
        await fx.sql(`CREATE TABLE pixgate_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
        await fx.sql(
          `INSERT INTO pixgate_migrations (version, name) VALUES (1, 'initial schema'), (2, 'queue'), (3, 'counter')`,
        );
        await fx.sql(`INSERT INTO users (name, created_at) VALUES ('old', ${T0})`);
        await fx.sql(
          `INSERT INTO accounts (user_id, email, api_key_enc, max_jobs, created_at, updated_at) VALUES (1, 'a@x.io', 'k', 1, ${T0}, ${T0})`,
        );
        // id 1: running (came through the queue), id 2: completed; ids 3..7 queued, ages and priorities mixed.
        await fx.sql(`INSERT INTO jobs (user_id, email, type, state, upstream_id, trace_id, upstream_json, request_json, priority,
                                      created_at, queued_at, started_at, next_poll_at)
                    VALUES (1, 'a@x.io', 'video', 'running', '384751234567890123456', 't', '{"op":"x","params":{}}', '{}', 0, ${T0}, ${T0}, ${T0 + 1}, ${T0 + 100}),
                           (1, 'a@x.io', 'video', 'completed', '11', 't', '{}', '{}', 0, ${T0}, NULL, ${T0}, NULL)`);
        const queued: [number, number][] = [
          [0, 10],
          [1, 20],
          [0, 30],
          [-1, 40],
          [1, 50],
        ]; // [priority, created_at offset]
        for (const [priority, at] of queued) {
          await fx.sql(
            `INSERT INTO jobs (user_id, type, state, trace_id, upstream_json, request_json, priority, created_at, queued_at)
                      VALUES (1, 'video', 'queued', 't', '{"op":"x","params":{}}', '{}', $1, $2, $2)`,
            [priority, T0 + at],
          );
        }

        const store = await fx.open();
        const versions = await fx.sql<{ version: number }>(
          'SELECT version FROM pixgate_migrations ORDER BY version',
        );
        assert.deepEqual(
          versions.map((r) => r.version),
          MIGRATIONS.map((m) => m.version),
        );
        const ranks = await fx.sql<{ queue_rank: number | null }>('SELECT queue_rank FROM jobs ORDER BY id');
        assert.deepEqual(
          ranks.map((r) => r.queue_rank),
          [null, null, T0 + 10, T0 + 20, T0 + 30, T0 + 40, T0 + 50],
        );
        assert.equal(await store.countQueued(1), 5, 'the backfill left the counter alone');
        assert.deepEqual(
          (await store.queuedJobs(1, 10)).map((j) => j.id),
          [4, 7, 3, 5, 6],
          'priority, then age, as before',
        );

        // Old rows read back whole; the new columns have their defaults; a half webhook is refused.
        const running = (await store.getJob(1))!;
        assert.deepEqual(
          [running.state, running.upstreamId, running.queueRank, running.nextPollAt],
          ['running', '384751234567890123456', null, T0 + 100],
        );
        const account = (await store.getAccount(1, 'a@x.io'))!;
        assert.deepEqual([account.webhookId, account.webhookSecretEnc], [null, null]);
        await assert.rejects(
          fx.sql(`UPDATE accounts SET webhook_id = 'wh' WHERE user_id = 1`),
          /accounts_webhook_pair/,
        );
        assert.deepEqual(
          (await store.jobsByUpstreamId('384751234567890123456')).map((j) => j.id),
          [1],
        );
        assert.equal(await store.expeditePoll(1, T0 + 50), true);
        assert.equal((await store.getJob(1))!.nextPollAt, T0 + 50);

        // The new reads can seek their partial indexes (with seq scans priced out: the table is tiny), in
        // index order — no Sort under the LIMIT of queuedJobs.
        const explain = (sql: string, values: unknown[], sortsOff = false) =>
          admin(async (c) => {
            await c.query(`SET search_path TO ${pg.escapeIdentifier(fx.schema)}`);
            await c.query('SET enable_seqscan = off');
            await c.query('SET enable_bitmapscan = off');
            // On a few rows an ordered index scan and another index plus a Sort cost within the
            // planner's fuzz factor, so the choice flips with row width (it did when jobs gained a
            // column); pricing sorts out asks only whether the ordered index can serve the ORDER BY.
            if (sortsOff) await c.query('SET enable_sort = off');
            const res = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, values);
            return res.rows.map((r) => r['QUERY PLAN']).join('\n');
          });
        const byRank = await explain(QUEUED_JOBS_SQL, [1, 1000], true);
        assert.match(byRank, /Index Scan using jobs_queue_order on jobs/);
        assert.doesNotMatch(byRank, /Sort/);
        assert.match(
          await explain('SELECT * FROM jobs WHERE upstream_id = $1 ORDER BY id DESC', ['42']),
          /Index Scan using jobs_upstream on jobs/,
        );

        // A job queued after the upgrade, expecting 25 ms of work at T0 + 35 (rank T0 + 10), waits behind
        // the older normal-priority job of equal rank (lower id) and ahead of the younger ones.
        const q = await enqueueOk(store, 1, { now: T0 + 35, queueRank: T0 + 10 });
        await store.finish(1, { state: 'completed' }, T0 + 60); // the one slot frees
        const order: number[] = [];
        for (let i = 0; i < 6; i++) {
          const d = (await store.dispatch(1, T0 + 61))!;
          order.push(d.job.id);
          await store.finish(d.job.id, { state: 'completed' }, T0 + 62);
        }
        assert.deepEqual(order, [4, 7, 3, q.id, 5, 6]);
      },
      { emptySchema: true },
    );

    pgTest(
      'migration 2 upgrades a populated schema: old users get an empty secret, old jobs stay bound',
      async (fx) => {
        // A schema as version 1 left it, with a tenant, a token and a running job.
        await fx.sql(`CREATE SCHEMA ${pg.escapeIdentifier(fx.schema)}`);
        await fx.sql(MIGRATIONS[0]!.sql);
        await fx.sql(`CREATE TABLE pixgate_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
        await fx.sql(`INSERT INTO pixgate_migrations (version, name) VALUES (1, 'initial schema')`);
        await fx.sql(`INSERT INTO users (name, created_at) VALUES ('old', ${T0})`);
        await fx.sql(`INSERT INTO tokens (user_id, hash, created_at) VALUES (1, '${'f'.repeat(64)}', ${T0})`);
        await fx.sql(
          `INSERT INTO accounts (user_id, email, api_key_enc, max_jobs, created_at, updated_at) VALUES (1, 'a@x.io', 'k', 2, ${T0}, ${T0})`,
        );
        await fx.sql(`INSERT INTO jobs (user_id, token_id, email, type, state, trace_id, upstream_json, request_json, created_at, started_at)
                    VALUES (1, 1, 'a@x.io', 'video', 'running', 't', '{}', '{}', ${T0}, ${T0})`);

        const store = await fx.open();
        const user = (await store.getUser(1))!;
        assert.equal(user.webhookSecret, '');
        assert.equal(user.webhookSecretPrev, null);
        assert.equal(user.queueByDefault, false);
        assert.equal(user.maxQueueLength, 100_000);
        assert.equal(user.maxQueueWaitMs, 3_600_000);
        assert.equal((await store.listTokens(1))[0]!.weight, 1);
        const job = (await store.getJob(1))!;
        assert.deepEqual(
          [job.email, job.pinnedEmail, job.priority, job.maxJobsOverride, job.queuedAt, job.startedAt],
          ['a@x.io', null, 0, null, null, T0],
        );
        // Rotating the empty secret keeps no previous secret; the next rotation does.
        const rotated = (await store.rotateWebhookSecret(1, 'whsec_new', T0 + 10))!;
        assert.deepEqual(
          [rotated.webhookSecret, rotated.webhookSecretPrev, rotated.webhookSecretPrevUntil],
          ['whsec_new', null, null],
        );
        const again = (await store.rotateWebhookSecret(1, 'whsec_newer', T0 + 20))!;
        assert.deepEqual(
          [again.webhookSecret, again.webhookSecretPrev, again.webhookSecretPrevUntil],
          ['whsec_newer', 'whsec_new', T0 + 20],
        );
        // The old slot holder still counts against the account.
        const loads = await store.accountLoads(1);
        assert.equal(loads[0]!.executing, 1);
      },
      { emptySchema: true },
    );
  });
});
