/**
 * Store conformance for the metrics snapshot and the readiness check: both dialects must report the
 * same cluster-wide aggregates (every tenant) for the same history. Called from sqlite.test.ts and
 * postgres.test.ts with the same fresh-store factory as the main conformance suite.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReserveInput, Store, StoreSnapshot } from '../../src/store/store.ts';
import type { StoreHandle } from './conformance.ts';

const T0 = 1_700_000_000_000;

function reserveInput(userId: number, email: string): ReserveInput {
  return {
    provider: 'pixverse',
    userId,
    tokenId: null,
    email,
    maxJobsOverride: null,
    type: 'video',
    traceId: `trace-${Math.random().toString(36).slice(2)}`,
    upstream: { op: 'video.text', params: { prompt: 'a cat' } },
    request: { prompt: 'a cat' },
    replyUrl: null,
    replyRef: null,
    now: T0,
  };
}

async function reserve(
  store: Store,
  userId: number,
  email: string,
  type: ReserveInput['type'] = 'video',
): Promise<number> {
  const result = await store.reserve({ ...reserveInput(userId, email), type });
  if (!result.ok) assert.fail(`expected a reservation, got ${result.reason}`);
  return result.job.id;
}

/** Sorted, so the comparison does not depend on the order the dialect returns rows in. */
function normalized(s: StoreSnapshot) {
  const key = (o: object) => JSON.stringify(o);
  return {
    accounts: [...s.accounts].sort((a, b) => key(a).localeCompare(key(b))),
    liveJobs: [...s.liveJobs].sort((a, b) => key(a).localeCompare(key(b))),
    deliveries: s.deliveries,
  };
}

export function runSnapshotConformance(name: string, makeStore: () => Promise<StoreHandle>): void {
  const test = (title: string, body: (store: Store) => Promise<void>) =>
    it(title, async () => {
      const { store, cleanup } = await makeStore();
      let failed = true;
      try {
        await body(store);
        failed = false;
      } finally {
        await cleanup(failed);
      }
    });

  describe(`Store conformance (metrics snapshot): ${name}`, () => {
    test('a migrated store has no pending migrations', async (store) => {
      assert.equal(await store.pendingMigrations(), 0);
    });

    test('an empty store reports nothing live', async (store) => {
      assert.deepEqual(await store.snapshot(), {
        accounts: [],
        liveJobs: [],
        deliveries: { pending: 0, dead: 0, oldestPendingCreatedAt: null },
      });
    });

    test('counts slots, live jobs and deliveries across every tenant, never finished history', async (store) => {
      store.setOutboxBuilder((job) => ({
        url: `https://hook.example/${job.id}`,
        body: JSON.stringify({ id: job.id, state: job.state }),
      }));
      const a = await store.createUser('a', T0, 'whsec_a');
      const b = await store.createUser('b', T0, 'whsec_b');
      await store.upsertAccount({ userId: a.id, email: 'one@x.io', apiKeyEnc: 'k', maxJobs: 3, now: T0 });
      await store.upsertAccount({ userId: a.id, email: 'two@x.io', apiKeyEnc: 'k', maxJobs: 2, now: T0 });
      await store.upsertAccount({ userId: b.id, email: 'one@x.io', apiKeyEnc: 'k', maxJobs: 1, now: T0 });
      await store.setAccountHealth(a.id, 'two@x.io', {
        state: 'cooldown',
        reason: 'rate limit',
        cooldownUntil: T0 + 60_000,
        now: T0,
      });

      const running = await reserve(store, a.id, 'one@x.io');
      assert.ok(await store.markRunning(running, '1001', T0 + 100, T0 + 1));
      await reserve(store, a.id, 'one@x.io', 'image'); // submitting
      const done = await reserve(store, b.id, 'one@x.io');
      assert.ok(await store.finish(done, { state: 'completed', resultUrl: 'https://cdn/x' }, T0 + 2));
      const queued = await store.enqueue(
        { ...reserveInput(b.id, 'one@x.io'), email: null, priority: 0, queueRank: T0 },
        100,
      );
      assert.ok(queued.ok);

      const snap = normalized(await store.snapshot());
      assert.deepEqual(
        snap.accounts,
        normalized({
          accounts: [
            { userId: a.id, email: 'one@x.io', maxJobs: 3, executing: 2, state: 'ok' },
            { userId: a.id, email: 'two@x.io', maxJobs: 2, executing: 0, state: 'cooldown' },
            { userId: b.id, email: 'one@x.io', maxJobs: 1, executing: 0, state: 'ok' },
          ],
          liveJobs: [],
          deliveries: snap.deliveries,
        }).accounts,
      );
      assert.deepEqual(
        snap.liveJobs,
        normalized({
          accounts: [],
          liveJobs: [
            { userId: a.id, state: 'running', type: 'video', email: 'one@x.io', count: 1 },
            { userId: a.id, state: 'submitting', type: 'image', email: 'one@x.io', count: 1 },
            { userId: b.id, state: 'queued', type: 'video', email: null, count: 1 },
          ],
          deliveries: snap.deliveries,
        }).liveJobs,
      );
      // markRunning wrote a progress delivery at T0+1, finish a final one at T0+2: both pending.
      assert.deepEqual(snap.deliveries, { pending: 2, dead: 0, oldestPendingCreatedAt: T0 + 1 });

      const [first] = await store.claimDueDeliveries('me', T0 + 10, 30_000, 10);
      assert.ok(first);
      assert.equal(
        await store.recordAttempt(
          first.id,
          first.leaseToken!,
          { delivered: false, status: 500, error: 'HTTP 500', nextAttemptAt: null },
          T0 + 11,
        ),
        true,
      );
      const after = await store.snapshot();
      assert.equal(after.deliveries.dead, 1);
      assert.equal(after.deliveries.pending, 1);
      assert.equal(after.deliveries.oldestPendingCreatedAt, first.createdAt === T0 + 1 ? T0 + 2 : T0 + 1);
    });
  });
}
