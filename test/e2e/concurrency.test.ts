/**
 * End to end over real HTTP: simulator + gateway, three accounts with maxJobs 1, 2, 3 and
 * simulator limits equal to them, 30 concurrent creates. The simulator counts any create
 * that arrives while a key is at its limit, so a gateway that overbooks fails here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addAccount, call, createTenant, startHarness, waitFor, type Harness } from '../helpers/harness.ts';

const ACCOUNTS = [
  { email: 'one@example.com', key: 'sim-key-one-000001', maxJobs: 1 },
  { email: 'two@example.com', key: 'sim-key-two-000002', maxJobs: 2 },
  { email: 'three@example.com', key: 'sim-key-three-0003', maxJobs: 3 },
];

describe('30 concurrent creates over 3 accounts (maxJobs 1, 2, 3)', () => {
  let h: Harness;
  let token: string;

  before(async () => {
    h = await startHarness({
      simulator: {
        keyLimits: Object.fromEntries(ACCOUNTS.map((a) => [a.key, a.maxJobs])),
        durationMs: { min: 200, max: 600 },
      },
    });
    ({ token } = await createTenant(h));
    for (const a of ACCOUNTS) await addAccount(h, token, a.email, a.key, a.maxJobs);
  });
  after(() => h.close());

  it('never overbooks, answers 429 with Retry-After, finishes every job and frees every slot', async () => {
    const samples: {
      executing: { id: string }[];
      available: { email: string; maxJobs: number; executing: number; available: number }[];
    }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const res = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler/available', token);
        assert.equal(res.status, 200);
        samples.push(res.body);
        await new Promise((r) => setTimeout(r, 15));
      }
    })();

    const creates = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
          prompt: `job ${i}`,
          replyRef: `ref-${i}`,
        }),
      ),
    );
    const accepted = creates.filter((r) => r.status === 200).map((r) => r.body.video_id as string);
    const refused = creates.filter((r) => r.status !== 200);
    assert.ok(accepted.length >= 6, `at least the 6 slots are used, got ${accepted.length}`);
    for (const r of refused) {
      assert.equal(r.status, 429, JSON.stringify(r.body));
      assert.equal(r.body.code, 429);
      assert.match(String(r.headers.get('retry-after')), /^\d+$/);
    }

    // Keep submitting while slots turn over, so the limits are exercised for a while.
    const more: string[] = [];
    const deadline = Date.now() + 2500;
    while (Date.now() < deadline) {
      const burst = await Promise.all(
        Array.from({ length: 6 }, () =>
          call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, { prompt: 'more' }),
        ),
      );
      for (const r of burst) {
        if (r.status === 200) more.push(r.body.video_id);
        else assert.equal(r.status, 429);
      }
      await new Promise((r) => setTimeout(r, 40));
    }
    const all = [...accepted, ...more];

    for (const id of all) {
      await waitFor(async () => {
        const res = await call(h.gw.url, 'GET', `/v2/pixverse/videos/${encodeURIComponent(id)}`, token);
        return res.body.video_status_final === true ? res : null;
      });
    }
    sampling = false;
    await sampler;

    const stats = h.sim.stats();
    for (const a of ACCOUNTS) {
      const key = stats.keys[a.key];
      assert.ok(key, `simulator saw key ${a.key}`);
      assert.equal(key.violations, 0, `no create hit ${a.email} at its limit`);
      assert.ok(key.peak <= a.maxJobs, `peak ${key.peak} ≤ ${a.maxJobs} for ${a.email}`);
    }
    assert.equal(stats.totals.created, all.length, 'every accepted job was created upstream exactly once');

    assert.ok(samples.length > 5);
    for (const sample of samples) {
      const perEmail = new Map<string, number>();
      for (const item of sample.executing) {
        const email = /-pixverse:(.+)-video:/.exec(item.id)![1]!;
        perEmail.set(email, (perEmail.get(email) ?? 0) + 1);
      }
      for (const row of sample.available) {
        const limit = ACCOUNTS.find((a) => a.email === row.email)!.maxJobs;
        assert.equal(row.maxJobs, limit);
        assert.ok(row.executing <= row.maxJobs, `executing ${row.executing} ≤ maxJobs ${row.maxJobs}`);
        assert.equal(row.available, row.maxJobs - row.executing);
        assert.equal(row.executing, perEmail.get(row.email) ?? 0, 'counts agree with the executing list');
      }
    }

    const final = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler/available', token);
    assert.deepEqual(final.body.executing, []);
    for (const row of final.body.available) assert.equal(row.available, row.maxJobs);
    const list = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler', token);
    assert.deepEqual(list.body, []);
  });
});
