/**
 * Health probes over real HTTP: /healthz and /health while the process runs; /readyz while the
 * store answers with every migration applied, and 503 while draining (before the instance stops
 * accepting).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { call, startHarness, waitFor } from '../helpers/harness.ts';

describe('health probes', () => {
  it('answers /healthz, /health and /readyz on a running gateway', async () => {
    const h = await startHarness();
    try {
      assert.deepEqual((await call(h.gw.url, 'GET', '/healthz', null)).body, { status: 'ok' });
      assert.deepEqual((await call(h.gw.url, 'GET', '/health', null)).body, { ok: true });
      const ready = await call(h.gw.url, 'GET', '/readyz', null);
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.body, { status: 'ready' });
    } finally {
      await h.close();
    }
  });

  it('fails readiness while draining on shutdown, still alive and serving until it stops accepting', async () => {
    const h = await startHarness({ config: { drainDelayMs: 1500 } });
    const url = h.gw.url;
    const closing = h.close();
    try {
      const draining = await waitFor(
        async () => {
          const res = await call(url, 'GET', '/readyz', null);
          return res.status === 503 ? res : null;
        },
        1200,
        20,
      );
      assert.equal(draining.body.code, 503);
      assert.match(draining.body.error, /draining/);
      assert.equal((await call(url, 'GET', '/healthz', null)).status, 200, 'alive while draining');
    } finally {
      await closing;
    }
    await assert.rejects(fetch(`${url}/healthz`), 'stopped accepting after the drain delay');
  });
});
