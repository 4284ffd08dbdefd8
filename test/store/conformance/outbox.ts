/** Store conformance: The callbacks outbox (design invariant 5). */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { OutboxEvent } from '../../../src/store/store.ts';
import {
  roleTests,
  T0,
  userWithAccounts,
  reserveOk,
  runningJob,
  enqueueOk,
  recordingBuilder,
  throwingBuilder,
  deliveriesOf,
  bodyOf,
  type StoreHandle,
} from './harness.ts';

export function runOutboxConformance(makeStore: () => Promise<StoreHandle>): void {
  const { test } = roleTests(makeStore);
  describe('callbacks outbox', () => {
    test('markRunning and every terminal transition write their delivery with the updated job', async (store) => {
      const { calls, builder } = recordingBuilder();
      store.setOutboxBuilder(builder);
      const u = await userWithAccounts(store, { 'a@x.io': 8, 'gone@x.io': 2 });
      const expectOne = async (jobId: number, event: OutboxEvent, state: string, now: number) => {
        const ds = await deliveriesOf(store, u.id, jobId);
        const d = ds[ds.length - 1]!;
        assert.deepEqual(
          [d.event, d.state, d.attempts, d.nextAttemptAt, d.createdAt, d.url],
          [event, 'pending', 0, now, now, `https://hook.example/${jobId}`],
        );
        assert.deepEqual(bodyOf(d), { id: jobId, state, event });
        assert.equal(d.seq, ds.length);
        assert.equal(d.jobId, jobId);
        assert.equal(d.userId, u.id);
        const call = calls.filter((c) => c.job.id === jobId).pop()!;
        assert.deepEqual([call.job.id, call.job.state, call.event], [jobId, state, event]);
        assert.deepEqual(await store.getJob(jobId), call.job, 'the builder saw the job as committed');
      };

      // markRunning (progress) then finish (final).
      const job = await reserveOk(store, u.id, { email: 'a@x.io' });
      assert.equal(calls.length, 0, 'reserve owes no callback');
      await store.markRunning(job.id, '123', T0 + 100, T0 + 1);
      await expectOne(job.id, 'progress', 'running', T0 + 1);
      await store.finish(job.id, { state: 'completed', resultUrl: 'https://cdn/x' }, T0 + 2);
      await expectOne(job.id, 'final', 'completed', T0 + 2);
      assert.deepEqual(
        (await deliveriesOf(store, u.id, job.id)).map((d) => d.seq),
        [1, 2],
      );

      // A lost compare-and-swap writes nothing.
      const before = calls.length;
      assert.equal(await store.finish(job.id, { state: 'failed' }, T0 + 3), null);
      assert.equal(await store.markRunning(job.id, '1', T0, T0 + 3), null);
      assert.equal(calls.length, before);
      assert.equal((await deliveriesOf(store, u.id, job.id)).length, 2);

      // finish of a queued job.
      const queued = await enqueueOk(store, u.id, { email: 'a@x.io' });
      await store.finish(queued.id, { state: 'cancelled' }, T0 + 4);
      await expectOne(queued.id, 'final', 'cancelled', T0 + 4);

      // expireJobs.
      const stale = await reserveOk(store, u.id, { email: 'a@x.io', now: T0 });
      await store.expireJobs(T0 + 1, T0 + 5, 'too slow');
      await expectOne(stale.id, 'final', 'timed_out', T0 + 5);

      // expireQueued.
      await store.updateTenantSettings(u.id, { maxQueueWaitMs: 10 });
      const waiting = await enqueueOk(store, u.id, { now: T0 });
      await store.expireQueued(T0 + 11, 'queued too long');
      await expectOne(waiting.id, 'final', 'timed_out', T0 + 11);

      // deleteAccount: a slot holder and a queued job pinned to the account.
      const onGone = await reserveOk(store, u.id, { email: 'gone@x.io' });
      const queuedOnGone = await enqueueOk(store, u.id, { email: 'gone@x.io' });
      await store.deleteAccount(u.id, 'gone@x.io', T0 + 12);
      await expectOne(onGone.id, 'final', 'cancelled', T0 + 12);
      await expectOne(queuedOnGone.id, 'final', 'cancelled', T0 + 12);

      // Dispatch and requeue owe no callback.
      const n = calls.length;
      await enqueueOk(store, u.id);
      const d = await store.dispatch(u.id, T0 + 13);
      await store.requeue(d!.job.id, T0 + 14);
      assert.equal(calls.length, n);
    });

    test('a builder returning null writes nothing; no builder, no deliveries', async (store) => {
      const { calls, builder } = recordingBuilder({ skip: 'progress' });
      store.setOutboxBuilder(builder);
      const u = await userWithAccounts(store, { 'a@x.io': 2 });
      const job = await runningJob(store, u.id, 'a@x.io', T0);
      assert.equal(calls.length, 1);
      assert.deepEqual(await deliveriesOf(store, u.id, job.id), []);
      await store.finish(job.id, { state: 'completed' }, T0 + 1);
      assert.deepEqual(
        (await deliveriesOf(store, u.id, job.id)).map((d) => [d.seq, d.event]),
        [[1, 'final']],
      );

      store.setOutboxBuilder(null);
      const quiet = await runningJob(store, u.id, 'a@x.io', T0);
      await store.finish(quiet.id, { state: 'failed' }, T0 + 2);
      assert.deepEqual(await deliveriesOf(store, u.id, quiet.id), []);
      assert.equal(calls.length, 2);
    });

    test('a throwing builder rolls the transition back', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 8, 'b@x.io': 1 });
      const submitting = await reserveOk(store, u.id, { email: 'a@x.io', now: T0 });
      const running = await runningJob(store, u.id, 'a@x.io', T0 + 100);
      const onB = await reserveOk(store, u.id, { email: 'b@x.io' });
      const queued = await enqueueOk(store, u.id, { now: T0 });
      await store.updateTenantSettings(u.id, { maxQueueWaitMs: 10 });
      const snapshot = async () =>
        Promise.all([submitting, running, onB, queued].map((j) => store.getJob(j.id)));
      const before = await snapshot();

      store.setOutboxBuilder(throwingBuilder);
      await assert.rejects(store.markRunning(submitting.id, '9', T0 + 100, T0 + 1), /builder exploded/);
      await assert.rejects(store.finish(running.id, { state: 'completed' }, T0 + 1), /builder exploded/);
      await assert.rejects(store.finish(queued.id, { state: 'cancelled' }, T0 + 1), /builder exploded/);
      await assert.rejects(store.expireJobs(T0 + 1_000_000, T0 + 1, 'x'), /builder exploded/);
      await assert.rejects(store.expireQueued(T0 + 1_000_000, 'x'), /builder exploded/);
      await assert.rejects(store.deleteAccount(u.id, 'b@x.io', T0 + 1), /builder exploded/);

      assert.deepEqual(await snapshot(), before, 'every job unchanged');
      assert.ok(await store.getAccount(u.id, 'b@x.io'), 'the account was not deleted');
      assert.deepEqual(await store.listDeliveries(u.id, { limit: 100 }), []);

      // With a working builder the same transitions go through.
      store.setOutboxBuilder(recordingBuilder().builder);
      assert.ok(await store.markRunning(submitting.id, '9', T0 + 100, T0 + 2));
      assert.equal((await store.finish(running.id, { state: 'completed' }, T0 + 2))!.state, 'completed');
      assert.equal((await store.deleteAccount(u.id, 'b@x.io', T0 + 2))!.cancelled.length, 1);
      assert.equal((await store.listDeliveries(u.id, { limit: 100 })).length, 3);
    });

    test('claimDueDeliveries: due only, one job’s deliveries strictly in order', async (store) => {
      store.setOutboxBuilder(recordingBuilder().builder);
      const u = await userWithAccounts(store, { 'a@x.io': 8 });
      const j1 = await reserveOk(store, u.id);
      await store.markRunning(j1.id, '1', T0 + 1000, T0); // j1 seq 1 due T0
      await store.finish(j1.id, { state: 'completed' }, T0 + 10); // j1 seq 2 due T0+10
      const j2 = await reserveOk(store, u.id);
      await store.finish(j2.id, { state: 'failed' }, T0 + 5); // j2 seq 1 due T0+5

      assert.deepEqual(await store.claimDueDeliveries('w', T0 - 1, 60_000, 10), [], 'nothing due yet');
      assert.equal(await store.nextDeliveryDue(), T0);
      const first = await store.claimDueDeliveries('w', T0 + 100, 60_000, 10);
      assert.deepEqual(
        first.map((d) => [d.jobId, d.seq]),
        [
          [j1.id, 1],
          [j2.id, 1],
        ],
        'j1 seq 2 waits for seq 1',
      );
      for (const d of first) {
        assert.ok(d.leaseToken);
        assert.equal(d.leaseExpiresAt, T0 + 60_100);
      }
      // j1 seq 1 fails and is retried later: seq 2 stays blocked, and is not reported as due.
      const d1 = first[0]!;
      assert.equal(
        await store.recordAttempt(
          d1.id,
          d1.leaseToken!,
          { delivered: false, status: 503, error: 'HTTP 503', nextAttemptAt: T0 + 1000 },
          T0 + 101,
        ),
        true,
      );
      const d2 = first[1]!;
      assert.equal(
        await store.recordAttempt(d2.id, d2.leaseToken!, { delivered: true, status: 200 }, T0 + 102),
        true,
      );
      assert.equal(await store.nextDeliveryDue(), T0 + 1000);
      assert.deepEqual(await store.claimDueDeliveries('w', T0 + 999, 60_000, 10), []);
      const retry = (await store.getDelivery(u.id, d1.id))!;
      assert.deepEqual(
        [
          retry.state,
          retry.attempts,
          retry.lastStatus,
          retry.lastError,
          retry.nextAttemptAt,
          retry.leaseToken,
        ],
        ['pending', 1, 503, 'HTTP 503', T0 + 1000, null],
      );

      const again = await store.claimDueDeliveries('w', T0 + 1000, 60_000, 10);
      assert.deepEqual(
        again.map((d) => [d.jobId, d.seq]),
        [[j1.id, 1]],
      );
      await store.recordAttempt(
        again[0]!.id,
        again[0]!.leaseToken!,
        { delivered: true, status: 204 },
        T0 + 1001,
      );
      const last = await store.claimDueDeliveries('w', T0 + 1002, 60_000, 10);
      assert.deepEqual(
        last.map((d) => [d.jobId, d.seq]),
        [[j1.id, 2]],
        'now seq 2 may go',
      );
      assert.deepEqual(await store.claimDueDeliveries('w', T0 + 1002, 60_000, 0), [], 'limit 0');
    });

    test('recordAttempt is fenced by the lease token; an expired lease goes to one new owner', async (store) => {
      store.setOutboxBuilder(recordingBuilder().builder);
      const u = await userWithAccounts(store, { 'a@x.io': 8 });
      const job = await reserveOk(store, u.id);
      await store.finish(job.id, { state: 'completed' }, T0);
      const [mine] = await store.claimDueDeliveries('w1', T0, 1000, 10);
      assert.ok(mine);
      const racing = await Promise.all(
        [1, 2, 3].map((i) => store.claimDueDeliveries(`r${i}`, T0 + 999, 1000, 10)),
      );
      assert.deepEqual(racing.flat(), [], 'a live lease is not handed out');
      assert.equal(await store.nextDeliveryDue(), T0 + 1000, 'due when the lease expires');

      const takeovers = (
        await Promise.all([1, 2, 3].map((i) => store.claimDueDeliveries(`r${i}`, T0 + 1000, 1000, 10)))
      ).flat();
      assert.equal(takeovers.length, 1, 'expired lease goes to exactly one new owner');
      const theirs = takeovers[0]!;
      assert.notEqual(theirs.leaseToken, mine.leaseToken);
      assert.equal(
        await store.recordAttempt(mine.id, mine.leaseToken!, { delivered: true, status: 200 }, T0 + 1001),
        false,
      );
      assert.equal(
        await store.recordAttempt(mine.id, 'forged', { delivered: true, status: 200 }, T0 + 1001),
        false,
      );
      assert.equal((await store.getDelivery(u.id, mine.id))!.state, 'pending');
      assert.equal(
        await store.recordAttempt(theirs.id, theirs.leaseToken!, { delivered: true, status: 200 }, T0 + 1002),
        true,
      );
      const done = (await store.getDelivery(u.id, mine.id))!;
      assert.deepEqual(
        [done.state, done.attempts, done.lastStatus, done.deliveredAt, done.leaseToken, done.leaseExpiresAt],
        ['delivered', 1, 200, T0 + 1002, null, null],
      );
      assert.equal(
        await store.recordAttempt(theirs.id, theirs.leaseToken!, { delivered: true, status: 200 }, T0 + 1003),
        false,
        'spent',
      );
      assert.equal(await store.nextDeliveryDue(), null);
      assert.deepEqual(await store.claimDueDeliveries('w', T0 + 10_000, 1000, 10), []);
    });

    test('dead letters stay dead until redelivered; redeliver is scoped and filtered', async (store) => {
      store.setOutboxBuilder(recordingBuilder().builder);
      const u = await userWithAccounts(store, { 'a@x.io': 8 });
      const other = await userWithAccounts(store, { 'a@x.io': 8 });
      const job = await reserveOk(store, u.id);
      await store.finish(job.id, { state: 'completed' }, T0 + 100);
      const [d] = await store.claimDueDeliveries('w', T0 + 100, 1000, 10);
      assert.equal(
        await store.recordAttempt(
          d!.id,
          d!.leaseToken!,
          { delivered: false, status: null, error: 'connect ECONNREFUSED', nextAttemptAt: null },
          T0 + 101,
        ),
        true,
      );
      const dead = (await store.getDelivery(u.id, d!.id))!;
      assert.deepEqual(
        [dead.state, dead.attempts, dead.lastError, dead.lastStatus, dead.nextAttemptAt, dead.leaseToken],
        ['dead', 1, 'connect ECONNREFUSED', null, null, null],
      );
      assert.equal(await store.nextDeliveryDue(), null);
      assert.deepEqual(await store.claimDueDeliveries('w', T0 + 100_000, 1000, 10), []);
      assert.equal(await store.getDelivery(other.id, d!.id), null, "another tenant's delivery is invisible");

      assert.equal(await store.redeliver(other.id, {}, T0 + 200), 0, 'scoped to the tenant');
      assert.equal(await store.redeliver(other.id, { deliveryId: d!.id }, T0 + 200), 0);
      assert.equal(await store.redeliver(u.id, { since: T0 + 101 }, T0 + 200), 0, 'created before `since`');
      assert.equal(await store.redeliver(u.id, { since: T0 + 100 }, T0 + 200), 1);
      const revived = (await store.getDelivery(u.id, d!.id))!;
      // The attempt count is kept: a redelivery does not grant a fresh retry budget.
      assert.deepEqual([revived.state, revived.attempts, revived.nextAttemptAt], ['pending', 1, T0 + 200]);
      assert.equal(await store.redeliver(u.id, {}, T0 + 200), 0, 'pending is not dead');
      assert.equal(await store.nextDeliveryDue(), T0 + 200);

      const [again] = await store.claimDueDeliveries('w', T0 + 200, 1000, 10);
      assert.equal(again!.id, d!.id);
      await store.recordAttempt(again!.id, again!.leaseToken!, { delivered: true, status: 200 }, T0 + 201);
      assert.equal(await store.redeliver(u.id, {}, T0 + 300), 0, 'delivered ones only by id');
      assert.equal(await store.redeliver(u.id, { deliveryId: d!.id + 1000 }, T0 + 300), 0);
      assert.equal(await store.redeliver(u.id, { deliveryId: d!.id }, T0 + 300), 1);
      const resent = (await store.getDelivery(u.id, d!.id))!;
      assert.deepEqual(
        [resent.state, resent.attempts, resent.nextAttemptAt, resent.deliveredAt],
        ['pending', 2, T0 + 300, null],
      );
    });

    test('listDeliveries: newest first, filtered by job, state and since, limited, per tenant', async (store) => {
      store.setOutboxBuilder(recordingBuilder().builder);
      const u = await userWithAccounts(store, { 'a@x.io': 8 });
      const other = await userWithAccounts(store, { 'a@x.io': 8 });
      const j1 = await reserveOk(store, u.id);
      await store.markRunning(j1.id, '1', T0, T0 + 1);
      await store.finish(j1.id, { state: 'completed' }, T0 + 2);
      const j2 = await reserveOk(store, u.id);
      await store.finish(j2.id, { state: 'failed' }, T0 + 3);
      const foreign = await reserveOk(store, other.id);
      await store.finish(foreign.id, { state: 'failed' }, T0 + 4);

      const all = await store.listDeliveries(u.id, { limit: 10 });
      assert.deepEqual(
        all.map((d) => [d.jobId, d.seq]),
        [
          [j2.id, 1],
          [j1.id, 2],
          [j1.id, 1],
        ],
      );
      assert.deepEqual(
        (await store.listDeliveries(u.id, { limit: 2 })).map((d) => d.id),
        all.slice(0, 2).map((d) => d.id),
      );
      assert.deepEqual(
        (await store.listDeliveries(u.id, { jobId: j1.id, limit: 10 })).map((d) => d.seq),
        [2, 1],
      );
      assert.deepEqual(
        (await store.listDeliveries(u.id, { since: T0 + 2, limit: 10 })).map((d) => d.createdAt),
        [T0 + 3, T0 + 2],
      );
      assert.deepEqual(await store.listDeliveries(u.id, { jobId: foreign.id, limit: 10 }), []);

      const [c] = await store.claimDueDeliveries('w', T0 + 10, 1000, 1);
      await store.recordAttempt(
        c!.id,
        c!.leaseToken!,
        { delivered: false, status: 500, error: 'HTTP 500', nextAttemptAt: null },
        T0 + 11,
      );
      assert.deepEqual(
        (await store.listDeliveries(u.id, { state: 'dead', limit: 10 })).map((d) => d.id),
        [c!.id],
      );
      assert.equal((await store.listDeliveries(u.id, { state: 'pending', limit: 10 })).length, 2);
      assert.deepEqual(await store.listDeliveries(u.id, { state: 'delivered', limit: 10 }), []);
      assert.deepEqual((await store.getDelivery(u.id, c!.id))!.id, c!.id);
    });
  });
}
