/**
 * Operator-facing fixes: the admin token is never printed (stdout ends up in container logs),
 * shutdown has a deadline and a second signal forces exit, and a token revoked on one PostgreSQL
 * instance is refused by the others at once rather than after their 5 s verification cache.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config.ts';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { startSimulator } from '../../src/providers/pixverse/simulator/index.ts';
import { call, FAST_TUNING, waitFor } from '../helpers/harness.ts';
import { dropSchema, freshSchema, TEST_DATABASE_URL } from '../helpers/processes.ts';
import { signPixverse, slowBodyClient } from '../proof/securityProbes.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'pixgate.mjs');

interface Served {
  child: ChildProcess;
  port: number;
  stdout: () => string;
  exited: Promise<{ code: number | null; at: number }>;
}

async function serve(dataDir: string, env: Record<string, string>): Promise<Served> {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir],
    {
      env: { ...process.env, LOG_LEVEL: 'warn', PIXGATE_ADMIN_TOKEN: '', PIXGATE_MASTER_KEY: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.on('exit', (code) => resolve({ code, at: Date.now() })),
  );
  const port = await waitFor(
    async () => Number(/running on http:\/\/localhost:(\d+)/.exec(out)?.[1] ?? 0) || null,
    30_000,
  );
  return { child, port, stdout: () => out, exited };
}

describe('operations', () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'pixgate-ops-'));
    dirs.push(dir);
    return dir;
  };
  /** A request that stays in flight: signed-looking webhook headers, then a body that drips. */
  const holdRequest = async (port: number) => {
    const held = await slowBodyClient(
      port,
      '/upstream/pixverse/webhook',
      {
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-nonce': 'n',
        'webhook-signature': 'c2ln',
      },
      200,
    );
    // Until the server has parsed the headers the connection counts as idle and close() drops it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    return held;
  };

  it('does not print the admin token; a held request cannot stop shutdown past its deadline', async () => {
    const dataDir = tempDir();
    const served = await serve(dataDir, { PIXGATE_SHUTDOWN_TIMEOUT: '2s' });
    const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    assert.ok(token.length > 20);
    assert.ok(!served.stdout().includes(token), 'the admin token is not on stdout');
    assert.match(served.stdout(), /admin\.token/, 'stdout says where the token is');
    const held = await holdRequest(served.port);
    const signalled = Date.now();
    served.child.kill('SIGTERM');
    const { code, at } = await served.exited;
    held.socket.destroy();
    assert.equal(code, 1, 'exit through the deadline (the held request would otherwise keep it up to 30 s)');
    assert.ok(at - signalled < 15_000, `exited after ${at - signalled} ms`);
  });

  it('a second signal exits at once', async () => {
    const served = await serve(tempDir(), { PIXGATE_SHUTDOWN_TIMEOUT: '120s' });
    const held = await holdRequest(served.port);
    served.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(served.child.exitCode, null, 'the first signal waits for the request in flight');
    const signalled = Date.now();
    served.child.kill('SIGTERM');
    const { code, at } = await served.exited;
    held.socket.destroy();
    assert.equal(code, 1, 'exit forced by the second signal');
    assert.ok(at - signalled < 10_000, `exited ${at - signalled} ms after the second signal`);
  });

  it('PostgreSQL instances: a revoked token is refused by another instance at once; a webhook replayed to another instance costs nothing', async () => {
    const sim = await startSimulator({ durationMs: { min: 150, max: 400 }, seed: 5 });
    const schema = freshSchema();
    const gateways: Gateway[] = [];
    try {
      const base: Config = {
        ...loadConfig({}, {}),
        host: '127.0.0.1',
        port: 0,
        databaseUrl: TEST_DATABASE_URL,
        databaseSchema: schema,
        adminToken: 'admin-revocation-test-token-0123456789',
        masterKey: 'f'.repeat(64),
        logLevel: 'silent',
        expectedDurationMs: 120_000,
      };
      // Scheduled polls far apart: a status read during the replay check is one a replay caused.
      const tuning = {
        ...FAST_TUNING,
        poll: {
          lagWeight: 10,
          minIntervalMs: 20,
          maxIntervalMs: 600_000,
          maxFirstPollMs: 600_000,
          backstopQuantile: null,
        },
      };
      for (let i = 0; i < 2; i++) {
        gateways.push(
          await startGateway({
            config: { ...base, dataDir: tempDir() },
            upstreamUrl: sim.url,
            logger: pino({ level: 'silent' }),
            tuning,
          }),
        );
      }
      const [one, two] = gateways as [Gateway, Gateway];
      const user = (await call(one.url, 'POST', '/admin/users', base.adminToken, { name: 'r' })).body as {
        userId: number;
        token: string;
      };
      assert.equal(
        (await call(two.url, 'GET', '/v2/account', user.token)).status,
        200,
        'instance two has verified (and cached) the token',
      );
      const [record] = (await call(one.url, 'GET', `/admin/users/${user.userId}/tokens`, base.adminToken))
        .body as { id: number }[];
      assert.equal(
        (await call(one.url, 'DELETE', `/admin/users/${user.userId}/tokens/${record.id}`, base.adminToken))
          .status,
        204,
      );
      const started = Date.now();
      // The verification cache lives 5 s; the NOTIFY must beat it by far.
      await waitFor(
        async () => (await call(two.url, 'GET', '/v2/account', user.token)).status === 401,
        2_500,
        20,
      );
      assert.ok(Date.now() - started < 2_500);

      // A PixVerse delivery acted on by instance one, replayed to instance two.
      const createdTenant = await call(one.url, 'POST', '/admin/users', base.adminToken, { name: 'w' });
      assert.equal(createdTenant.status, 201, JSON.stringify(createdTenant.body));
      const tenant = createdTenant.body as { userId: number; token: string };
      const hook = (
        await call(sim.url, 'POST', '/_sim/webhooks', null, { url: `${one.url}/upstream/pixverse/webhook` })
      ).body as { webhook_id: string; secret: string };
      const account = await call(one.url, 'POST', '/v2/pixverse/accounts/w@x.com', tenant.token, {
        apiKey: 'sim-key-w',
        maxJobs: 2,
        webhookId: hook.webhook_id,
        webhookSecret: hook.secret,
      });
      assert.equal(account.status, 201, JSON.stringify(account.body));
      const id = (
        await call(one.url, 'POST', '/v2/pixverse/videos/create', tenant.token, {
          prompt: 'long #sim:duration=120000',
        })
      ).body.video_id as string;
      const upstreamId = id.split('-video:')[1]!;
      const [job] = await one.store.jobsByUpstreamId(upstreamId);
      const body = JSON.stringify({ id: upstreamId, status: 1 });
      const ts = String(Math.floor(Date.now() / 1000));
      const headers = {
        'content-type': 'application/json',
        'webhook-timestamp': ts,
        'webhook-nonce': 'n1',
        'webhook-signature': signPixverse(hook.secret, ts, 'n1', { id: upstreamId, status: 1 }),
      };
      assert.equal(
        (await call(one.url, 'POST', '/upstream/pixverse/webhook', null, body, headers)).status,
        200,
      );
      const read = await waitFor(async () => {
        const row = await one.store.getJob(job!.id);
        return row && row.pollCount > job!.pollCount ? row.pollCount : null;
      });
      for (let i = 0; i < 20; i++)
        assert.equal(
          (await call(two.url, 'POST', '/upstream/pixverse/webhook', null, body, headers)).status,
          200,
        );
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      assert.equal(
        (await one.store.getJob(job!.id))!.pollCount,
        read,
        'replays to another instance cost no status read',
      );
    } finally {
      for (const gw of gateways) await gw.close();
      await sim.close();
      await dropSchema(schema);
    }
  });
});
