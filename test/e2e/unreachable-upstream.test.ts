/**
 * A queued job whose submit cannot reach PixVerse at all (connection refused: nothing was sent, so
 * nothing can exist upstream) goes back to the queue and runs once PixVerse is reachable again,
 * instead of failing with 502: the client chose to wait.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startSimulator } from '../../src/providers/pixverse/simulator/index.ts';
import { call, waitFor } from '../helpers/harness.ts';
import { secrets, startChild } from '../proof/lib/gateways.ts';

/** A forwarder whose port can stop listening (connections refused) and listen again. */
async function refusingProxy(
  targetPort: number,
): Promise<{ port: number; stop(): Promise<void>; start(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const start = async () => {
    server = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  };
  const stop = async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  };
  await start();
  return { port, stop, start };
}

describe('queued job while PixVerse is unreachable', () => {
  it('waits in the queue and completes once PixVerse answers again', async () => {
    const sim = await startSimulator({ durationMs: { min: 300, max: 300 }, seed: 5 });
    const proxy = await refusingProxy(Number(new URL(sim.url).port));
    const dataDir = mkdtempSync(join(tmpdir(), 'pixgate-unreach-'));
    const keys = secrets();
    const gw = await startChild({ upstream: `http://127.0.0.1:${proxy.port}`, dataDir, ...keys });
    try {
      const user = await call(gw.url, 'POST', '/admin/users', keys.adminToken, { name: 'unreachable' });
      const token: string = user.body.token;
      const acct = await call(gw.url, 'POST', '/v2/pixverse/accounts/a@example.com', token, {
        email: 'a@example.com',
        apiKey: 'sim-key-unreach',
        maxJobs: 1,
      });
      assert.equal(acct.status, 201, JSON.stringify(acct.body));
      await proxy.stop();
      const created = await call(gw.url, 'POST', '/v2/pixverse/videos/create', token, {
        prompt: 'waits for PixVerse',
        queue: true,
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const id: string = created.body.video_id;
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const during = await call(gw.url, 'GET', `/v2/pixverse/videos/${encodeURIComponent(id)}`, token);
      assert.equal(during.body.video_status_final, false, `still waiting: ${JSON.stringify(during.body)}`);
      assert.equal(sim.stats().totals.created, 0);
      await proxy.start();
      const done = await waitFor(
        async () => {
          const res = await call(gw.url, 'GET', `/v2/pixverse/videos/${encodeURIComponent(id)}`, token);
          return res.body?.video_status_final ? res.body : null;
        },
        30_000,
        200,
      );
      assert.equal(done.video_status_name, 'COMPLETED', JSON.stringify(done));
      assert.equal(sim.stats().totals.created, 1);
    } finally {
      await gw.kill('SIGKILL');
      await proxy.stop();
      await sim.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
