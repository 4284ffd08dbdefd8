/** Account health over real HTTP: upstream error classes change account state and routing. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addAccount, call, createTenant, startHarness, waitFor, type Harness } from '../helpers/harness.ts';

describe('account health', () => {
  let h: Harness;
  let token: string;

  before(async () => {
    h = await startHarness({
      simulator: { maxConcurrent: 3 },
      tuning: { creditCheckEveryMs: 200, concurrencyBackoffMs: 1500 },
    });
    ({ token } = await createTenant(h, 'health'));
    await addAccount(h, token, 'rich@example.com', 'sim-key-health-rich', 3);
    await addAccount(h, token, 'poor@example.com', 'sim-key-health-poor', 3);
  });
  after(() => h.close());

  const sim = (key: string, body: unknown) => call(h.sim.url, 'POST', `/_sim/keys/${key}`, null, body);
  const row = async (email: string) => {
    const res = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler/available', token);
    return res.body.available.find((r: { email: string }) => r.email === email);
  };

  it('parks an account that runs out of credits (412), routes around it, and unparks it when credits return', async () => {
    assert.equal((await sim('sim-key-health-poor', { creditMonthly: 0, creditPackage: 0 })).status, 200);
    const pinned = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
      prompt: 'broke',
      email: 'poor@example.com',
    });
    assert.equal(pinned.status, 412, JSON.stringify(pinned.body));
    const parked = await row('poor@example.com');
    assert.equal(parked.state, 'error');
    assert.equal(parked.reason, 'out of credits');
    const again = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
      prompt: 'pinned again',
      email: 'poor@example.com',
    });
    assert.equal(again.status, 596, 'a parked account answers 596 until it recovers or is re-posted');
    for (let i = 0; i < 3; i++) {
      const res = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
        prompt: `routed ${i}`,
      });
      assert.equal(res.status, 200);
      assert.match(res.body.video_id, /rich@example\.com/, 'unpinned work avoids the parked account');
    }
    assert.equal((await sim('sim-key-health-poor', { creditMonthly: 5000 })).status, 200);
    await waitFor(async () => (await row('poor@example.com')).state === 'ok', 10_000);
    const back = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
      prompt: 'solvent',
      email: 'poor@example.com',
    });
    assert.equal(back.status, 200, JSON.stringify(back.body));
  });

  it('backs off an account whose PixVerse slots are used elsewhere (500044) and sends the job to another', async () => {
    await waitFor(
      async () => (await call(h.gw.url, 'GET', '/v2/pixverse/scheduler', token)).body.length === 0,
      10_000,
    );
    // Someone else uses the account's slots: PixVerse allows it one job, we believe it has three.
    h.sim.setKeyLimit('sim-key-health-rich', 1);
    try {
      const first = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
        prompt: 'takes the one slot #sim:duration=2000',
        email: 'rich@example.com',
      });
      assert.equal(first.status, 200);
      const pinned = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
        prompt: 'no room upstream',
        email: 'rich@example.com',
      });
      assert.equal(pinned.status, 429);
      assert.match(String(pinned.headers.get('retry-after')), /^\d+$/);
      const cooling = await row('rich@example.com');
      assert.equal(cooling.state, 'cooldown');
      assert.match(cooling.reason, /500044/);
      assert.ok(Date.parse(cooling.cooldownUntil) > Date.now());
      const unpinned = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
        prompt: 'goes elsewhere',
      });
      assert.equal(unpinned.status, 200);
      assert.match(unpinned.body.video_id, /poor@example\.com/);
    } finally {
      h.sim.setKeyLimit('sim-key-health-rich', 3);
    }
  });
});
