/** Store conformance: Queue rank and dispatch batches (a batch makes the choices of single dispatches). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dispatchOrder } from '../../../src/domain/policy/queueOrder.ts';
import { describe } from 'node:test';
import type { Job } from '../../../src/domain/job.ts';
import {
  roleTests,
  T0,
  userWithAccounts,
  reserveOk,
  loadsByEmail,
  enqueueInput,
  enqueueOk,
  enqueueMany,
  dispatchAll,
  seeded,
  type BatchScenario,
  compareBatchWithSingles,
  type StoreHandle,
} from './harness.ts';

export function runQueueOrderConformance(makeStore: () => Promise<StoreHandle>): void {
  const { test, pairTest } = roleTests(makeStore);
  describe('queue rank (least laxity first)', () => {
    test('within a priority the lowest rank goes first, ties by id; priority beats any rank', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 20 });
      // Queued in this order (ids increase); rank = queueing time − expected run time.
      const short = await enqueueOk(store, u.id, { now: T0, queueRank: T0 - 10_000 });
      const long = await enqueueOk(store, u.id, { now: T0 + 1, queueRank: T0 + 1 - 120_000 }); // later but longer: first
      const tieA = await enqueueOk(store, u.id, { now: T0 + 2, queueRank: T0 - 30_000 });
      const tieB = await enqueueOk(store, u.id, { now: T0 + 3, queueRank: T0 - 30_000 });
      const fracA = await enqueueOk(store, u.id, { now: T0 + 4, queueRank: T0 - 30_000 + 0.5 });
      const fracB = await enqueueOk(store, u.id, { now: T0 + 5, queueRank: T0 - 30_000 + 0.25 });
      const late = await enqueueOk(store, u.id, { now: T0 + 200_000, queueRank: T0 + 200_000 - 120_000 }); // long, but much later
      const high = await enqueueOk(store, u.id, { priority: 1, now: T0 + 6, queueRank: T0 + 10 ** 9 });
      const low = await enqueueOk(store, u.id, { priority: -1, now: T0 + 7, queueRank: T0 - 10 ** 9 });
      const expected = [high, long, tieA, tieB, fracB, fracA, short, late, low].map((j) => j.id);
      assert.deepEqual(
        (await store.queuedJobs(u.id, 100)).map((j) => j.id),
        expected,
      );
      assert.deepEqual(
        (await dispatchAll(store, u.id)).map((d) => d.job.id),
        expected,
      );
    });

    test('the rank decides between the heads of different lines (pinned, unpinned, per-job override)', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 10, 'b@x.io': 10 });
      const t = await store.addToken(u.id, 'd'.repeat(64), null, T0);
      const jobs = [
        await enqueueOk(store, u.id, { tokenId: t.id, queueRank: T0 + 50 }),
        await enqueueOk(store, u.id, { tokenId: t.id, email: 'a@x.io', queueRank: T0 + 40 }),
        await enqueueOk(store, u.id, { tokenId: t.id, maxJobsOverride: 5, queueRank: T0 + 30 }),
        await enqueueOk(store, u.id, {
          tokenId: t.id,
          email: 'b@x.io',
          maxJobsOverride: 6,
          queueRank: T0 + 20,
        }),
        await enqueueOk(store, u.id, { tokenId: t.id, email: 'a@x.io', queueRank: T0 + 10 }),
        await enqueueOk(store, u.id, { tokenId: t.id, queueRank: T0 + 45 }),
      ];
      const byRank = [...jobs].sort((x, y) => x.queueRank! - y.queueRank!).map((j) => j.id);
      assert.deepEqual(
        (await dispatchAll(store, u.id)).map((d) => d.job.id),
        byRank,
      );
    });

    test('a batch takes the same jobs in the same order as single dispatches', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 4 });
      const jobs: Job[] = [];
      for (let i = 0; i < 8; i++)
        jobs.push(await enqueueOk(store, u.id, { now: T0 + i, queueRank: T0 + i - ((i * 5) % 4) * 1000 }));
      const got = await store.dispatchBatch(u.id, T0 + 10, 4);
      const byRank = [...jobs].sort((x, y) => x.queueRank! - y.queueRank! || x.id - y.id).map((j) => j.id);
      assert.deepEqual(
        got.map((d) => d.job.id),
        byRank.slice(0, 4),
      );
    });

    test('requeue keeps the rank; a directly reserved job requeued gets its creation time', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 3 });
      const first = await enqueueOk(store, u.id, { now: T0, queueRank: T0 - 100 });
      const second = await enqueueOk(store, u.id, { now: T0 + 1, queueRank: T0 + 50 });
      assert.equal((await store.dispatch(u.id, T0 + 2))!.job.id, first.id);
      const third = await enqueueOk(store, u.id, { now: T0 + 3, queueRank: T0 + 10 });
      assert.equal(await store.requeue(first.id, T0 + 4), true);
      const back = (await store.getJob(first.id))!;
      assert.deepEqual(
        [back.state, back.queueRank],
        ['queued', T0 - 100],
        'back in its place, not at the end',
      );
      assert.deepEqual(
        (await store.queuedJobs(u.id, 10)).map((j) => j.id),
        [first.id, third.id, second.id],
      );
      assert.deepEqual(
        (await dispatchAll(store, u.id, T0 + 5)).map((d) => d.job.id),
        [first.id, third.id, second.id],
      );
      for (const j of await store.activeJobs(u.id)) await store.finish(j.id, { state: 'completed' }, T0 + 6);

      const direct = await reserveOk(store, u.id, { now: T0 + 20 });
      assert.equal(direct.queueRank, null, 'never queued: no rank');
      const before = await enqueueOk(store, u.id, { now: T0 + 21, queueRank: T0 + 19 });
      const after = await enqueueOk(store, u.id, { now: T0 + 22, queueRank: T0 + 21 });
      assert.equal(await store.requeue(direct.id, T0 + 23), true);
      assert.equal((await store.getJob(direct.id))!.queueRank, T0 + 20, 'its createdAt');
      assert.deepEqual(
        (await dispatchAll(store, u.id, T0 + 24)).map((d) => d.job.id),
        [before.id, direct.id, after.id],
      );
    });

    test('queuedJobs and the scheduler’s dispatchOrder agree with the dispatches', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 500 });
      const t1 = await store.addToken(u.id, `${'e'.repeat(63)}1`, null, T0);
      const t2 = await store.addToken(u.id, `${'e'.repeat(63)}2`, null, T0);
      assert.equal(await store.setTokenWeight(u.id, t2.id, 2), true);
      const rnd = seeded(11);
      for (let i = 0; i < 90; i++) {
        await enqueueOk(store, u.id, {
          tokenId: i % 3 === 0 ? null : i % 3 === 1 ? t1.id : t2.id,
          priority: Math.floor(rnd() * 3) - 1,
          now: T0 + i * 1000,
          queueRank: T0 + i * 1000 - Math.floor(rnd() * 4) * 20_000,
        });
      }
      // Some turns first, so the stored passes differ between tokens and the prediction must use them.
      const early = await dispatchAll(store, u.id, T0, 7);
      assert.equal(early.length, 7);
      const turns = await store.queueTurns(u.id);
      assert.ok(new Set(turns.map((t) => t.pass)).size > 1, 'the passes differ');
      const all = await store.queuedJobs(u.id, 1000);
      const head = await store.queuedJobs(u.id, 25);
      const predicted = dispatchOrder(all, turns).map((j) => j.id);
      const actual = (await dispatchAll(store, u.id)).map((d) => d.job.id);
      assert.equal(actual.length, 83);
      assert.deepEqual(predicted, actual, 'dispatchOrder over queuedJobs replays the dispatches');
      // A limited read holds, per token, the first jobs that token will dispatch.
      const tokenOf = new Map(all.map((j) => [j.id, j.tokenId]));
      for (const token of [null, t1.id, t2.id]) {
        const mine = head.filter((j) => j.tokenId === token).map((j) => j.id);
        assert.deepEqual(
          mine,
          actual.filter((id) => tokenOf.get(id) === token).slice(0, mine.length),
          `token ${token}`,
        );
      }
    });

    test('enqueue refuses a rank that is not a finite number', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1 });
      for (const queueRank of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        await assert.rejects(store.enqueue(enqueueInput(u.id, { queueRank }), 10), RangeError);
      }
      assert.equal(await store.countQueued(u.id), 0);
    });
  });

  describe('dispatch batches', () => {
    pairTest('a batch makes exactly the choices of as many single dispatches', async (a, b) => {
      // Three tokens of different weights and jobs without one, pins (one on an account in error,
      // one on an account cooling down), per-job overrides above and below the account limits,
      // priorities, and slots already held — then batches that stop at their limit, and ones that
      // stop because nothing more fits.
      const sc: BatchScenario = {
        limits: [3, 2, 4, 1, 5],
        health: ['ok', 'ok', 'cooldown', 'error', 'ok'],
        held: [1, 0, 0, 0, 2],
        weights: [1, 3, 0.5],
        jobs: Array.from({ length: 48 }, (_, i) => ({
          token: i % 4 === 3 ? null : (i * 7) % 3,
          pin: i % 5 === 0 ? (i / 5) % 5 : null,
          override: i % 6 === 0 ? 1 + (i % 7) : null,
          priority: ((i * 5) % 3) - 1,
          rank: (i * 11) % 4,
        })),
      };
      await compareBatchWithSingles(
        a,
        b,
        sc,
        [
          { batch: 4, finish: [], later: false },
          { batch: 16, finish: [0, 3, 5], later: false },
          { batch: 2, finish: [1, 1, 1, 1], later: true },
          { batch: 50, finish: [2, 0], later: false },
          { batch: 1, finish: [], later: false },
          { batch: 50, finish: [], later: false },
        ],
        42,
      );
    });

    pairTest(
      'a long batch advances the passes with the same arithmetic as single dispatches',
      async (a, b) => {
        // Strides 1, 1/3 and 1/7 added one dispatch at a time are not k × stride in floating point
        // (six thirds add up to 1.9999999999999998), and a tie between two passes goes to the lower
        // token id — listed first here — so a batch computing passes any other way would diverge.
        const sc: BatchScenario = {
          limits: [40],
          health: [],
          held: [],
          weights: [1, 3, 7],
          jobs: Array.from({ length: 120 }, (_, i) => ({
            token: i % 3,
            pin: null,
            override: null,
            priority: 0,
          })),
        };
        await compareBatchWithSingles(
          a,
          b,
          sc,
          [
            { batch: 40, finish: Array.from({ length: 25 }, (_, i) => i * 3), later: false },
            { batch: 40, finish: [], later: false },
          ],
          7,
        );
      },
    );

    pairTest('batch equals single dispatches (property)', async (a, b) => {
      const arb = fc.record({
        limits: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
        health: fc.array(fc.constantFrom<BatchScenario['health'][number]>('ok', 'ok', 'error', 'cooldown'), {
          minLength: 4,
          maxLength: 4,
        }),
        held: fc.array(fc.nat(2), { minLength: 4, maxLength: 4 }),
        weights: fc.array(fc.constantFrom(1, 2, 3, 0.5), { minLength: 0, maxLength: 2 }),
        jobs: fc.array(
          fc.record({
            token: fc.option(fc.nat(1), { nil: null }),
            pin: fc.option(fc.nat(3), { nil: null }),
            override: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
            priority: fc.integer({ min: -1, max: 1 }),
            rank: fc.integer({ min: 0, max: 3 }),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        phases: fc.array(
          fc.record({
            batch: fc.integer({ min: 1, max: 8 }),
            finish: fc.array(fc.nat(20), { maxLength: 3 }),
            later: fc.boolean(),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        seed: fc.integer(),
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ phases, seed, ...sc }) =>
          compareBatchWithSingles(a, b, sc, phases, seed),
        ),
        { numRuns: 12 },
      );
    });

    test('respects the limit and binds each job once', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 4, 'b@x.io': 4 });
      const jobs = await enqueueMany(store, u.id, 10);
      const first = await store.dispatchBatch(u.id, T0 + 1, 3);
      assert.deepEqual(
        first.map((d) => d.job.id),
        jobs.slice(0, 3).map((j) => j.id),
      );
      for (const d of first) {
        assert.equal(d.job.state, 'submitting');
        assert.equal(d.job.email, d.account.email);
        assert.equal(d.job.startedAt, T0 + 1);
        assert.deepEqual(await store.getJob(d.job.id), d.job);
      }
      assert.equal(await store.countQueued(u.id), 7);
      const second = await store.dispatchBatch(u.id, T0 + 2, 100);
      assert.deepEqual(
        second.map((d) => d.job.id),
        jobs.slice(3, 8).map((j) => j.id),
        'stops when every slot is taken',
      );
      const loads = await loadsByEmail(store, u.id);
      assert.deepEqual(Object.fromEntries(loads), { 'a@x.io': 4, 'b@x.io': 4 });
      assert.equal(new Set([...first, ...second].map((d) => d.job.id)).size, 8);
      assert.equal(await store.countQueued(u.id), 2);
    });

    test('returns [] when nothing fits', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1, 'b@x.io': 1 });
      assert.deepEqual(await store.dispatchBatch(u.id, T0, 16), [], 'empty queue');
      assert.deepEqual(await store.dispatchBatch(u.id + 1000, T0, 16), [], 'unknown tenant');
      await store.setAccountHealth(u.id, 'b@x.io', {
        state: 'error',
        reason: 'x',
        cooldownUntil: null,
        now: T0,
      });
      const stuck = await enqueueOk(store, u.id, { email: 'b@x.io' });
      assert.deepEqual(
        await store.dispatchBatch(u.id, T0, 16),
        [],
        'only a job pinned to an unhealthy account',
      );
      await reserveOk(store, u.id, { email: 'a@x.io' });
      const waiting = await enqueueOk(store, u.id);
      assert.deepEqual(await store.dispatchBatch(u.id, T0, 16), [], 'every healthy slot taken');
      assert.deepEqual(await store.dispatchBatch(u.id, T0, 0), [], 'limit 0');
      assert.deepEqual(await store.dispatchBatch(u.id, T0, -3), [], 'negative limit');
      for (const j of [stuck, waiting]) assert.equal((await store.getJob(j.id))!.state, 'queued');
      assert.equal(await store.countQueued(u.id), 2);
    });
  });
}
