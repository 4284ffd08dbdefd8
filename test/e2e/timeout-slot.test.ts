/**
 * A job the gateway times out keeps its account slot while PixVerse may still run it: the client
 * sees `timed_out` at the job timeout, but the key's capacity comes back only when the simulator
 * ends the job (or, if it never does, when the hold's cap passes).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addAccount, call, createTenant, startHarness, waitFor, type Harness } from '../helpers/harness.ts';

const JOB_TIMEOUT_MS = 1500;
const STUCK_RELEASE_MS = 3000;

describe('slot of a gateway-timed-out job', () => {
  let h: Harness;
  let token: string;

  before(async () => {
    h = await startHarness({
      config: { jobTimeoutMs: JOB_TIMEOUT_MS, upstreamTimeoutMs: 700 },
      simulator: { maxConcurrent: 5, stuckReleaseMs: STUCK_RELEASE_MS },
    });
    ({ token } = await createTenant(h));
    await addAccount(h, token, 'held@example.com', 'sim-key-held-slot', 2);
  });
  after(() => h.close());

  const available = async () => {
    const res = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler/available', token);
    return res.body.available[0].available as number;
  };
  const finalOf = (id: string) =>
    waitFor(async () => {
      const res = await call(h.gw.url, 'GET', `/v2/pixverse/videos/${id}`, token);
      return res.body.video_status_final ? res.body : null;
    });

  it('is held until the simulator ends the job, then freed', async () => {
    const createdAt = Date.now();
    const res = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
      prompt: 'forever #sim:stuck',
    });
    assert.equal(res.status, 200);
    const done = await finalOf(res.body.video_id);
    const sawTimeoutAfter = Date.now() - createdAt;
    assert.equal(done.state, 'timed_out');
    assert.match(done.error, /timed out/);
    assert.ok(
      sawTimeoutAfter < STUCK_RELEASE_MS,
      `timed out after ${sawTimeoutAfter} ms, before the upstream ended`,
    );

    // Still running upstream: not executing for the client, but the key's slot stays taken.
    const view = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler/available', token);
    assert.equal(view.body.executing.length, 0);
    assert.equal(view.body.available[0].available, 1);

    await waitFor(async () => (await available()) === 2, 15_000);
    const freedAfter = Date.now() - createdAt;
    assert.ok(
      freedAfter >= STUCK_RELEASE_MS,
      `freed after ${freedAfter} ms, not before the simulator ended the job`,
    );
  });

  it('is freed after the hold cap when the upstream never ends the job', async () => {
    const createdAt = Date.now();
    const res = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
      prompt: 'very long #sim:duration=120s',
    });
    assert.equal(res.status, 200);
    assert.equal((await finalOf(res.body.video_id)).state, 'timed_out');
    assert.equal(await available(), 1);
    // The cap: one more job timeout after the timeout (twice the timeout since the job started).
    await waitFor(async () => (await available()) === 2, 15_000);
    const freedAfter = Date.now() - createdAt;
    assert.ok(freedAfter >= 2 * JOB_TIMEOUT_MS, `freed after ${freedAfter} ms, not before the cap`);
    assert.ok(freedAfter < 120_000);
  });
});
