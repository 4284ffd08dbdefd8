/**
 * A gateway killed (-9) while a create is in flight leaves the job `submitting`. The next process
 * (SQLite: the restart on the same data; PostgreSQL: any instance, once the dead one is silent)
 * replays it with the same Ai-trace-id within seconds — not after the two-minute age rule — and
 * PixVerse is charged once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startSimulator } from '../../src/providers/pixverse/simulator/index.ts';
import { call, waitFor } from '../helpers/harness.ts';
import { dropSchema, freshSchema, TEST_DATABASE_URL } from '../helpers/processes.ts';
import { secrets, startChild, type ChildOptions } from '../proof/lib/gateways.ts';
import { startTcpProxy } from '../proof/lib/tcpProxy.ts';

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`in-doubt submit after kill -9 (${dialect})`, () => {
    it('is reconciled within seconds with its trace id, created upstream once', async () => {
      const sim = await startSimulator({ durationMs: { min: 300, max: 300 }, seed: 3 });
      const dataDir = mkdtempSync(join(tmpdir(), 'pixgate-orphan-'));
      const schema = freshSchema();
      const options: ChildOptions = {
        upstream: sim.url,
        dataDir,
        ...secrets(),
        // The unanswered create stays in flight until the kill; the age rule stays at its default.
        env: { PIXGATE_UPSTREAM_TIMEOUT: '60s' },
        ...(dialect === 'postgres' ? { databaseUrl: TEST_DATABASE_URL, schema } : {}),
      };
      let gw = await startChild(options);
      try {
        const user = await call(gw.url, 'POST', '/admin/users', options.adminToken, { name: 'orphans' });
        const token: string = user.body.token;
        const acct = await call(gw.url, 'POST', '/v2/pixverse/accounts/a@example.com', token, {
          email: 'a@example.com',
          apiKey: 'sim-key-orphan',
          maxJobs: 1,
        });
        assert.equal(acct.status, 201);
        const created = await call(gw.url, 'POST', '/v2/pixverse/videos/create', token, {
          prompt: 'in doubt #sim:timeout',
          queue: true,
        });
        assert.equal(created.status, 200, JSON.stringify(created.body));
        const id: string = created.body.video_id;
        await waitFor(async () => sim.stats().totals.created === 1, 15_000);
        await gw.kill('SIGKILL');

        const restartedAt = Date.now();
        gw = await startChild(options);
        const done = await waitFor(
          async () => {
            const res = await call(gw.url, 'GET', `/v2/pixverse/videos/${encodeURIComponent(id)}`, token);
            return res.body?.video_status_final ? res.body : null;
          },
          20_000,
          100,
        );
        assert.equal(done.video_status_name, 'COMPLETED', JSON.stringify(done));
        assert.ok(Date.now() - restartedAt < 20_000);
        assert.equal(
          sim.stats().totals.created,
          1,
          'the replay was answered with the original job, not a second paid one',
        );
        const available = await call(gw.url, 'GET', '/v2/pixverse/scheduler/available', token);
        assert.deepEqual(available.body.executing, []);
      } finally {
        await gw.kill('SIGKILL');
        await sim.close();
        rmSync(dataDir, { recursive: true, force: true });
        if (dialect === 'postgres') await dropSchema(schema);
      }
    });
  });
}

describe('in-doubt submit whose replay finds PixVerse unreachable', () => {
  it('stays submitting and is replayed again later, not failed', async () => {
    const sim = await startSimulator({ durationMs: { min: 300, max: 300 }, seed: 4 });
    const simPort = Number(new URL(sim.url).port);
    const proxy = await startTcpProxy('127.0.0.1', simPort);
    const dataDir = mkdtempSync(join(tmpdir(), 'pixgate-orphan-'));
    const options: ChildOptions = {
      upstream: sim.url,
      dataDir,
      ...secrets(),
      env: { PIXGATE_UPSTREAM_TIMEOUT: '60s' },
    };
    let gw = await startChild(options);
    try {
      const user = await call(gw.url, 'POST', '/admin/users', options.adminToken, { name: 'orphans' });
      const token: string = user.body.token;
      await call(gw.url, 'POST', '/v2/pixverse/accounts/a@example.com', token, {
        email: 'a@example.com',
        apiKey: 'sim-key-orphan-2',
        maxJobs: 1,
      });
      const created = await call(gw.url, 'POST', '/v2/pixverse/videos/create', token, {
        prompt: 'in doubt #sim:timeout',
        queue: true,
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const id: string = created.body.video_id;
      await waitFor(async () => sim.stats().totals.created === 1, 15_000);
      await gw.kill('SIGKILL');

      // The restarted process reaches PixVerse only through the proxy, cut for its first seconds.
      proxy.cut();
      gw = await startChild({ ...options, upstream: `http://127.0.0.1:${proxy.port}` });
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const during = await call(gw.url, 'GET', `/v2/pixverse/videos/${encodeURIComponent(id)}`, token);
      assert.equal(
        during.body.video_status_final,
        false,
        `not failed while PixVerse is unreachable: ${JSON.stringify(during.body)}`,
      );
      proxy.restore();
      const done = await waitFor(
        async () => {
          const res = await call(gw.url, 'GET', `/v2/pixverse/videos/${encodeURIComponent(id)}`, token);
          return res.body?.video_status_final ? res.body : null;
        },
        30_000,
        100,
      );
      assert.equal(done.video_status_name, 'COMPLETED', JSON.stringify(done));
      assert.equal(sim.stats().totals.created, 1, 'the replay was answered with the original job');
    } finally {
      await gw.kill('SIGKILL');
      await proxy.close();
      await sim.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
