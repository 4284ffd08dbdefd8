/**
 * A job the gateway times out while the provider may still run it keeps its slot until
 * releaseHeldSlot (the provider ended it, or the hold's cap passed): admission, dispatch and the
 * account loads all see the key as busy, and the slot is freed exactly once.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import {
  roleTests,
  T0,
  userWithAccounts,
  reserveOk,
  runningJob,
  enqueueOk,
  loadsByEmail,
  reserveInput,
  type StoreHandle,
} from './harness.ts';

export function runHeldSlotsConformance(makeStore: () => Promise<StoreHandle>): void {
  const { test } = roleTests(makeStore);
  describe('held slots of timed-out jobs', () => {
    test('a timed-out running job holds its slot until released, once', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1 });
      const run = await runningJob(store, u.id, 'a@x.io', T0 + 10);
      const expired = await store.expireJobs(T0 + 1000, T0 + 2000, 'timed out', T0 + 9000);
      assert.deepEqual(
        expired.map((j) => [j.id, j.state]),
        [[run.id, 'timed_out']],
      );
      // The client sees it ended; the key is still busy.
      assert.equal((await store.getJob(run.id))!.state, 'timed_out');
      assert.deepEqual(await store.activeJobs(u.id), []);
      assert.equal((await loadsByEmail(store, u.id)).get('a@x.io'), 1);
      const refused = await store.reserve(reserveInput(u.id, { now: T0 + 2001 }));
      assert.equal(refused.ok, false);
      const queued = await enqueueOk(store, u.id, { now: T0 + 2002 });
      assert.equal(await store.dispatch(u.id, T0 + 2003), null);

      const held = await store.heldSlots(10);
      assert.deepEqual(
        held.map((h) => [h.job.id, h.heldUntil]),
        [[run.id, T0 + 9000]],
      );
      // An untrack does not touch a held slot (it is no longer in flight for the client).
      assert.equal(await store.untrackJob(run.id, T0 + 2004, false), null);

      const released = await store.releaseHeldSlot(run.id);
      assert.equal(released?.id, run.id);
      assert.equal(released?.state, 'timed_out');
      assert.equal(await store.releaseHeldSlot(run.id), null, 'freed exactly once');
      assert.deepEqual(await store.heldSlots(10), []);
      assert.equal((await loadsByEmail(store, u.id)).get('a@x.io'), 0);
      const dispatched = await store.dispatch(u.id, T0 + 2005);
      assert.equal(dispatched?.job.id, queued.id);
    });

    test('a submit the provider never confirmed frees its slot at the timeout', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1 });
      const sub = await reserveOk(store, u.id, { now: T0 });
      const expired = await store.expireJobs(T0 + 1000, T0 + 2000, 'timed out', T0 + 9000);
      assert.deepEqual(
        expired.map((j) => j.id),
        [sub.id],
      );
      assert.deepEqual(await store.heldSlots(10), []);
      assert.equal((await loadsByEmail(store, u.id)).get('a@x.io'), 0);
      assert.ok((await store.reserve(reserveInput(u.id, { now: T0 + 2001 }))).ok);
    });

    test('without a hold, expireJobs frees the slot at once', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1 });
      await runningJob(store, u.id, 'a@x.io', T0 + 10);
      await store.expireJobs(T0 + 1000, T0 + 2000, 'timed out');
      assert.deepEqual(await store.heldSlots(10), []);
      assert.equal((await loadsByEmail(store, u.id)).get('a@x.io'), 0);
    });

    test('deleting the account ends its holds, so a re-added account starts free', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1 });
      const run = await runningJob(store, u.id, 'a@x.io', T0 + 10);
      await store.expireJobs(T0 + 1000, T0 + 2000, 'timed out', T0 + 9000);
      assert.ok(await store.deleteAccount(u.id, 'a@x.io', T0 + 3000));
      assert.deepEqual(await store.heldSlots(10), []);
      assert.equal(await store.releaseHeldSlot(run.id), null);
      await store.upsertAccount({
        userId: u.id,
        email: 'a@x.io',
        apiKeyEnc: 'enc:a',
        maxJobs: 1,
        now: T0 + 4000,
      });
      assert.equal((await loadsByEmail(store, u.id)).get('a@x.io'), 0);
      assert.ok((await store.reserve(reserveInput(u.id, { now: T0 + 4001 }))).ok);
    });
  });
}
