/**
 * Conformance for what the compatibility routes need from a store: untracking (the slot freed
 * exactly once, the job still followed to its end), hiding (DELETE /videos/{id}), the job lists of
 * GET /videos|images|music, and the capacity rule over each store's account loads. Called from
 * runStoreConformance, so it runs on every dialect.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job, JobType } from '../../src/domain/job.ts';
import { schedulerAvailable } from '../../src/scheduler/views.ts';
import { DurationEstimator } from '../../src/scheduler/durationEstimator.ts';
import { slotFreeTimes } from '../../src/scheduler/queueEstimate.ts';
import type { EnqueueInput, ReserveInput, Store, User } from '../../src/store/store.ts';
import type { StoreHandle } from './conformance.ts';

const T0 = 1_700_000_000_000;
const SECRET = 'whsec_c2VjcmV0LW9uZS1zZWNyZXQtb25lLTMyYnl0ZXM=';

async function tenant(store: Store, limits: Record<string, number>): Promise<User> {
  const user = await store.createUser('tenant', T0, SECRET);
  for (const [email, maxJobs] of Object.entries(limits)) {
    await store.upsertAccount({ userId: user.id, email, apiKeyEnc: `enc:${email}`, maxJobs, now: T0 });
  }
  return user;
}

function reserveInput(userId: number, over: Partial<ReserveInput> = {}): ReserveInput {
  return {
    provider: 'pixverse',
    userId,
    tokenId: null,
    email: null,
    maxJobsOverride: null,
    type: 'video',
    traceId: `t-${Math.random()}`,
    upstream: { op: 'video.text', params: { prompt: 'p' } },
    request: { prompt: 'p' },
    replyUrl: null,
    replyRef: null,
    now: T0,
    ...over,
  };
}

async function running(
  store: Store,
  userId: number,
  over: Partial<ReserveInput> = {},
  upstreamId?: string,
): Promise<Job> {
  const res = await store.reserve(reserveInput(userId, over));
  if (!res.ok) assert.fail(`reserve refused: ${res.reason}`);
  assert.ok(await store.markRunning(res.job.id, upstreamId ?? String(900_000 + res.job.id), T0 + 1000, T0));
  return (await store.getJob(res.job.id))!;
}

async function queued(store: Store, userId: number, over: Partial<EnqueueInput> = {}): Promise<Job> {
  const res = await store.enqueue(
    {
      provider: 'pixverse',
      userId,
      tokenId: null,
      email: null,
      maxJobsOverride: null,
      type: 'video',
      traceId: `q-${Math.random()}`,
      upstream: { op: 'video.text', params: { prompt: 'q' } },
      request: { prompt: 'q' },
      replyUrl: null,
      replyRef: null,
      priority: 0,
      now: T0,
      queueRank: T0,
      ...over,
    },
    1000,
  );
  if (!res.ok) assert.fail(`enqueue refused: ${res.reason}`);
  return res.job;
}

const loadOf = async (store: Store, userId: number, email: string) =>
  (await store.accountLoads(userId)).find((l) => l.account.email === email)?.executing;

export function runRecordsConformance(makeStore: () => Promise<StoreHandle>): void {
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

  describe('untrack, hide and job lists', () => {
    test('untrackJob frees the slot exactly once; the job stays running, polled, and can still complete', async (store) => {
      const u = await tenant(store, { 'a@x.io': 1 });
      const job = await running(store, u.id, { email: 'a@x.io' });
      assert.equal(await loadOf(store, u.id, 'a@x.io'), 1);
      const full = await store.reserve(reserveInput(u.id, { email: 'a@x.io' }));
      assert.equal(full.ok, false);

      const untracked = await store.untrackJob(job.id, T0 + 5, false);
      assert.ok(untracked);
      assert.equal(untracked.untrackedAt, T0 + 5);
      assert.equal(untracked.untrackCallback, false);
      assert.equal(untracked.state, 'running');
      assert.equal(await store.untrackJob(job.id, T0 + 6, true), null, 'a second untrack frees nothing');
      assert.equal(await loadOf(store, u.id, 'a@x.io'), 0);
      assert.deepEqual(await store.activeJobs(u.id), []);

      // The freed slot is usable at once, and the untracked job does not count against it.
      const next = await running(store, u.id, { email: 'a@x.io' });
      assert.equal(await loadOf(store, u.id, 'a@x.io'), 1);
      assert.deepEqual(
        (await store.activeJobs(u.id)).map((j) => j.id),
        [next.id],
      );

      // The backstop poll still claims it; its end is a normal compare-and-swap and frees nothing more.
      const claimed = await store.claimDuePolls('w', T0 + 2000, 30_000, 10);
      const mine = claimed.find((j) => j.id === job.id);
      assert.ok(mine, 'an untracked job is still polled');
      const done = await store.finish(
        job.id,
        { state: 'completed', resultUrl: 'https://m/x.mp4', upstreamStatus: 1 },
        T0 + 3000,
        { leaseToken: mine.leaseToken! },
      );
      assert.ok(done);
      assert.deepEqual(
        [done.state, done.resultUrl, done.untrackedAt],
        ['completed', 'https://m/x.mp4', T0 + 5],
      );
      assert.equal(await loadOf(store, u.id, 'a@x.io'), 1, 'only the other job holds the slot');
      assert.equal(await store.untrackJob(job.id, T0 + 4000, false), null, 'a final job cannot be untracked');
    });

    test('untrackJob keeps the callback flag, and refuses queued jobs', async (store) => {
      const u = await tenant(store, { 'a@x.io': 2 });
      const job = await running(store, u.id);
      assert.equal((await store.untrackJob(job.id, T0, true))?.untrackCallback, true);
      assert.equal((await store.getJob(job.id))?.untrackCallback, true);
      const waiting = await queued(store, u.id);
      assert.equal(await store.untrackJob(waiting.id, T0, false), null);
    });

    test('listJobs: newest first, by type and account, paged with a total; queued included; tenants apart', async (store) => {
      const u = await tenant(store, { 'a@x.io': 8, 'b@x.io': 8 });
      const other = await tenant(store, { 'a@x.io': 8 });
      const made: { id: number; type: JobType; email: string | null }[] = [];
      for (let i = 0; i < 3; i++)
        made.push({
          id: (await running(store, u.id, { email: 'a@x.io' })).id,
          type: 'video',
          email: 'a@x.io',
        });
      made.push({
        id: (await running(store, u.id, { email: 'b@x.io', type: 'image' })).id,
        type: 'image',
        email: 'b@x.io',
      });
      made.push({ id: (await running(store, u.id, { email: 'b@x.io' })).id, type: 'video', email: 'b@x.io' });
      made.push({ id: (await queued(store, u.id)).id, type: 'video', email: null });
      made.push({ id: (await queued(store, u.id, { email: 'b@x.io' })).id, type: 'video', email: 'b@x.io' });
      await running(store, other.id, { email: 'a@x.io' });
      // A submit that failed before PixVerse answered: the client never got its id.
      const res = await store.reserve(reserveInput(u.id, { email: 'a@x.io' }));
      assert.ok(res.ok);
      await store.finish(res.job.id, { state: 'failed', error: 'submit failed' }, T0, {
        from: ['submitting'],
      });

      const videos = made
        .filter((m) => m.type === 'video')
        .map((m) => m.id)
        .sort((a, b) => b - a);
      const page = await store.listJobs(u.id, { type: 'video', limit: 100, offset: 0 });
      assert.deepEqual(
        page.jobs.map((j) => j.id),
        videos,
      );
      assert.equal(page.total, videos.length);

      const paged = await store.listJobs(u.id, { type: 'video', limit: 2, offset: 2 });
      assert.deepEqual(
        paged.jobs.map((j) => j.id),
        videos.slice(2, 4),
      );
      assert.equal(paged.total, videos.length);
      assert.deepEqual((await store.listJobs(u.id, { type: 'video', limit: 10, offset: 50 })).jobs, []);

      const onB = await store.listJobs(u.id, { type: 'video', email: 'b@x.io', limit: 100, offset: 0 });
      assert.deepEqual(
        onB.jobs.map((j) => j.id),
        made
          .filter((m) => m.type === 'video' && m.email === 'b@x.io')
          .map((m) => m.id)
          .sort((a, b) => b - a),
      );
      assert.equal(onB.total, 2, 'a queued job pinned to b counts for b');

      const images = await store.listJobs(u.id, { type: 'image', limit: 100, offset: 0 });
      assert.deepEqual(
        images.jobs.map((j) => j.type),
        ['image'],
      );
      assert.equal((await store.listJobs(other.id, { type: 'video', limit: 100, offset: 0 })).total, 1);
      assert.equal((await store.listJobs(u.id, { type: 'music', limit: 100, offset: 0 })).total, 0);
    });

    test('hideJob hides once, from lists only (getJob still reads the row)', async (store) => {
      const u = await tenant(store, { 'a@x.io': 4 });
      const a = await running(store, u.id);
      const b = await running(store, u.id);
      const hidden = await store.hideJob(a.id, T0 + 9);
      assert.equal(hidden?.deletedAt, T0 + 9);
      assert.equal(hidden?.state, 'running');
      assert.equal(await store.hideJob(a.id, T0 + 10), null);
      assert.equal(await store.hideJob(987_654_321, T0), null);
      const page = await store.listJobs(u.id, { type: 'video', limit: 10, offset: 0 });
      assert.deepEqual(
        page.jobs.map((j) => j.id),
        [b.id],
      );
      assert.equal(page.total, 1);
      assert.equal((await store.getJob(a.id))?.deletedAt, T0 + 9);
    });

    test('capacity truth: accounts in error or cooling down show available 0 with state, reason and end', async (store) => {
      const u = await tenant(store, { 'ok@x.io': 3, 'err@x.io': 4, 'cool@x.io': 2, 'over@x.io': 2 });
      await running(store, u.id, { email: 'ok@x.io' });
      await running(store, u.id, { email: 'err@x.io' });
      await store.setAccountHealth(u.id, 'err@x.io', {
        state: 'error',
        reason: 'out of credits',
        cooldownUntil: null,
        now: T0,
      });
      await store.setAccountHealth(u.id, 'cool@x.io', {
        state: 'cooldown',
        reason: 'rate limited',
        cooldownUntil: T0 + 60_000,
        now: T0,
      });
      await store.setAccountHealth(u.id, 'over@x.io', {
        state: 'cooldown',
        reason: 'rate limited',
        cooldownUntil: T0 - 1,
        now: T0,
      });
      const view = await schedulerAvailable(store, u.id, T0 + 1000);
      const rows = Object.fromEntries(view.available.map((r) => [r.email, r]));
      assert.deepEqual(rows['ok@x.io'], {
        email: 'ok@x.io',
        maxJobs: 3,
        executing: 1,
        available: 2,
        state: 'ok',
      });
      assert.deepEqual(rows['err@x.io'], {
        email: 'err@x.io',
        maxJobs: 4,
        executing: 1,
        available: 0,
        state: 'error',
        reason: 'out of credits',
      });
      assert.deepEqual(rows['cool@x.io'], {
        email: 'cool@x.io',
        maxJobs: 2,
        executing: 0,
        available: 0,
        state: 'cooldown',
        reason: 'rate limited',
        cooldownUntil: new Date(T0 + 60_000).toISOString(),
      });
      assert.deepEqual(
        rows['over@x.io'],
        { email: 'over@x.io', maxJobs: 2, executing: 0, available: 2, state: 'ok' },
        'a cool-down that ended is over',
      );
      // The executing count stays the real one.
      assert.equal(view.executing.length, 2);
      // And the rule agrees with admission: a pinned create on a zero row is refused.
      for (const email of ['err@x.io', 'cool@x.io']) {
        const res = await store.reserve(reserveInput(u.id, { email, now: T0 + 1000 }));
        assert.equal(res.ok, false, email);
      }
      assert.equal(
        (await store.reserve(reserveInput(u.id, { email: 'over@x.io', now: T0 + 1000 }))).ok,
        true,
      );
    });

    test('capacity truth feeds the queue estimate: no slot from an account in error, none before a cool-down ends', async (store) => {
      const u = await tenant(store, { 'ok@x.io': 1, 'err@x.io': 3, 'cool@x.io': 2 });
      await store.setAccountHealth(u.id, 'err@x.io', {
        state: 'error',
        reason: 'bad key',
        cooldownUntil: null,
        now: T0,
      });
      await store.setAccountHealth(u.id, 'cool@x.io', {
        state: 'cooldown',
        reason: 'rate limited',
        cooldownUntil: T0 + 30_000,
        now: T0,
      });
      await running(store, u.id, { email: 'ok@x.io' });
      const ctx = { store, estimator: new DurationEstimator(10_000), now: () => T0 + 1000 };
      // ok@x.io: its one slot frees when its job is expected to end (started T0 + 10 s).
      assert.deepEqual(
        (await slotFreeTimes(ctx, u.id)).sort((a, b) => a - b),
        [T0 + 10_000, T0 + 30_000, T0 + 30_000],
      );
      assert.deepEqual(await slotFreeTimes(ctx, u.id, 'err@x.io'), []);
      assert.deepEqual(await slotFreeTimes(ctx, u.id, 'cool@x.io'), [T0 + 30_000, T0 + 30_000]);
    });
  });
}
