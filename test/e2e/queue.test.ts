/** The late-binding queue over real HTTP: waiting instead of 429, fairness, bounds, restarts. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  addAccount,
  call,
  createTenant,
  sleep,
  startHarness,
  waitFor,
  type Harness,
} from '../helpers/harness.ts';

const ACCOUNTS = [
  { email: 'q1@example.com', key: 'sim-key-queue-0001', maxJobs: 1 },
  { email: 'q2@example.com', key: 'sim-key-queue-0002', maxJobs: 2 },
  { email: 'q3@example.com', key: 'sim-key-queue-0003', maxJobs: 3 },
];
const SLOTS = 6;

describe('queue', () => {
  let h: Harness;
  let token: string;
  let userId: number;

  before(async () => {
    h = await startHarness({
      simulator: {
        keyLimits: Object.fromEntries(ACCOUNTS.map((a) => [a.key, a.maxJobs])),
        durationMs: { min: 150, max: 300 },
      },
    });
    ({ token, userId } = await createTenant(h, 'queue'));
    for (const a of ACCOUNTS) await addAccount(h, token, a.email, a.key, a.maxJobs);
  });
  after(() => h.close());

  const create = (body: Record<string, unknown>, as = token) =>
    call(h.gw.url, 'POST', '/v2/pixverse/videos/create', as, { queue: true, ...body });
  const view = async (id: string) =>
    (await call(h.gw.url, 'GET', `/v2/pixverse/videos/${encodeURIComponent(id)}`, token)).body;
  const allFinal = (ids: string[], timeoutMs = 60_000) =>
    waitFor(
      async () => {
        const views = await Promise.all(ids.map(view));
        return views.every((v) => v.video_status_final) ? views : null;
      },
      timeoutMs,
      100,
    );
  const admin = (method: string, path: string, body?: unknown) =>
    call(h.gw.url, method, path, h.gw.adminToken, body);

  it('runs a burst larger than capacity with every slot kept busy and no account above maxJobs', async () => {
    const samples: { executing: number; queued: number }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const res = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler/available', token);
        for (const row of res.body.available) assert.ok(row.executing <= row.maxJobs);
        samples.push({ executing: res.body.executing.length, queued: res.body.queuedCount });
        await sleep(10);
      }
    })();
    const created = await Promise.all(Array.from({ length: 48 }, (_, i) => create({ prompt: `burst ${i}` })));
    for (const res of created) {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.match(
        res.body.video_id,
        new RegExp(`^user:${userId}-pixverse:queue-video:q\\d+$`),
        'queued ids keep the useapi shape',
      );
    }
    const views = await allFinal(created.map((r) => r.body.video_id));
    sampling = false;
    await sampler;
    assert.ok(views.every((v) => v.video_status_name === 'COMPLETED'));
    assert.ok(
      views.every((v) => ACCOUNTS.some((a) => a.email === v.email) && /^\d+$/.test(v.upstream_id)),
      'dispatched jobs show their account and upstream id',
    );
    const stats = h.sim.stats();
    for (const a of ACCOUNTS) assert.equal(stats.keys[a.key]!.violations, 0);
    for (const a of ACCOUNTS) assert.ok(stats.keys[a.key]!.peak <= a.maxJobs);
    const waiting = samples.filter((s) => s.queued > 0);
    assert.ok(waiting.length >= 5, 'sampled while jobs were waiting');
    const full = waiting.filter((s) => s.executing === SLOTS).length;
    assert.ok(
      full / waiting.length >= 0.8,
      `slots were full in ${full} of ${waiting.length} samples while work waited`,
    );
  });

  it('shows position and ETA for a queued job, and DELETE /scheduler removes it', async () => {
    const blockers = await Promise.all(
      Array.from({ length: SLOTS }, () => create({ prompt: 'hold #sim:duration=1500' })),
    );
    const waiting = await create({ prompt: 'waiting' });
    const queued = await view(waiting.body.video_id);
    assert.equal(queued.video_status_name, 'QUEUED');
    assert.equal(queued.queue_position, 1);
    assert.ok(Date.parse(queued.queue_eta) > Date.now() - 1000);
    const available = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler/available', token);
    assert.equal(available.body.queuedCount, 1);
    assert.equal(available.body.queued[0].id, waiting.body.video_id);
    const del = await call(h.gw.url, 'DELETE', `/v2/pixverse/scheduler/${waiting.body.video_id}`, token);
    assert.equal(del.status, 204);
    assert.equal((await view(waiting.body.video_id)).state, 'cancelled');
    await allFinal(blockers.map((r) => r.body.video_id));
  });

  it('serves two tokens fairly when one floods the queue', async () => {
    const second = await admin('POST', `/admin/users/${userId}/tokens`, { label: 'second' });
    assert.equal(second.status, 201);
    const flood = await Promise.all(Array.from({ length: 60 }, (_, i) => create({ prompt: `flood ${i}` })));
    await sleep(50);
    const fair = await Promise.all(
      Array.from({ length: 6 }, (_, i) => create({ prompt: `fair ${i}` }, second.body.token)),
    );
    const floodViews = await allFinal(flood.map((r) => r.body.video_id));
    const fairViews = await allFinal(fair.map((r) => r.body.video_id));
    const submittedAt = Math.min(...fairViews.map((v) => Date.parse(v.created_at)));
    const lastFair = Math.max(...fairViews.map((v) => Date.parse(v.started)));
    // Flood jobs that started after the second token arrived and before its last job started:
    // with equal weights the second token's 6 jobs alternate with about 6 of the flood's.
    const interleaved = floodViews.filter(
      (v) => Date.parse(v.started) > submittedAt && Date.parse(v.started) < lastFair,
    ).length;
    assert.ok(interleaved <= 12, `the second token waited behind ${interleaved} flood jobs (fair share ≈ 6)`);
    const floodLeft = floodViews.filter((v) => Date.parse(v.started) > lastFair).length;
    assert.ok(floodLeft > 20, `the flood still had ${floodLeft} jobs waiting when the second token was done`);
  });

  it('keeps pinned jobs on their account while unpinned ones use any', async () => {
    const pinned = await Promise.all(
      Array.from({ length: 5 }, (_, i) => create({ prompt: `pinned ${i}`, email: 'q1@example.com' })),
    );
    for (const res of pinned) assert.match(res.body.video_id, /-pixverse:q1@example\.com-video:q\d+$/);
    const free = await Promise.all(Array.from({ length: 20 }, (_, i) => create({ prompt: `free ${i}` })));
    const pinnedViews = await allFinal(pinned.map((r) => r.body.video_id));
    const freeViews = await allFinal(free.map((r) => r.body.video_id));
    assert.ok(pinnedViews.every((v) => v.email === 'q1@example.com' && v.video_status_name === 'COMPLETED'));
    assert.ok(new Set(freeViews.map((v) => v.email)).size >= 2, 'unpinned jobs spread over accounts');
    assert.equal(h.sim.stats().keys['sim-key-queue-0001']!.violations, 0);
  });

  it('answers 429 with Retry-After when the queue is full, and times out jobs that wait too long', async () => {
    assert.equal(
      (await admin('PATCH', `/admin/users/${userId}`, { maxQueueLength: 3, maxQueueWaitSeconds: 1 })).status,
      200,
    );
    try {
      const blockers = await Promise.all(
        Array.from({ length: SLOTS }, () => create({ prompt: 'hold #sim:duration=2500' })),
      );
      await waitFor(
        async () => (await call(h.gw.url, 'GET', '/v2/pixverse/scheduler', token)).body.length === SLOTS,
      );
      const queued = await Promise.all(Array.from({ length: 3 }, () => create({ prompt: 'waits' })));
      for (const res of queued) assert.equal(res.status, 200);
      const refused = await create({ prompt: 'one too many' });
      assert.equal(refused.status, 429);
      assert.match(String(refused.headers.get('retry-after')), /^\d+$/);
      const timedOut = await allFinal(
        queued.map((r) => r.body.video_id),
        10_000,
      );
      for (const v of timedOut) {
        assert.equal(v.state, 'timed_out');
        assert.match(v.error, /queue/);
      }
      await allFinal(blockers.map((r) => r.body.video_id));
    } finally {
      await admin('PATCH', `/admin/users/${userId}`, { maxQueueLength: 100000, maxQueueWaitSeconds: 3600 });
    }
  });

  it('keeps a full queue across a restart and runs all of it', async () => {
    const ids = (
      await Promise.all(Array.from({ length: 30 }, (_, i) => create({ prompt: `persist ${i}` })))
    ).map((r) => r.body.video_id);
    await h.restart();
    const views = await allFinal(ids);
    assert.ok(views.every((v) => v.video_status_name === 'COMPLETED'));
    const available = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler/available', token);
    assert.equal(available.body.queuedCount, 0);
    assert.deepEqual(available.body.executing, []);
  });
});
