/**
 * Security proof suite: the tenant-isolation matrix over every documented route, misbehaving
 * clients cut off while a normal client keeps getting answers, body limits per route, PixVerse
 * webhook replays refused, per-token rate limits, secrets never in logs, responses or database
 * files in clear (the files are grepped), and file modes. PIXGATE_PROOF=full runs more hostile
 * connections and replays. Prints one line of figures, `proof security: …`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { loadConfig, loadLimits, type Config } from '../../src/config.ts';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { startSimulator, type RunningSimulator } from '../../src/providers/pixverse/simulator/index.ts';
import { call, createTenant, FAST_TUNING, waitFor, type Reply } from '../helpers/harness.ts';
import {
  answerWithoutBody,
  documentedRoutes,
  filesUnder,
  modeOf,
  secretsIn,
  signPixverse,
  slowBodyClient,
  slowHeaderClient,
} from './securityProbes.ts';

const FULL = process.env['PIXGATE_PROOF'] === 'full';
const P = '/v2/pixverse';
const A_EMAIL = 'a-only@proof.test';
const A_KEY = `pk-proof-a-${randomBytes(12).toString('hex')}`;
const B_KEY = `pk-proof-b-${randomBytes(12).toString('hex')}`;
const PASSPHRASE = `proof passphrase ${randomBytes(6).toString('hex')}`;
const LONG = '#sim:duration=120000';
const PNG = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
]);
/** Text only tenant A ever sends: it must never reach B. */
const A_PRIVATE = `a-private-prompt-${randomBytes(6).toString('hex')}`;
const REQUEST_TIMEOUT_MS = 2_000;
const HEADERS_TIMEOUT_MS = 1_000;

const figures = {
  isolation: 0,
  isolationTotal: 0,
  slowCut: 0,
  slowTotal: 0,
  slowestCutMs: 0,
  healthOk: 0,
  healthTotal: 0,
  limits: 0,
  limitsTotal: 0,
  replays: 0,
  extraReads: 0,
  filesScanned: 0,
  leaks: 0,
};

describe('security proof', () => {
  let sim: RunningSimulator;
  let gw: Gateway;
  let dataDir: string;
  let logDir: string;
  let port: number;
  let A: { userId: number; token: string };
  let B: { userId: number; token: string };
  let hook: { webhook_id: string; secret: string };
  const jobs = { video: '', image: '', music: '' };
  let deliveryId = 0;
  let callbackSecret = '';
  /** Every response body a tenant or anonymous caller got (grepped for secrets at the end). */
  const answers: { who: string; text: string }[] = [];

  const api = async (
    method: string,
    path: string,
    token: string | null,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Reply> => {
    const res = await call(gw.url, method, path, token, body, headers);
    answers.push({
      who: token === A?.token ? 'A' : token === B?.token ? 'B' : 'other',
      text: JSON.stringify(res.body),
    });
    return res;
  };

  before(async () => {
    sim = await startSimulator({ durationMs: { min: 150, max: 400 }, seed: 11, maxConcurrent: 50 });
    dataDir = mkdtempSync(join(tmpdir(), 'pixgate-proof-'));
    logDir = mkdtempSync(join(tmpdir(), 'pixgate-proof-log-'));
    const config: Config = {
      ...loadConfig({}, {}),
      host: '127.0.0.1',
      port: 0,
      dataDir,
      masterKey: PASSPHRASE,
      expectedDurationMs: 120_000,
      logLevel: 'debug',
      callbackAllowlist: ['127.0.0.0/8'],
      limits: {
        ...loadLimits({}),
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
        headersTimeoutMs: HEADERS_TIMEOUT_MS,
        rateLimitPerSecond: 0,
      },
    };
    const logger = pino(
      { level: 'debug' },
      pino.destination({ dest: join(logDir, 'gateway.log'), sync: true }),
    );
    // Scheduled polls far apart: any status read during the replay test is one a replay caused.
    gw = await startGateway({
      config,
      upstreamUrl: sim.url,
      logger,
      tuning: {
        ...FAST_TUNING,
        poll: {
          lagWeight: 10,
          minIntervalMs: 20,
          maxIntervalMs: 600_000,
          maxFirstPollMs: 600_000,
          backstopQuantile: null,
        },
      },
    });
    port = Number(new URL(gw.url).port);
    A = await createTenant(harnessOf(gw), 'A');
    B = await createTenant(harnessOf(gw), 'B');
    hook = (
      await call(sim.url, 'POST', '/_sim/webhooks', null, { url: `${gw.url}/upstream/pixverse/webhook` })
    ).body;
    const added = await api('POST', `${P}/accounts/${A_EMAIL}`, A.token, {
      apiKey: A_KEY,
      maxJobs: 5,
      webhookId: hook.webhook_id,
      webhookSecret: hook.secret,
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(
      (await api('POST', `${P}/accounts/b@proof.test`, B.token, { apiKey: B_KEY, maxJobs: 2 })).status,
      201,
    );
    const create = async (kind: string, key: string) =>
      (
        await api('POST', `${P}/${kind}/create`, A.token, {
          prompt: `${A_PRIVATE} ${LONG}`,
          email: A_EMAIL,
          replyRef: A_PRIVATE,
        })
      )?.body[key] as string;
    jobs.video = await create('videos', 'video_id');
    // Images come from an image effect template (302325299692635 in the simulator's catalogue).
    const frame = await api('POST', `${P}/files?email=${A_EMAIL}`, A.token, PNG, {
      'content-type': 'image/png',
    });
    const template = {
      template_id: 302325299692635,
      first_frame_path: frame.body.result[0].path,
      prompt: `${A_PRIVATE} ${LONG}`,
      email: A_EMAIL,
    };
    jobs.image = (await api('POST', `${P}/videos/create`, A.token, template)).body.image_id as string;
    // Music cannot be created through the Platform API; an id of A's form is still A's to read.
    jobs.music = `user:${A.userId}-pixverse:${A_EMAIL}-music:1`;
    // A delivery of A's: a job that fails with a replyUrl (the receiver is a route that answers 404).
    const failed = (
      await api('POST', `${P}/videos/create`, A.token, {
        prompt: 'cb #sim:fail',
        email: A_EMAIL,
        replyUrl: `${gw.url}/nowhere`,
      })
    ).body.video_id as string;
    assert.ok(failed);
    deliveryId = await waitFor(
      async () =>
        (await api('GET', '/v2/callbacks/deliveries', A.token)).body?.deliveries?.[0]?.id as
          | number
          | undefined,
    );
    callbackSecret = (await call(gw.url, 'GET', '/v2/callbacks/secret', A.token)).body.secret;
  });

  after(async () => {
    await gw?.close();
    await sim?.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(logDir, { recursive: true, force: true });
    console.log(
      `proof security: ${figures.isolation}/${figures.isolationTotal} isolation refusals, ` +
        `${figures.slowCut}/${figures.slowTotal} slow clients cut off (slowest ${figures.slowestCutMs} ms) with ${figures.healthOk}/${figures.healthTotal} health answers, ` +
        `${figures.limits}/${figures.limitsTotal} body-limit refusals, ${figures.replays} webhook replays cost ${figures.extraReads} status reads, ` +
        `${figures.filesScanned} files grepped with ${figures.leaks} secrets in clear`,
    );
  });

  /** A's identifiers for a path's parameters. */
  const fill = (path: string) =>
    path
      .replace('{email}', A_EMAIL)
      .replace('/images/{id}', `/images/${jobs.image}`)
      .replace('/music/{id}', `/music/${jobs.music}`)
      .replace('/deliveries/{id}', `/deliveries/${deliveryId}`)
      .replace('{id}', jobs.video)
      .replace('{userId}', String(A.userId))
      .replace('{tokenId}', '1');
  /** What B must never see: A's private text and secrets, and (where B named nothing of A's) A's ids. */
  const markers = (named: boolean) => [
    A_PRIVATE,
    callbackSecret,
    A_KEY,
    A.token,
    '/nowhere',
    ...(named ? [] : [A_EMAIL, jobs.video, jobs.image, jobs.music]),
  ];

  it('isolation matrix: every route refuses anonymous, forged and other-tenant callers', async () => {
    const routes = (await documentedRoutes(gw.url)).filter((r) => !r.path.startsWith('/upstream/'));
    assert.ok(routes.length >= 40, `only ${routes.length} routes documented`);
    const check = (ok: boolean, what: string, res: Reply) => {
      figures.isolationTotal++;
      if (ok) figures.isolation++;
      assert.ok(ok, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
    };
    const body = { prompt: 'probe', email: A_EMAIL, video_id: jobs.video, image_id: jobs.image };
    for (const route of routes) {
      const path = fill(route.path);
      const withBody = route.method === 'POST' || route.method === 'PATCH' ? body : undefined;
      for (const token of [
        null,
        'user:1-AAAAAAAAAAAAAAAAAAAAAAAA',
        `user:${A.userId}-${'x'.repeat(32)}`,
        'Bearer-less',
      ]) {
        const res = await api(route.method, path, token, withBody);
        check(
          res.status === 401 && res.body?.code === 401,
          `${route.method} ${route.path} with token ${token}`,
          res,
        );
      }
      if (route.path.startsWith('/admin')) {
        const res = await api(route.method, path, A.token, withBody);
        check(res.status === 401, `${route.method} ${route.path} with a tenant token`, res);
        continue;
      }
      // B with A's identifiers: refused, or answered with B's own data only.
      const res = await api(route.method, path, B.token, withBody);
      const text = JSON.stringify(res.body);
      const leaked = markers(route.path.includes('{') || withBody !== undefined).filter(
        (m) => m && text.includes(m),
      );
      // 501: an operation the Platform API lacks; refused before anything of A's is looked at.
      const refused =
        ((res.status >= 400 && res.status < 500) || res.status === 501) && res.body?.code === res.status;
      const ownOnly = res.status < 300 && !route.path.includes('{');
      const ownAccount =
        route.method === 'POST' && route.path.endsWith('/accounts/{email}') && res.status < 300;
      check(
        leaked.length === 0 && (refused || ownOnly || ownAccount),
        `${route.method} ${route.path} as B (leaked ${leaked.join(', ')})`,
        res,
      );
    }
    // B's writes left A alone: A's account, jobs, delivery and secret are as they were.
    const account = await api('GET', `${P}/accounts/${A_EMAIL}`, A.token);
    assert.equal(account.status, 200);
    const view = await api('GET', `${P}/scheduler/available`, A.token);
    const running = view.body.executing.map((e: { id: string }) => e.id);
    for (const id of [jobs.video, jobs.image]) assert.ok(running.includes(id), `A's job ${id} still runs`);
    assert.equal((await call(gw.url, 'GET', '/v2/callbacks/secret', A.token)).body.secret, callbackSecret);
    assert.equal((await gw.store.getDelivery(A.userId, deliveryId))?.userId, A.userId);
  });

  it('slow-header and slow-body clients are cut off while a normal client keeps getting answers', async () => {
    const each = FULL ? 400 : 40;
    const ts = String(Math.floor(Date.now() / 1000));
    const attackers = await Promise.all([
      ...Array.from({ length: each }, () =>
        slowBodyClient(
          port,
          '/upstream/pixverse/webhook',
          { 'webhook-timestamp': ts, 'webhook-nonce': 'n', 'webhook-signature': 'c2ln' },
          500,
        ),
      ),
      ...Array.from({ length: each }, () => slowHeaderClient(port, 300)),
    ]);
    figures.slowTotal = attackers.length;
    let polling = true;
    const health = (async () => {
      while (polling) {
        figures.healthTotal++;
        if ((await healthStatus(port)) === 200) figures.healthOk++;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const limitMs = REQUEST_TIMEOUT_MS + 4_000;
    const cut = await Promise.all(
      attackers.map((a) =>
        Promise.race([a.closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), limitMs))]),
      ),
    );
    polling = false;
    await health;
    for (const a of attackers) a.socket.destroy();
    const times = cut.filter((ms): ms is number => ms !== null);
    figures.slowCut = times.length;
    figures.slowestCutMs = Math.max(0, ...times);
    assert.equal(
      times.length,
      attackers.length,
      `${attackers.length - times.length} slow connections were still open after ${limitMs} ms`,
    );
    assert.ok(
      figures.healthTotal >= 5 && figures.healthOk === figures.healthTotal,
      `health answered ${figures.healthOk}/${figures.healthTotal}`,
    );
  });

  it('body limits per route; unsigned webhooks refused before their body is read', async () => {
    const ts = () => String(Math.floor(Date.now() / 1000));
    const signed = () => ({
      'webhook-timestamp': ts(),
      'webhook-nonce': randomBytes(6).toString('hex'),
      'webhook-signature': 'c2ln',
      'content-type': 'application/json',
    });
    const cases: [string, Promise<number | null>, number][] = [
      [
        'unsigned 10 MB webhook',
        answerWithoutBody(
          port,
          'POST',
          '/upstream/pixverse/webhook',
          { 'content-type': 'application/json' },
          10 * 1024 * 1024,
        ),
        401,
      ],
      [
        'stale-timestamp webhook',
        answerWithoutBody(
          port,
          'POST',
          '/upstream/pixverse/webhook',
          { ...signed(), 'webhook-timestamp': '1000' },
          1024 * 1024,
        ),
        401,
      ],
      [
        'signed webhook over 64 KB',
        answerWithoutBody(port, 'POST', '/upstream/pixverse/webhook', signed(), 64 * 1024 + 1),
        413,
      ],
      [
        '50 MB upload body on the webhook',
        answerWithoutBody(
          port,
          'POST',
          '/upstream/pixverse/webhook',
          { ...signed(), 'content-type': 'application/octet-stream' },
          50 * 1024 * 1024,
        ),
        415,
      ],
      [
        'text/plain webhook',
        answerWithoutBody(
          port,
          'POST',
          '/upstream/pixverse/webhook',
          { ...signed(), 'content-type': 'text/plain' },
          100,
        ),
        415,
      ],
      [
        'JSON create over 1 MB',
        answerWithoutBody(
          port,
          'POST',
          `${P}/videos/create`,
          { authorization: `Bearer ${A.token}`, 'content-type': 'application/json' },
          1024 * 1024 + 1,
        ),
        413,
      ],
      [
        'octet-stream create',
        answerWithoutBody(
          port,
          'POST',
          `${P}/videos/create`,
          { authorization: `Bearer ${A.token}`, 'content-type': 'application/octet-stream' },
          2 * 1024 * 1024,
        ),
        415,
      ],
      [
        'upload over 50 MB',
        answerWithoutBody(
          port,
          'POST',
          `${P}/files?email=${A_EMAIL}`,
          { authorization: `Bearer ${A.token}`, 'content-type': 'image/png' },
          50 * 1024 * 1024 + 1,
        ),
        413,
      ],
      [
        'anonymous 1 MB create',
        answerWithoutBody(
          port,
          'POST',
          `${P}/videos/create`,
          { 'content-type': 'application/json' },
          1024 * 1024,
        ),
        401,
      ],
    ];
    for (const [what, answer, expected] of cases) {
      figures.limitsTotal++;
      const status = await answer;
      if (status === expected) figures.limits++;
      assert.equal(status, expected, `${what}: answered ${status} without the body`);
    }
  });

  it('a replayed PixVerse webhook costs no further status reads', async () => {
    const upstreamId = jobs.video.split('-video:')[1]!;
    const [job] = await gw.store.jobsByUpstreamId(upstreamId);
    assert.ok(job);
    const body = { id: upstreamId, status: 1 };
    const ts = String(Math.floor(Date.now() / 1000));
    const headers = {
      'content-type': 'application/json',
      'webhook-timestamp': ts,
      'webhook-nonce': 'once',
      'webhook-signature': signPixverse(hook.secret, ts, 'once', body),
    };
    const first = await call(
      gw.url,
      'POST',
      '/upstream/pixverse/webhook',
      null,
      JSON.stringify(body),
      headers,
    );
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const afterFirst = await waitFor(async () => {
      const row = await gw.store.getJob(job.id);
      return row && row.pollCount > job.pollCount ? row.pollCount : null;
    });
    const replays = FULL ? 400 : 60;
    for (let i = 0; i < replays; i++) {
      const res = await call(
        gw.url,
        'POST',
        '/upstream/pixverse/webhook',
        null,
        JSON.stringify(body),
        headers,
      );
      assert.equal(res.status, 200, 'a replay is acknowledged (a genuine retry must stop) …');
    }
    figures.replays = replays;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const row = await gw.store.getJob(job.id);
    figures.extraReads = row!.pollCount - afterFirst;
    assert.equal(row!.state, 'running');
    assert.equal(figures.extraReads, 0, '… but never acted on again');
  });

  it('secrets are never in logs, responses or database files in clear; files are private', async () => {
    const secrets: Record<string, string> = {
      'account API key': A_KEY,
      'PixVerse webhook secret': hook.secret,
      'tenant callback secret': callbackSecret.slice('whsec_'.length),
      'tenant A token': A.token,
      'tenant B token': B.token,
      'admin token': gw.adminToken,
      'master passphrase': PASSPHRASE,
    };
    const stored = (await gw.store.getUser(A.userId))!;
    assert.match(stored.webhookSecret, /^v2:/, 'the callback secret is sealed with the scrypt-derived key');
    const files = [
      ...filesUnder(dataDir).filter((f) => basename(f) !== 'admin.token'),
      join(logDir, 'gateway.log'),
    ];
    figures.filesScanned = files.length;
    assert.ok(
      files.some((f) => f.endsWith('pixgate.db')) && files.some((f) => f.endsWith('-wal')),
      'the database files are scanned',
    );
    for (const file of files) {
      const found = secretsIn(file, secrets);
      figures.leaks += found.length;
      assert.deepEqual(found, [], `${basename(file)} holds ${found.join(', ')} in clear`);
    }
    for (const { who, text } of answers) {
      const found = Object.entries(secrets).filter(
        ([label, s]) =>
          text.includes(s) &&
          !(who === 'A' && label === 'tenant A token') &&
          !(who === 'B' && label === 'tenant B token'),
      );
      figures.leaks += found.length;
      assert.deepEqual(
        found.map(([label]) => label),
        [],
        `a response to ${who} holds a secret: ${text.slice(0, 200)}`,
      );
    }
    assert.equal(modeOf(dataDir), 0o700, 'data dir');
    for (const file of filesUnder(dataDir))
      assert.equal(modeOf(file), 0o600, `${basename(file)} mode ${modeOf(file).toString(8)}`);
  });
});

describe('per-token rate limit', () => {
  it('answers 429 with Retry-After past the burst, per token', async () => {
    const sim = await startSimulator({ durationMs: { min: 150, max: 400 }, seed: 3 });
    const dataDir = mkdtempSync(join(tmpdir(), 'pixgate-proof-rate-'));
    const config: Config = {
      ...loadConfig({}, {}),
      host: '127.0.0.1',
      port: 0,
      dataDir,
      logLevel: 'silent',
      limits: { ...loadLimits({}), rateLimitPerSecond: 2, rateLimitBurst: 5 },
    };
    const gw = await startGateway({
      config,
      upstreamUrl: sim.url,
      logger: pino({ level: 'silent' }),
      tuning: FAST_TUNING,
    });
    try {
      const a = await createTenant(harnessOf(gw), 'a');
      const b = await createTenant(harnessOf(gw), 'b');
      const statuses: Reply[] = [];
      for (let i = 0; i < 12; i++) statuses.push(await call(gw.url, 'GET', '/v2/account', a.token));
      const limited = statuses.filter((r) => r.status === 429);
      assert.ok(limited.length >= 5, `only ${limited.length} of 12 requests limited`);
      assert.ok(Number(limited[0]!.headers.get('retry-after')) >= 1);
      assert.equal(limited[0]!.body.code, 429);
      assert.equal(
        (await call(gw.url, 'GET', '/v2/account', b.token)).status,
        200,
        'another token is not affected',
      );
    } finally {
      await gw.close();
      await sim.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('connection cap', () => {
  it('refuses connections past the cap, and answers again once hostile ones are cut', async () => {
    const sim = await startSimulator({ durationMs: { min: 150, max: 400 }, seed: 4 });
    const dataDir = mkdtempSync(join(tmpdir(), 'pixgate-proof-cap-'));
    const limits = {
      ...loadLimits({}),
      maxConnections: 8,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
    };
    const config: Config = {
      ...loadConfig({}, {}),
      host: '127.0.0.1',
      port: 0,
      dataDir,
      logLevel: 'silent',
      limits,
    };
    const gw = await startGateway({
      config,
      upstreamUrl: sim.url,
      logger: pino({ level: 'silent' }),
      tuning: FAST_TUNING,
    });
    const port = Number(new URL(gw.url).port);
    try {
      const hostile = await Promise.all(Array.from({ length: 8 }, () => slowHeaderClient(port, 300)));
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(await healthStatus(port), null, 'the ninth connection is dropped at accept');
      await Promise.all(hostile.map((h) => h.closed));
      assert.equal(await healthStatus(port), 200, 'answers again once the header timeout cut them');
    } finally {
      await gw.close();
      await sim.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** createTenant wants a harness; it only needs the gateway. */
function harnessOf(gw: Gateway) {
  return { gw } as Parameters<typeof createTenant>[0];
}

/** GET /health on a fresh connection (no pooling: a new client must get in). */
function healthStatus(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}
