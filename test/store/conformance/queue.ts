/** Store conformance: The late-binding queue and fair dispatch across tokens. */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Job } from '../../../src/domain/job.ts';
import { DEFAULT_TENANT_SETTINGS } from '../../../src/store/store.ts';
import {
  roleTests,
  T0,
  SECRET,
  userWithAccounts,
  reserveOk,
  runningJob,
  loadsByEmail,
  enqueueInput,
  enqueueOk,
  enqueueMany,
  dispatchAll,
  dispatchTokens,
  countOf,
  type StoreHandle,
} from './harness.ts';

export function runQueueConformance(makeStore: () => Promise<StoreHandle>): void {
  const { test } = roleTests(makeStore);
  describe('queue', () => {
    test('enqueue inserts a queued job that holds no slot', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1 });
      const token = await store.addToken(u.id, '1'.repeat(64), null, T0);
      const input = enqueueInput(u.id, {
        tokenId: token.id,
        type: 'image',
        traceId: 'trace-q',
        priority: 1,
        maxJobsOverride: 2,
        upstream: { op: 'image.text', params: { id: '9007199254740993' } },
        request: { prompt: 'q' },
        // A fractional rank (queued at T0+7, expected 45,000.25 ms) must come back exactly.
        replyUrl: 'https://hook.example/q',
        replyRef: 'ref-q',
        now: T0 + 7,
        queueRank: T0 + 7 - 45_000.25,
      });
      const res = await store.enqueue(input, 10);
      assert.ok(res.ok);
      const expected: Job = {
        id: res.job.id,
        userId: u.id,
        provider: 'pixverse',
        tokenId: token.id,
        email: null,
        pinnedEmail: null,
        type: 'image',
        state: 'queued',
        upstreamId: null,
        traceId: 'trace-q',
        upstream: input.upstream,
        request: input.request,
        replyUrl: 'https://hook.example/q',
        replyRef: 'ref-q',
        priority: 1,
        queueRank: T0 + 7 - 45_000.25,
        maxJobsOverride: 2,
        createdAt: T0 + 7,
        queuedAt: T0 + 7,
        startedAt: null,
        finishedAt: null,
        resultUrl: null,
        error: null,
        upstreamStatus: null,
        result: null,
        pollCount: 0,
        nextPollAt: null,
        leaseToken: null,
        leaseExpiresAt: null,
        untrackedAt: null,
        untrackCallback: false,
        deletedAt: null,
      };
      assert.deepEqual(res.job, expected);
      assert.deepEqual(await store.getJob(res.job.id), expected);

      const pinned = await enqueueOk(store, u.id, { email: 'a@x.io', priority: -1, now: T0 + 8 });
      assert.equal(pinned.email, 'a@x.io', 'a pinned queued job already names its account');
      assert.equal(pinned.pinnedEmail, 'a@x.io');
      assert.equal(pinned.startedAt, null);
      assert.equal(pinned.priority, -1);
      assert.ok(pinned.id > res.job.id);

      assert.deepEqual(await store.activeJobs(u.id), [], 'queued jobs hold no slot');
      assert.equal((await loadsByEmail(store, u.id)).get('a@x.io'), 0);
      await reserveOk(store, u.id, { email: 'a@x.io' }); // the slot is still free for a direct reservation
    });

    test('enqueue refuses: no_accounts, unknown_account, queue_full at the bound', async (store) => {
      const empty = await store.createUser('empty', T0, SECRET);
      assert.deepEqual(await store.enqueue(enqueueInput(empty.id), 10), { ok: false, reason: 'no_accounts' });
      assert.deepEqual(await store.enqueue(enqueueInput(empty.id, { email: 'a@x.io' }), 10), {
        ok: false,
        reason: 'unknown_account',
      });

      const u = await userWithAccounts(store, { 'a@x.io': 1 });
      const other = await userWithAccounts(store, { 'a@x.io': 1 });
      assert.deepEqual(await store.enqueue(enqueueInput(u.id, { email: 'b@x.io' }), 10), {
        ok: false,
        reason: 'unknown_account',
      });
      assert.deepEqual(await store.enqueue(enqueueInput(u.id), 0), {
        ok: false,
        reason: 'queue_full',
        queued: 0,
      });
      await enqueueOk(store, u.id, {}, 2);
      await enqueueOk(store, u.id, { email: 'a@x.io' }, 2);
      await enqueueOk(store, other.id, {}, 2); // other tenants' queues do not count
      assert.deepEqual(await store.enqueue(enqueueInput(u.id), 2), {
        ok: false,
        reason: 'queue_full',
        queued: 2,
      });
      assert.equal(await store.countQueued(u.id), 2, 'refusals insert nothing');
      // A dispatched job has left the queue: there is room again.
      assert.ok(await store.dispatch(u.id, T0));
      await enqueueOk(store, u.id, {}, 2);
      assert.deepEqual(await store.enqueue(enqueueInput(u.id), 2), {
        ok: false,
        reason: 'queue_full',
        queued: 2,
      });
    });

    test('concurrent enqueues never exceed maxQueueLength', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1 });
      const results = await Promise.all(
        Array.from({ length: 12 }, () => store.enqueue(enqueueInput(u.id), 5)),
      );
      assert.equal(results.filter((r) => r.ok).length, 5);
      for (const r of results) if (!r.ok) assert.equal(r.reason, 'queue_full');
      assert.equal(await store.countQueued(u.id), 5);
    });

    test('queue reads: queuedUsers, queuedJobs in (priority, rank, id) order, countQueued', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1 });
      const v = await userWithAccounts(store, { 'a@x.io': 2 });
      await userWithAccounts(store, { 'a@x.io': 1 }); // nothing queued
      assert.deepEqual(await store.queuedUsers(), []);
      const j1 = await enqueueOk(store, u.id, { now: T0 });
      const j2 = await enqueueOk(store, u.id, { now: T0 + 1, priority: 1 });
      const j3 = await enqueueOk(store, u.id, { now: T0 + 2 });
      await enqueueOk(store, v.id);
      await reserveOk(store, v.id); // slot holders are not queued
      assert.deepEqual(
        [...(await store.queuedUsers())].sort((a, b) => a - b),
        [u.id, v.id].sort((a, b) => a - b),
      );
      assert.deepEqual(
        (await store.queuedJobs(u.id, 10)).map((j) => j.id),
        [j2.id, j1.id, j3.id],
      );
      assert.deepEqual(
        (await store.queuedJobs(u.id, 2)).map((j) => j.id),
        [j2.id, j1.id],
      );
      assert.deepEqual(await store.queuedJobs(u.id, 0), []);
      assert.equal(await store.countQueued(u.id), 3);
      assert.equal(await store.countQueued(v.id), 1);
      await store.finish(j1.id, { state: 'cancelled' }, T0 + 5);
      assert.deepEqual(
        (await store.queuedJobs(u.id, 10)).map((j) => j.id),
        [j2.id, j3.id],
      );
      assert.equal(await store.countQueued(u.id), 2);
      const d = await store.dispatch(v.id, T0);
      assert.equal(d!.job.userId, v.id);
      assert.deepEqual(await store.queuedUsers(), [u.id]);
    });

    test('dispatch binds jobs only to healthy accounts with a free slot, honouring pins', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1, 'b@x.io': 2, 'c@x.io': 1 });
      await store.setAccountHealth(u.id, 'c@x.io', {
        state: 'error',
        reason: 'banned',
        cooldownUntil: null,
        now: T0,
      });
      const onC = await enqueueOk(store, u.id, { email: 'c@x.io' });
      const onA1 = await enqueueOk(store, u.id, { email: 'a@x.io' });
      const onA2 = await enqueueOk(store, u.id, { email: 'a@x.io' });
      const free1 = await enqueueOk(store, u.id);
      const free2 = await enqueueOk(store, u.id);
      const free3 = await enqueueOk(store, u.id);
      assert.equal(await store.dispatch(u.id + 1000, T0), null, 'unknown tenant');

      const first = await dispatchAll(store, u.id, T0 + 10);
      assert.deepEqual(
        first.map((d) => [d.job.id, d.account.email]),
        [
          [onA1.id, 'a@x.io'],
          [free1.id, 'b@x.io'],
          [free2.id, 'b@x.io'],
        ],
      );
      for (const d of first) {
        assert.equal(d.job.state, 'submitting');
        assert.equal(d.job.email, d.account.email);
        assert.equal(d.job.startedAt, T0 + 10);
        assert.equal(d.job.queuedAt, T0, 'queuedAt is kept');
        assert.deepEqual(await store.getJob(d.job.id), d.job);
      }
      assert.deepEqual(Object.fromEntries(await loadsByEmail(store, u.id)), {
        'a@x.io': 1,
        'b@x.io': 2,
        'c@x.io': 0,
      });
      for (const j of [onC, onA2, free3]) assert.equal((await store.getJob(j.id))!.state, 'queued');

      // Re-posting c clears its error: the job pinned to it can go; c is then full.
      await store.upsertAccount({ userId: u.id, email: 'c@x.io', apiKeyEnc: 'k', maxJobs: 1, now: T0 });
      assert.deepEqual(
        (await dispatchAll(store, u.id, T0 + 20)).map((d) => [d.job.id, d.account.email]),
        [[onC.id, 'c@x.io']],
      );

      // A slot frees on a: the older of the two jobs that fit there wins.
      await store.finish(onA1.id, { state: 'completed' }, T0 + 30);
      assert.deepEqual(
        (await dispatchAll(store, u.id, T0 + 30)).map((d) => [d.job.id, d.account.email]),
        [[onA2.id, 'a@x.io']],
      );

      // A slot frees on b while b cools down: nothing until the cool-down ends.
      await store.finish(free1.id, { state: 'completed' }, T0 + 40);
      await store.setAccountHealth(u.id, 'b@x.io', {
        state: 'cooldown',
        reason: 'rate',
        cooldownUntil: T0 + 1000,
        now: T0 + 40,
      });
      assert.equal(await store.dispatch(u.id, T0 + 999), null);
      const last = await store.dispatch(u.id, T0 + 1000);
      assert.deepEqual([last!.job.id, last!.account.email], [free3.id, 'b@x.io']);
      assert.equal(await store.countQueued(u.id), 0);
      assert.equal(await store.dispatch(u.id, T0 + 1000), null);
    });

    test('dispatch uses the job’s maxJobsOverride as the slot limit', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1, 'b@x.io': 3 });
      await reserveOk(store, u.id, { email: 'a@x.io' }); // a: 1/1
      await reserveOk(store, u.id, { email: 'b@x.io' }); // b: 1/3
      const lowPinned = await enqueueOk(store, u.id, { email: 'b@x.io', maxJobsOverride: 1 }); // b has 1 ≥ 1: never fits now
      const lowFree = await enqueueOk(store, u.id, { maxJobsOverride: 1 }); // every account has ≥ 1: does not fit
      const highPinned = await enqueueOk(store, u.id, { email: 'a@x.io', maxJobsOverride: 3 }); // a has 1 < 3: fits
      const plainA = await enqueueOk(store, u.id, { email: 'a@x.io' }); // a full at its own limit
      const d1 = await store.dispatch(u.id, T0);
      assert.deepEqual([d1!.job.id, d1!.account.email], [highPinned.id, 'a@x.io']);
      const d2 = await store.dispatch(u.id, T0); // lowFree / plainA / lowPinned don't fit; nothing else queued
      assert.equal(d2, null);
      const highFree = await enqueueOk(store, u.id, { maxJobsOverride: 2 }); // b has 1 < 2
      const d3 = await store.dispatch(u.id, T0);
      assert.deepEqual([d3!.job.id, d3!.account.email], [highFree.id, 'b@x.io']);
      assert.equal(await store.dispatch(u.id, T0), null);
      for (const j of [lowPinned, lowFree, plainA]) assert.equal((await store.getJob(j.id))!.state, 'queued');
      assert.deepEqual(Object.fromEntries(await loadsByEmail(store, u.id)), { 'a@x.io': 2, 'b@x.io': 2 });
    });

    test('requeue returns a dispatched job to the queue, unbinding it unless pinned', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 2, 'b@x.io': 2 });
      const free = await enqueueOk(store, u.id, { now: T0 + 1 });
      const pinned = await enqueueOk(store, u.id, { email: 'b@x.io', now: T0 + 2 });
      const [d1, d2] = await dispatchAll(store, u.id, T0 + 10);
      assert.deepEqual([d1!.job.id, d2!.job.id], [free.id, pinned.id]);
      assert.equal(d2!.account.email, 'b@x.io');

      assert.equal(await store.requeue(free.id, T0 + 20), true);
      assert.equal(await store.requeue(pinned.id, T0 + 20), true);
      assert.equal(await store.requeue(free.id, T0 + 21), false, 'no longer submitting');
      const back = (await store.getJob(free.id))!;
      assert.deepEqual(
        [back.state, back.email, back.pinnedEmail, back.startedAt, back.queuedAt],
        ['queued', null, null, null, T0 + 1],
      );
      const backPinned = (await store.getJob(pinned.id))!;
      assert.deepEqual(
        [backPinned.state, backPinned.email, backPinned.startedAt],
        ['queued', 'b@x.io', null],
      );
      assert.deepEqual(
        Object.fromEntries(await loadsByEmail(store, u.id)),
        { 'a@x.io': 0, 'b@x.io': 0 },
        'slots freed',
      );
      assert.equal(await store.countQueued(u.id), 2);

      const again = await dispatchAll(store, u.id, T0 + 30);
      assert.deepEqual(
        again.map((d) => d.job.id).sort((a, b) => a - b),
        [free.id, pinned.id],
      );
      assert.equal(again.find((d) => d.job.id === pinned.id)!.account.email, 'b@x.io');

      // Only submitting jobs can be requeued.
      assert.ok(await store.markRunning(free.id, '55', T0 + 100, T0 + 31));
      assert.equal(await store.requeue(free.id, T0 + 32), false);
      assert.equal(await store.requeue(free.id + pinned.id + 1000, T0 + 32), false);
      // A directly reserved job may be requeued too; it then waits like any queued job.
      const direct = await reserveOk(store, u.id, { email: 'a@x.io' });
      assert.equal(await store.requeue(direct.id, T0 + 40), true);
      assert.deepEqual(
        [(await store.getJob(direct.id))!.state, (await store.getJob(direct.id))!.email],
        ['queued', 'a@x.io'],
      );
      assert.equal(await store.countQueued(u.id), 1);
      assert.equal(
        (await store.dispatch(u.id, T0 + 41))!.job.id,
        direct.id,
        'and is dispatched like any queued job',
      );
    });

    test('finish cancels a queued job (it never held a slot)', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1 });
      const job = await enqueueOk(store, u.id);
      assert.equal(
        await store.finish(job.id, { state: 'cancelled' }, T0 + 1, { from: ['submitting', 'running'] }),
        null,
      );
      const cancelled = await store.finish(
        job.id,
        { state: 'cancelled', error: 'deleted by client' },
        T0 + 2,
      );
      assert.ok(cancelled);
      assert.deepEqual(
        [cancelled.state, cancelled.error, cancelled.finishedAt, cancelled.startedAt, cancelled.email],
        ['cancelled', 'deleted by client', T0 + 2, null, null],
      );
      assert.equal(await store.finish(job.id, { state: 'cancelled' }, T0 + 3), null, 'once');
      assert.equal(await store.countQueued(u.id), 0);
      assert.equal(await store.dispatch(u.id, T0 + 4), null);
      const other = await enqueueOk(store, u.id);
      assert.equal(
        (await store.finish(other.id, { state: 'cancelled' }, T0 + 5, { from: ['queued'] }))!.state,
        'cancelled',
      );
    });

    test('deleteAccount also cancels the queued jobs pinned to it', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1, 'b@x.io': 1 });
      const running = await runningJob(store, u.id, 'a@x.io', T0 + 100);
      const onA = await enqueueOk(store, u.id, { email: 'a@x.io' });
      const onB = await enqueueOk(store, u.id, { email: 'b@x.io' });
      const free = await enqueueOk(store, u.id);
      const result = await store.deleteAccount(u.id, 'a@x.io', T0 + 50);
      assert.deepEqual(
        result!.cancelled.map((j) => j.id),
        [running.id, onA.id],
      );
      for (const j of result!.cancelled) {
        assert.equal(j.state, 'cancelled');
        assert.equal(j.finishedAt, T0 + 50);
      }
      assert.equal((await store.getJob(onB.id))!.state, 'queued');
      assert.equal((await store.getJob(free.id))!.state, 'queued');
      assert.equal(await store.countQueued(u.id), 2);
      // The remaining queue still dispatches onto b.
      const d = await store.dispatch(u.id, T0 + 60);
      assert.equal(d!.account.email, 'b@x.io');
    });

    test('expireQueued times out jobs queued longer than their tenant’s maxQueueWaitMs', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1 });
      const v = await userWithAccounts(store, { 'a@x.io': 1 });
      await store.updateTenantSettings(u.id, { maxQueueWaitMs: 1000 });
      const dispatched = await enqueueOk(store, u.id, { now: T0 });
      assert.equal((await store.dispatch(u.id, T0))!.job.id, dispatched.id);
      const old = await enqueueOk(store, u.id, { now: T0 });
      const newer = await enqueueOk(store, u.id, { now: T0 + 500 });
      const elsewhere = await enqueueOk(store, v.id, { now: T0 }); // default wait: an hour

      assert.deepEqual(
        await store.expireQueued(T0 + 1000, 'queue wait'),
        [],
        'exactly the limit is not longer',
      );
      const first = await store.expireQueued(T0 + 1001, 'queued too long');
      assert.deepEqual(
        first.map((j) => j.id),
        [old.id],
      );
      assert.deepEqual(
        [first[0]!.state, first[0]!.error, first[0]!.finishedAt],
        ['timed_out', 'queued too long', T0 + 1001],
      );
      assert.deepEqual(
        (await store.expireQueued(T0 + 1501, 'queued too long')).map((j) => j.id),
        [newer.id],
      );
      assert.equal(
        (await store.getJob(dispatched.id))!.state,
        'submitting',
        'dispatched jobs are not queue-expired',
      );
      assert.equal((await store.getJob(elsewhere.id))!.state, 'queued');
      assert.deepEqual(await store.expireQueued(T0 + 1501, 'again'), []);
      assert.deepEqual(
        (await store.expireQueued(T0 + DEFAULT_TENANT_SETTINGS.maxQueueWaitMs + 1, 'x')).map((j) => j.id),
        [elsewhere.id],
      );
    });

    test('expireJobs never touches queued jobs', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1 });
      const held = await reserveOk(store, u.id, { now: T0 });
      const queued = await enqueueOk(store, u.id, { now: T0 });
      const expired = await store.expireJobs(T0 + 10_000, T0 + 10_000, 'timeout');
      assert.deepEqual(
        expired.map((j) => j.id),
        [held.id],
      );
      assert.equal((await store.getJob(queued.id))!.state, 'queued');
    });
  });

  describe('fair dispatch', () => {
    test('a token with few jobs is not stuck behind a token with many', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 100 });
      const big = await store.addToken(u.id, '2'.repeat(64), 'big', T0);
      const small = await store.addToken(u.id, '3'.repeat(64), 'small', T0);
      await enqueueMany(store, u.id, 50, { tokenId: big.id });
      await enqueueMany(store, u.id, 5, { tokenId: small.id });
      const first10 = await dispatchTokens(store, u.id, 10);
      assert.equal(
        countOf(first10, small.id),
        5,
        `small token's jobs within the first 10: ${JSON.stringify(first10)}`,
      );
      assert.equal((await dispatchAll(store, u.id)).length, 45);
    });

    test('weights 3:1 give a 3:1 share', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 100 });
      const heavy = await store.addToken(u.id, '4'.repeat(64), null, T0);
      const light = await store.addToken(u.id, '5'.repeat(64), null, T0);
      assert.equal(await store.setTokenWeight(u.id, heavy.id, 3), true);
      await enqueueMany(store, u.id, 40, { tokenId: light.id });
      await enqueueMany(store, u.id, 40, { tokenId: heavy.id });
      const got = await dispatchTokens(store, u.id, 40);
      const h = countOf(got, heavy.id);
      assert.ok(h >= 29 && h <= 31, `heavy got ${h} of 40 (expected ~30)`);
      // The share holds over any window, not just in total.
      const firstEight = got.slice(0, 8);
      assert.ok(
        countOf(firstEight, heavy.id) >= 5 && countOf(firstEight, light.id) >= 1,
        JSON.stringify(firstEight),
      );
    });

    test('jobs without a token share the queue like one more token of weight 1', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 100 });
      const t = await store.addToken(u.id, '6'.repeat(64), null, T0);
      await enqueueMany(store, u.id, 20, { tokenId: t.id });
      await enqueueMany(store, u.id, 20, { tokenId: null });
      const got = await dispatchTokens(store, u.id, 10);
      assert.equal(countOf(got, null), 5, JSON.stringify(got));
      assert.equal(countOf(got, t.id), 5);
    });

    test('only tokens with a job that fits compete; a skipped token keeps its turn', async (store) => {
      const u = await userWithAccounts(store, { 'p@x.io': 1, 'q@x.io': 5 });
      const blocker = await reserveOk(store, u.id, { email: 'p@x.io' }); // p full
      const a = await store.addToken(u.id, '7'.repeat(64), null, T0);
      const b = await store.addToken(u.id, '8'.repeat(64), null, T0);
      await enqueueMany(store, u.id, 3, { tokenId: a.id, email: 'p@x.io' });
      await enqueueMany(store, u.id, 3, { tokenId: b.id });
      assert.deepEqual(await dispatchTokens(store, u.id, 3), [b.id, b.id, b.id]);
      assert.equal(await store.dispatch(u.id, T0), null);
      await store.finish(blocker.id, { state: 'completed' }, T0);
      const next = await store.dispatch(u.id, T0);
      assert.deepEqual([next!.job.tokenId, next!.account.email], [a.id, 'p@x.io']);
    });

    test('priority orders jobs within a token: high first, then oldest', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 10 });
      const low = await enqueueOk(store, u.id, { priority: -1 });
      const normal1 = await enqueueOk(store, u.id, { priority: 0 });
      const high1 = await enqueueOk(store, u.id, { priority: 1 });
      const normal2 = await enqueueOk(store, u.id, { priority: 0 });
      const high2 = await enqueueOk(store, u.id, { priority: 1 });
      const order = (await dispatchAll(store, u.id)).map((d) => d.job.id);
      assert.deepEqual(order, [high1.id, high2.id, normal1.id, normal2.id, low.id]);
    });

    test('a high-priority job that does not fit does not block lower ones that do', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1, 'b@x.io': 1 });
      await reserveOk(store, u.id, { email: 'a@x.io' });
      const stuck = await enqueueOk(store, u.id, { email: 'a@x.io', priority: 1 });
      const low = await enqueueOk(store, u.id, { priority: -1 });
      const d = await store.dispatch(u.id, T0);
      assert.deepEqual([d!.job.id, d!.account.email], [low.id, 'b@x.io']);
      assert.equal((await store.getJob(stuck.id))!.state, 'queued');
    });

    test('an idle token does not hoard dispatches when it returns', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 100 });
      const busy = await store.addToken(u.id, '9'.repeat(64), 'busy', T0);
      const idle = await store.addToken(u.id, `${'a'.repeat(63)}b`, 'idle', T0);
      await enqueueOk(store, u.id, { tokenId: idle.id });
      await enqueueMany(store, u.id, 20, { tokenId: busy.id });
      await dispatchAll(store, u.id); // idle's single job and busy's 20: idle has been away since
      const finished = await store.activeJobs(u.id);
      for (const j of finished) await store.finish(j.id, { state: 'completed' }, T0);
      await enqueueMany(store, u.id, 10, { tokenId: busy.id });
      await dispatchTokens(store, u.id, 5); // busy keeps going alone
      await enqueueMany(store, u.id, 10, { tokenId: idle.id }); // idle returns
      const next = await dispatchTokens(store, u.id, 6);
      assert.ok(
        countOf(next, busy.id) >= 2,
        `the returning token must not take every turn: ${JSON.stringify(next)}`,
      );
      assert.ok(countOf(next, idle.id) >= 2, `…but it gets its share at once: ${JSON.stringify(next)}`);
    });
  });
}
