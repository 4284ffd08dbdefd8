/**
 * Every worker counts a lost lease (pixgate_lease_lost_total{worker}) instead of ignoring it. Real
 * parts throughout: a gateway on a SQLite file (and on PostgreSQL for the tracker's fenced finish),
 * the simulator behind a small loopback relay that lets the test act at the exact moment a worker's
 * upstream call is in flight, the way a second instance or an operator would: take the lease over,
 * delete the account.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import pino from 'pino';
import { CallbackDeliverer } from '../../src/callbacks/deliverer.ts';
import { loadConfig, loadLimits, type Config } from '../../src/config.ts';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { GatewayMetrics, leaseLossRecorder } from '../../src/metrics/index.ts';
import { startSimulator, type RunningSimulator } from '../../src/providers/pixverse/simulator/index.ts';
import { call, FAST_TUNING, waitFor } from '../helpers/harness.ts';
import { dropSchema, freshSchema, TEST_DATABASE_URL } from '../helpers/processes.ts';
import { deliveriesOf, finishJob, openFixture, startJob, tenant } from '../callbacks/fixture.ts';
import { Receiver } from '../callbacks/receiver.ts';

type Dialect = 'sqlite' | 'postgres';

/** Called with each upstream request and the simulator's answer, before the answer is relayed. */
type Hook = (req: IncomingMessage, answer: string) => Promise<void>;

/** A loopback relay to the simulator; `hook` runs while the gateway waits for the answer. */
async function startRelay(
  target: string,
): Promise<{ url: string; hook: { current: Hook | null }; close(): Promise<void> }> {
  const hook: { current: Hook | null } = { current: null };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers))
          if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
        const body = Buffer.concat(chunks);
        const answer = await fetch(`${target}${req.url}`, {
          method: req.method ?? 'GET',
          headers,
          ...(body.length > 0 ? { body } : {}),
        });
        const text = await answer.text();
        await hook.current?.(req, text);
        res.writeHead(answer.status, {
          'content-type': answer.headers.get('content-type') ?? 'application/json',
        });
        res.end(text);
      })().catch((err: unknown) => {
        res.writeHead(502);
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hook,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** SQL against the gateway's own database, as another instance would write it. */
interface Sql {
  run(text: string, params: unknown[]): Promise<number>;
  close(): Promise<void>;
}

async function sqlFor(dialect: Dialect, dataDir: string, schema: string): Promise<Sql> {
  if (dialect === 'sqlite') {
    const db = new Database(join(dataDir, 'pixgate.db'));
    db.pragma('busy_timeout = 5000');
    return {
      run: async (text, params) => db.prepare(text.replace(/\$\d+/g, '?')).run(...params).changes,
      close: async () => void db.close(),
    };
  }
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  await client.query(`SET search_path TO ${pg.escapeIdentifier(schema)}`);
  return {
    run: async (text, params) => (await client.query(text, params)).rowCount ?? 0,
    close: () => client.end(),
  };
}

interface Rig {
  gw: Gateway;
  sim: RunningSimulator;
  relay: Awaited<ReturnType<typeof startRelay>>;
  sql: Sql;
  token: string;
  userId: number;
  restart(): Promise<void>;
  close(): Promise<void>;
}

async function rig(dialect: Dialect, tuning: Partial<Config> = {}, leaseMs?: number): Promise<Rig> {
  const sim = await startSimulator({ durationMs: { min: 150, max: 150 }, seed: 11 });
  const relay = await startRelay(sim.url);
  const dataDir = mkdtempSync(join(tmpdir(), 'pixgate-lease-'));
  const schema = freshSchema();
  const config: Config = {
    ...loadConfig({}, {}),
    host: '127.0.0.1',
    port: 0,
    dataDir,
    expectedDurationMs: 250,
    logLevel: 'silent',
    callbackAllowlist: ['127.0.0.0/8'],
    limits: { ...loadLimits({}), rateLimitPerSecond: 0 },
    ...(dialect === 'postgres' ? { databaseUrl: TEST_DATABASE_URL, databaseSchema: schema } : {}),
    ...tuning,
  };
  const boot = () =>
    startGateway({
      config,
      upstreamUrl: relay.url,
      logger: pino({ level: 'silent' }),
      tuning: { ...FAST_TUNING, ...(leaseMs ? { leaseMs } : {}) },
    });
  const r: Rig = {
    gw: await boot(),
    sim,
    relay,
    sql: await sqlFor(dialect, dataDir, schema),
    token: '',
    userId: 0,
    async restart() {
      await r.gw.close();
      r.gw = await boot();
    },
    async close() {
      await r.gw.close();
      await r.sql.close();
      await relay.close();
      await sim.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (dialect === 'postgres') await dropSchema(schema);
    },
  };
  const user = await call(r.gw.url, 'POST', '/admin/users', r.gw.adminToken, { name: 'leases' });
  assert.equal(user.status, 201, JSON.stringify(user.body));
  r.token = user.body.token;
  r.userId = user.body.userId;
  const acct = await call(r.gw.url, 'POST', '/v2/pixverse/accounts/a@example.com', r.token, {
    email: 'a@example.com',
    apiKey: 'sim-key-lease',
    maxJobs: 2,
  });
  assert.equal(acct.status, 201, JSON.stringify(acct.body));
  return r;
}

async function lostCount(metrics: GatewayMetrics, worker: string): Promise<number> {
  return (await metrics.leaseLost.get()).values.find((v) => v.labels.worker === worker)?.value ?? 0;
}

async function finalOf(r: Rig, videoId: string): Promise<Record<string, unknown>> {
  return waitFor(async () => {
    const res = await call(r.gw.url, 'GET', `/v2/pixverse/videos/${encodeURIComponent(videoId)}`, r.token);
    return res.body?.video_status_final ? (res.body as Record<string, unknown>) : null;
  }, 15_000);
}

const isFinalAnswer = (answer: string): boolean => {
  try {
    const status = (JSON.parse(answer) as { Resp?: { status?: number } }).Resp?.status;
    return status === 1;
  } catch {
    return false;
  }
};

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`tracker: a lost poll lease is counted (${dialect})`, () => {
    it('a fenced finish that lost is counted once; the job still ends once', async () => {
      const r = await rig(dialect);
      try {
        let stolen = 0;
        r.relay.hook.current = async (req, answer) => {
          // The job's final answer is on its way back: another instance takes the poll lease now.
          if (stolen > 0 || req.method !== 'GET' || !req.url?.includes('/result/') || !isFinalAnswer(answer))
            return;
          stolen = await r.sql.run(
            `UPDATE jobs SET lease_owner = 'thief', lease_token = 'stolen', lease_expires_at = $1 WHERE state = 'running' AND lease_token IS NOT NULL`,
            [Date.now() + 300],
          );
        };
        const created = await call(r.gw.url, 'POST', '/v2/pixverse/videos/create', r.token, {
          prompt: 'a lease to lose',
        });
        assert.equal(created.status, 200, JSON.stringify(created.body));
        const done = await finalOf(r, created.body.video_id);
        assert.equal(stolen, 1, 'the lease was taken while the final poll was in flight');
        assert.equal(done['video_status_name'], 'COMPLETED', 'polled again after the thief’s lease expired');
        assert.equal(await lostCount(r.gw.metrics, 'tracker'), 1);
        const finished = (await r.gw.metrics.jobsFinished.get()).values.reduce((sum, v) => sum + v.value, 0);
        assert.equal(finished, 1, 'finished exactly once');
      } finally {
        await r.close();
      }
    });
  });
}

describe('tracker: a lost reschedule is counted (sqlite)', () => {
  it('a non-final poll whose lease was taken over is counted', async () => {
    const r = await rig('sqlite');
    try {
      let stolen = 0;
      r.relay.hook.current = async (req, answer) => {
        if (stolen > 0 || req.method !== 'GET' || !req.url?.includes('/result/') || isFinalAnswer(answer))
          return;
        stolen = await r.sql.run(
          `UPDATE jobs SET lease_owner = 'thief', lease_token = 'stolen', lease_expires_at = $1 WHERE state = 'running' AND lease_token IS NOT NULL`,
          [Date.now() + 200],
        );
      };
      const created = await call(r.gw.url, 'POST', '/v2/pixverse/videos/create', r.token, {
        prompt: 'slow #sim:duration=1500ms',
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const done = await finalOf(r, created.body.video_id);
      assert.equal(stolen, 1);
      assert.equal(done['video_status_name'], 'COMPLETED');
      assert.equal(await lostCount(r.gw.metrics, 'tracker'), 1);
    } finally {
      await r.close();
    }
  });
});

describe('dispatcher: a dispatched job lost during its submit is counted (sqlite)', () => {
  it('the failed submit finds the job cancelled (its account was deleted) and counts it', async () => {
    const r = await rig('sqlite');
    try {
      let deleted = 0;
      r.relay.hook.current = async (req) => {
        if (deleted > 0 || req.method !== 'POST' || !req.url?.includes('/generate')) return;
        // While PixVerse refuses the submit, the operator deletes the account: the job is cancelled.
        const res = await call(r.gw.url, 'DELETE', '/v2/pixverse/accounts/a@example.com', r.token);
        deleted = res.status;
      };
      const created = await call(r.gw.url, 'POST', '/v2/pixverse/videos/create', r.token, {
        prompt: 'refused #sim:reject-moderation',
        queue: true,
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      await waitFor(async () => ((await lostCount(r.gw.metrics, 'dispatcher')) > 0 ? true : null), 10_000);
      assert.ok(deleted >= 200 && deleted < 300, `account deleted (${deleted})`);
      assert.equal(await lostCount(r.gw.metrics, 'dispatcher'), 1);
      await finalOf(r, created.body.video_id);
      const finished = (await r.gw.metrics.jobsFinished.get()).values;
      assert.deepEqual(
        finished.map((v) => v.labels.state),
        ['cancelled'],
        'the cancel won; the moderation outcome was not recorded',
      );
    } finally {
      await r.close();
    }
  });
});

describe('reconciler: its lease is renewed, and a lost one is counted (sqlite)', () => {
  it('renews the orphan’s lease during a slow replay, and counts it when another owner takes it', async () => {
    const r = await rig('sqlite', {}, 300);
    try {
      // A submit left in `submitting` by a process that died mid-create.
      const reserved = await r.gw.store.reserve({
        userId: r.userId,
        provider: 'pixverse',
        tokenId: null,
        email: null,
        maxJobsOverride: null,
        type: 'video',
        traceId: randomUUID(),
        upstream: {
          op: 'video.text',
          params: { prompt: 'an orphan', model: 'v5', duration: 5, quality: '540p', aspect_ratio: '16:9' },
        },
        request: { prompt: 'an orphan' },
        replyUrl: null,
        replyRef: null,
        now: Date.now(),
      });
      assert.ok(reserved.ok);
      const jobId = reserved.job.id;
      let phase: 'renewed' | 'stolen' | null = null;
      let expiresAtClaim = 0;
      r.relay.hook.current = async (req) => {
        if (phase !== null || req.method !== 'POST' || !req.url?.includes('/generate')) return;
        // The replay is in flight. Hold it past the lease's length: the lease must be renewed meanwhile.
        const before = (await r.gw.store.getJob(jobId))!;
        expiresAtClaim = before.leaseExpiresAt ?? 0;
        await new Promise((resolve) => setTimeout(resolve, 700));
        const during = (await r.gw.store.getJob(jobId))!;
        assert.ok((during.leaseExpiresAt ?? 0) > expiresAtClaim, 'renewed while the replay was in flight');
        phase = 'renewed';
        // Now another instance takes it over (as after a stall): the next renewal finds it gone.
        await r.sql.run(`UPDATE jobs SET lease_owner = 'thief', lease_token = 'stolen' WHERE id = $1`, [
          jobId,
        ]);
        await waitFor(async () => ((await lostCount(r.gw.metrics, 'reconciler')) > 0 ? true : null), 5_000);
        phase = 'stolen';
      };
      await r.restart();
      await waitFor(async () => (phase === 'stolen' ? true : null), 15_000);
      assert.equal(await lostCount(r.gw.metrics, 'reconciler'), 1);
    } finally {
      await r.close();
    }
  });
});

describe('deliverer: an attempt whose lease was taken over is counted (sqlite)', () => {
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  it('records nothing for the lost attempt and counts it once', async () => {
    const fx = await openFixture();
    closers.push(() => fx.close());
    let asked = 0;
    // The receiver holds each attempt for a while, as a slow one does.
    const hook = await Receiver.start(() => {
      asked++;
      return { status: 200, delayMs: 300 };
    });
    closers.push(() => hook.close());
    const metrics = new GatewayMetrics();
    const d = new CallbackDeliverer({
      store: fx.store,
      log: pino({ level: 'silent' }),
      schedule: [0, 60_000],
      timeoutMs: 2_000,
      allowlist: ['127.0.0.0/8'],
      owner: 'first',
      idleWakeMs: 100,
      onLeaseLost: leaseLossRecorder(metrics),
    });
    closers.push(() => d.stop());
    const user = await tenant(fx.store);
    const job = await startJob(fx.store, user, { replyUrl: hook.url });
    d.start();
    await finishJob(fx.store, job);
    d.wake();
    // While the receiver holds the attempt, a second deliverer whose clock is past the lease claims it.
    await waitFor(async () => (asked > 0 ? true : null), 5_000);
    const taken = await fx.store.claimDueDeliveries('second', Date.now() + 10 * 60_000, 60_000, 10);
    assert.equal(taken.length, 1, 'the thief took the delivery');
    await waitFor(async () => (d.counts.leaseLost > 0 ? true : null), 5_000);
    assert.equal(d.counts.leaseLost, 1);
    assert.equal(d.counts.delivered, 0, 'the lost attempt was not recorded as delivered');
    assert.equal(await lostCount(metrics, 'deliverer'), 1);
    const [delivery] = await deliveriesOf(fx.store, user.id, job.id);
    assert.equal(delivery?.attempts, 0, 'nothing recorded by the deliverer that lost the lease');
  });
});
