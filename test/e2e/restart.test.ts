/** Running jobs survive a gateway restart on the same data dir and still complete. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addAccount, call, createTenant, startHarness, waitFor, type Harness } from '../helpers/harness.ts';

describe('restart', () => {
  let h: Harness;
  let token: string;

  before(async () => {
    h = await startHarness({ simulator: { maxConcurrent: 4 } });
    ({ token } = await createTenant(h));
    await addAccount(h, token, 'a@example.com', 'sim-key-restart-a', 4);
    await addAccount(h, token, 'b@example.com', 'sim-key-restart-b', 4);
  });
  after(() => h.close());

  it('completes every job that was running when the gateway stopped', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
        prompt: `survivor ${i} #sim:duration=1200`,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      ids.push(res.body.video_id);
    }
    const before = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler', token);
    assert.equal(before.body.length, 8);

    await h.restart();

    const afterRestart = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler', token);
    assert.deepEqual(
      afterRestart.body.map((i: { id: string }) => i.id).sort(),
      [...ids].sort(),
      'the new process still tracks every job',
    );
    for (const id of ids) {
      const done = await waitFor(async () => {
        const res = await call(h.gw.url, 'GET', `/v2/pixverse/videos/${id}`, token);
        return res.body.video_status_final ? res.body : null;
      });
      assert.equal(done.video_status_name, 'COMPLETED');
      assert.ok(String(done.url).startsWith(`${h.sim.url}/media/video/`), done.url);
    }
    const available = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler/available', token);
    assert.deepEqual(available.body.executing, []);
    assert.equal(h.sim.stats().totals.created, 8, 'nothing was submitted twice');
  });
});
