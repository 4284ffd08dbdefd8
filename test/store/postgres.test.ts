/**
 * PostgreSQL store: the shared conformance suite, plus what only a networked store must prove —
 * several instances (separate pools, like separate gateway processes) sharing one database.
 *
 * Needs a real PostgreSQL (PIXGATE_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
 * If it is unreachable these tests FAIL; they never skip. Each test runs in its own fresh schema,
 * dropped afterwards unless the test failed (then it is kept and its name printed for inspection).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import pg from 'pg';
import type { Job } from '../../src/domain/job.ts';
import {
  channelName,
  listenForChanges,
  MIGRATIONS,
  type PostgresStore,
} from '../../src/store/postgres/index.ts';
import { runStoreConformance } from './conformance.ts';
import { runSnapshotConformance } from './snapshotConformance.ts';
import {
  DATABASE_URL,
  T0,
  SECRET,
  admin,
  Fixture,
  pgTest,
  reserveInput,
  enqueueOk,
  simpleBuilder,
  waitFor,
} from './postgresFixture.ts';

describe('PostgreSQL store', () => {
  it('PostgreSQL is reachable (these tests fail, never skip, without it)', async () => {
    const rows = await admin(async (c) => (await c.query<{ one: number }>('SELECT 1 AS one')).rows);
    assert.deepEqual(rows, [{ one: 1 }]);
  });

  runStoreConformance('postgres', async () => {
    const fx = await Fixture.warmed();
    const store = await fx.open();
    return { store, cleanup: (failed) => fx.cleanup(failed) };
  });
  runSnapshotConformance('postgres', async () => {
    const fx = await Fixture.warmed();
    const store = await fx.open();
    return { store, cleanup: (failed) => fx.cleanup(failed) };
  });

  describe('several instances on one database', () => {
    pgTest(
      'concurrent migrate() on an empty schema: every instance comes up',
      async (fx) => {
        // Three "processes" starting at the same moment on a schema that does not exist yet.
        const stores = await Promise.all([1, 2, 3].map(() => fx.open({ migrate: false, poolSize: 2 })));
        await Promise.all(stores.map((s) => s.migrate()));
        const versions = await fx.sql<{ version: number }>(
          'SELECT version FROM pixgate_migrations ORDER BY version',
        );
        assert.deepEqual(
          versions.map((r) => r.version),
          MIGRATIONS.map((m) => m.version),
        );
        // Migrating again is a no-op, and every instance can use the schema.
        await Promise.all(stores.map((s) => s.migrate()));
        const users = await Promise.all(stores.map((s, i) => s.createUser(`u${i}`, T0, SECRET)));
        assert.equal(new Set(users.map((u) => u.id)).size, 3);
        const tables = await fx.sql<{ table_name: string }>(
          `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
          [fx.schema],
        );
        assert.deepEqual(
          tables.map((t) => t.table_name),
          [
            'accounts',
            'deliveries',
            'idempotency_keys',
            'instances',
            'jobs',
            'pixgate_migrations',
            'queue_passes',
            'tokens',
            'users',
            'webhook_receipts',
          ],
        );
      },
      { emptySchema: true },
    );

    pgTest(
      'two instances hammering reserve/finish never exceed a limit',
      async (fx) => {
        const a = await fx.open({ poolSize: 6 });
        const b = await fx.open({ poolSize: 6 });
        const user = await a.createUser('tenant', T0, SECRET);
        const limits = new Map([
          ['one@x.io', 1],
          ['two@x.io', 2],
          ['four@x.io', 4],
        ]);
        for (const [email, maxJobs] of limits)
          await a.upsertAccount({ userId: user.id, email, apiKeyEnc: 'k', maxJobs, now: T0 });
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
              assert.ok(
                res.reason === (pinned ? 'account_full' : 'none_free'),
                `unexpected refusal ${res.reason}`,
              );
              continue;
            }
            admitted++;
            const email = res.job.email!;
            const set = holding.get(email)!;
            set.add(res.job.id);
            maxSeen.set(email, Math.max(maxSeen.get(email)!, set.size));
            if (set.size > limits.get(email)!) violations.push(`${set.size} known holders on ${email}`);
            // Hold the slot a little, sometimes going through running, then free it from either instance.
            if (Math.random() < 0.5)
              await (Math.random() < 0.5 ? a : b).markRunning(
                res.job.id,
                String(900_000 + res.job.id),
                T0,
                T0,
              );
            await sleep(rnd(4));
            set.delete(res.job.id);
            const outcome = Math.random() < 0.8 ? 'completed' : 'failed';
            const finished = await (Math.random() < 0.5 ? a : b).finish(
              res.job.id,
              { state: outcome },
              T0 + issued,
            );
            assert.ok(finished, 'the only finisher wins');
          }
        };
        await Promise.all(Array.from({ length: 24 }, worker));
        observing = false;
        await observer;

        assert.deepEqual(violations, []);
        for (const [email, limit] of limits) {
          assert.ok(
            maxSeen.get(email)! <= limit && observed.get(email)! <= limit,
            `${email} stayed within ${limit}`,
          );
        }
        // The test only means something if the accounts were contended.
        assert.ok(admitted > 30, `admitted ${admitted}`);
        assert.ok(
          (refusals.get('none_free') ?? 0) + (refusals.get('account_full') ?? 0) > 30,
          'reserves were refused for lack of slots',
        );
        assert.ok(samples > 5, 'the observer sampled during the run');
        // none_free is answered only when every account is at its limit in the same snapshot.
        assert.ok((refusals.get('none_free') ?? 0) > 0, 'all accounts were full at once');

        const [{ total, active }] = await fx.sql<{ total: number; active: number }>(
          `SELECT count(*)::int AS total, count(*) FILTER (WHERE state IN ('submitting', 'running'))::int AS active FROM jobs`,
        );
        assert.equal(total, admitted, 'one row per admission, none for refusals');
        assert.equal(active, 0, 'every slot was freed');
      },
      { timeout: 30_000 },
    );

    pgTest('deleteAccount racing reserves leaves no slot holder on the deleted account', async (fx) => {
      const a = await fx.open({ poolSize: 4 });
      const b = await fx.open({ poolSize: 4 });
      const user = await a.createUser('t', T0, SECRET);
      for (let round = 0; round < 10; round++) {
        await a.upsertAccount({ userId: user.id, email: 'gone@x.io', apiKeyEnc: 'k', maxJobs: 8, now: T0 });
        const reserves = Array.from({ length: 12 }, (_, i) =>
          (i % 2 ? a : b).reserve(reserveInput(user.id, { email: 'gone@x.io' })),
        );
        const deletion = (round % 2 ? a : b).deleteAccount(user.id, 'gone@x.io', T0 + 1);
        const [deleted, ...results] = await Promise.all([deletion, ...reserves]);
        assert.ok(deleted, 'the account existed');
        for (const r of results)
          assert.ok(r.ok || r.reason === 'unknown_account' || r.reason === 'account_full', `round ${round}`);
        const admittedIds = results.flatMap((r) => (r.ok ? [r.job.id] : []));
        const cancelled = new Set(deleted.cancelled.map((j) => j.id));
        for (const id of admittedIds)
          assert.ok(cancelled.has(id), `job ${id} admitted before the delete was cancelled by it`);
        const [{ n }] = await fx.sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM jobs WHERE email = 'gone@x.io' AND state IN ('submitting', 'running')`,
        );
        assert.equal(n, 0, `round ${round}: no live job on a deleted account`);
      }
    });

    pgTest('claimDuePolls from two instances never hands a job to both while leases live', async (fx) => {
      const a = await fx.open({ poolSize: 6 });
      const b = await fx.open({ poolSize: 6 });
      const user = await a.createUser('t', T0, SECRET);
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) {
        const email = `acc${i}@x.io`;
        await a.upsertAccount({ userId: user.id, email, apiKeyEnc: 'k', maxJobs: 8, now: T0 });
        for (let j = 0; j < 8; j++) {
          const res = await a.reserve(reserveInput(user.id, { email }));
          assert.ok(res.ok);
          assert.ok(await a.markRunning(res.job.id, String(10_000 + res.job.id), T0 + j, T0));
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
      assert.deepEqual(
        [...claimedBy.keys()].sort((x, y) => x - y),
        ids,
        'every due job claimed once',
      );
      const owners = new Set([...claimedBy.values()].flat());
      assert.equal(owners.size, 2, 'both instances got work');
      const rows = await fx.sql<{ lease_owner: string; n: number }>(
        `SELECT lease_owner, count(*)::int AS n FROM jobs WHERE lease_token IS NOT NULL GROUP BY lease_owner ORDER BY lease_owner`,
      );
      assert.equal(
        rows.reduce((sum, r) => sum + r.n, 0),
        ids.length,
      );

      // Once the leases expire, the jobs go round again — each still to exactly one claimer.
      const again = await Promise.all(
        [a, b, a, b].map((s, i) => s.claimDuePolls(`late-${i}`, T0 + 60_100, 60_000, 100)),
      );
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
        const user = await store.createUser('t', T0, SECRET);
        await store.upsertAccount({ userId: user.id, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 2, now: T0 });
        await waitFor('account event', () =>
          events.some((e) => e.channel === slots && e.payload.event === 'account'),
        );

        const res = await store.reserve(reserveInput(user.id));
        assert.ok(res.ok);
        await store.markRunning(res.job.id, '42', T0 + 10, T0);
        await waitFor('running event', () =>
          events.some((e) => e.channel === jobs && e.payload.jobId === res.job.id),
        );

        events.length = 0;
        const done = await store.finish(res.job.id, { state: 'completed' }, T0 + 20);
        assert.ok(done);
        await waitFor('slot event', () =>
          events.some((e) => e.channel === slots && e.payload.jobId === res.job.id),
        );
        assert.deepEqual(events[0]!.payload, {
          event: 'finish',
          jobId: res.job.id,
          userId: user.id,
          email: 'a@x.io',
          state: 'completed',
        });

        // A losing compare-and-swap changes nothing and announces nothing.
        events.length = 0;
        assert.equal(await store.finish(res.job.id, { state: 'failed' }, T0 + 30), null);
        const other = await store.reserve(reserveInput(user.id));
        assert.ok(other.ok);
        await store.expireJobs(T0 + 1, T0 + 40, 'timeout');
        await waitFor('expire event', () => events.some((e) => e.payload.event === 'expired'));
        assert.deepEqual(
          events.map((e) => e.payload.event),
          ['expired'],
          'no event from the losing finish',
        );

        // Another schema's events do not leak in.
        const otherSchema = new Fixture();
        try {
          const foreign = await otherSchema.open();
          const u2 = await foreign.createUser('x', T0, SECRET);
          await foreign.upsertAccount({
            userId: u2.id,
            email: 'b@x.io',
            apiKeyEnc: 'k',
            maxJobs: 1,
            now: T0,
          });
          await sleep(100);
          assert.ok(!events.some((e) => e.payload.email === 'b@x.io'));
        } finally {
          await otherSchema.cleanup(false);
        }
      } finally {
        await listener.close();
      }
    });

    pgTest(
      'an expedited poll is announced on the jobs channel, once it commits; a refused one is not',
      async (fx) => {
        const store = await fx.open();
        const events: { channel: string; payload: Record<string, unknown> }[] = [];
        const listener = await listenForChanges(
          DATABASE_URL,
          fx.schema,
          (channel, payload) => {
            events.push({ channel, payload: JSON.parse(payload) as Record<string, unknown> });
          },
          { kinds: ['jobs'] },
        );
        try {
          const user = await store.createUser('t', T0, SECRET);
          await store.upsertAccount({
            userId: user.id,
            email: 'a@x.io',
            apiKeyEnc: 'k',
            maxJobs: 2,
            now: T0,
          });
          const res = await store.reserve(reserveInput(user.id));
          assert.ok(res.ok);
          assert.equal(await store.expeditePoll(res.job.id, T0 + 1), false, 'submitting: not running yet');
          await store.markRunning(res.job.id, '42', T0 + 60_000, T0);
          await waitFor('running event', () => events.some((e) => e.payload.event === 'running'));
          assert.equal(await store.expeditePoll(res.job.id, T0 + 5), true);
          await waitFor('expedite event', () => events.some((e) => e.payload.event === 'expedite'));
          const expedite = events.filter((e) => e.payload.event === 'expedite');
          assert.deepEqual(
            expedite.map((e) => [e.channel, e.payload]),
            [
              [
                store.channels.jobs,
                { event: 'expedite', jobId: res.job.id, userId: user.id, nextPollAt: T0 + 5 },
              ],
            ],
          );
          await store.finish(res.job.id, { state: 'completed' }, T0 + 6);
          assert.equal(await store.expeditePoll(res.job.id, T0 + 7), false);
          await sleep(100);
          assert.equal(
            events.filter((e) => e.payload.event === 'expedite').length,
            1,
            'nothing for the refused ones',
          );
        } finally {
          await listener.close();
        }
      },
    );

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

    pgTest(
      'queue and outbox changes are announced: enqueue, requeue, delivery insert, redeliver',
      async (fx) => {
        const store = await fx.open();
        const events: { channel: string; payload: Record<string, unknown> }[] = [];
        const listener = await listenForChanges(DATABASE_URL, fx.schema, (channel, payload) => {
          events.push({ channel, payload: JSON.parse(payload) as Record<string, unknown> });
        });
        try {
          const queue = channelName(fx.schema, 'queue');
          const deliveries = channelName(fx.schema, 'deliveries');
          assert.equal(queue, `pixgate_${fx.schema}_queue`);
          assert.equal(deliveries, `pixgate_${fx.schema}_deliveries`);
          assert.equal(store.channels.queue, queue);
          assert.equal(store.channels.deliveries, deliveries);
          const on = (channel: string, event: string) =>
            events.filter((e) => e.channel === channel && e.payload.event === event);

          const user = await store.createUser('t', T0, SECRET);
          await store.upsertAccount({
            userId: user.id,
            email: 'a@x.io',
            apiKeyEnc: 'k',
            maxJobs: 1,
            now: T0,
          });
          const queued = await enqueueOk(store, user.id);
          await waitFor('enqueue event', () => on(queue, 'enqueue').length === 1);
          assert.deepEqual(on(queue, 'enqueue')[0]!.payload, {
            event: 'enqueue',
            userId: user.id,
            jobId: queued.id,
          });

          // No builder: transitions write no delivery and announce none.
          const d = await store.dispatch(user.id, T0 + 1);
          assert.equal(d!.job.id, queued.id);
          assert.equal(await store.requeue(queued.id, T0 + 2), true);
          await waitFor('requeue event', () => on(queue, 'requeue').length === 1);
          await waitFor(
            'requeue frees the slot',
            () => on(channelName(fx.schema, 'slots'), 'requeue').length === 1,
          );
          assert.equal(await store.requeue(queued.id, T0 + 3), false, 'a lost requeue CAS');

          // With a builder, the delivery insert is announced, once per transaction, at commit.
          store.setOutboxBuilder(simpleBuilder);
          await store.dispatch(user.id, T0 + 4);
          assert.ok(await store.markRunning(queued.id, '77', T0 + 10, T0 + 5));
          await waitFor('delivery event', () => on(deliveries, 'delivery').length === 1);
          const pending = await store.listDeliveries(user.id, { limit: 10 });
          assert.deepEqual(
            pending.map((x) => [x.jobId, x.event, x.state]),
            [[queued.id, 'progress', 'pending']],
          );
          await store.finish(queued.id, { state: 'completed' }, T0 + 6);
          await waitFor('second delivery event', () => on(deliveries, 'delivery').length === 2);

          // Settling the first delivery unblocks the second: deliverers are woken for it.
          const [first] = await store.claimDueDeliveries('w', T0 + 7, 60_000, 10);
          assert.equal(first!.seq, 1);
          assert.equal(
            await store.recordAttempt(
              first!.id,
              first!.leaseToken!,
              { delivered: true, status: 200 },
              T0 + 8,
            ),
            true,
          );
          await waitFor('unblocked event', () => on(deliveries, 'unblocked').length === 1);
          const [second] = await store.claimDueDeliveries('w', T0 + 9, 60_000, 10);
          assert.equal(second!.seq, 2);
          await store.recordAttempt(
            second!.id,
            second!.leaseToken!,
            { delivered: false, status: 500, error: 'boom', nextAttemptAt: null },
            T0 + 10,
          );
          assert.equal((await store.getDelivery(user.id, second!.id))!.state, 'dead');
          assert.equal(await store.redeliver(user.id, {}, T0 + 11), 1);
          await waitFor('redeliver event', () => on(deliveries, 'redeliver').length === 1);
          assert.equal(
            on(deliveries, 'unblocked').length,
            1,
            'a dead letter with nothing behind it unblocks nothing',
          );
        } finally {
          await listener.close();
        }
      },
    );

    pgTest('a throwing builder rolls back the whole batch and announces nothing', async (fx) => {
      const store = await fx.open({ poolSize: 2 });
      const events: string[] = [];
      const listener = await listenForChanges(DATABASE_URL, fx.schema, (channel, payload) => {
        events.push(`${channel}:${(JSON.parse(payload) as { event: string }).event}`);
      });
      try {
        const user = await store.createUser('t', T0, SECRET);
        await store.upsertAccount({ userId: user.id, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 8, now: T0 });
        const jobs: Job[] = [];
        for (let i = 0; i < 5; i++) {
          const res = await store.reserve(reserveInput(user.id, { now: T0 + i }));
          assert.ok(res.ok);
          jobs.push(res.job);
        }
        await waitFor('setup events', () => events.length >= 1);
        await sleep(50);
        events.length = 0;
        // The builder fails on the fourth job of the sweep: the three before it must not stay timed out.
        const victim = jobs[3]!.id;
        const seen: number[] = [];
        store.setOutboxBuilder((job, event) => {
          seen.push(job.id);
          if (job.id === victim) throw new Error('cannot build');
          return simpleBuilder(job, event);
        });
        // More failures than pooled connections: a failed transition must hand its connection back clean.
        for (let i = 0; i < 4; i++)
          await assert.rejects(store.expireJobs(T0 + 100, T0 + 200, 'slow'), /cannot build/);
        assert.ok(seen.length >= 4 * 4 && seen.includes(jobs[0]!.id), 'the builder ran inside the sweep');
        const rows = await fx.sql<{ state: string; n: number }>(
          `SELECT state, count(*)::int AS n FROM jobs GROUP BY state`,
        );
        assert.deepEqual(rows, [{ state: 'submitting', n: 5 }], 'no job changed');
        assert.deepEqual(await fx.sql('SELECT * FROM deliveries'), [], 'no delivery written');
        await sleep(100);
        assert.deepEqual([...events], [], 'a rolled-back transition sends no NOTIFY');

        // The store is healthy afterwards, and the same sweep goes through with a working builder.
        store.setOutboxBuilder(simpleBuilder);
        const expired = await store.expireJobs(T0 + 100, T0 + 200, 'slow');
        assert.deepEqual(
          expired.map((j) => j.id),
          jobs.map((j) => j.id),
        );
        const written = await fx.sql<{ job_id: number; seq: number }>(
          'SELECT job_id, seq FROM deliveries ORDER BY job_id',
        );
        assert.deepEqual(
          written.map((r) => [Number(r.job_id), r.seq]),
          jobs.map((j) => [j.id, 1]),
        );
        await waitFor(
          'events after commit',
          () =>
            events.includes(`${store.channels.deliveries}:delivery`) &&
            events.includes(`${store.channels.slots}:expired`),
        );
      } finally {
        await listener.close();
      }
    });
  });
});
