/**
 * The callback routes on the real Fastify app (real auth, validation and error envelope) over a
 * real SQLite store and deliverer: the delivery log, dead-letter + redeliver, and the secret.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { CallbackDeliverer } from '../../src/callbacks/deliverer.ts';
import { verifyWebhook } from '../../src/callbacks/signing.ts';
import { publicJobId } from '../../src/domain/ids.ts';
import type { Job } from '../../src/domain/job.ts';
import { buildApp } from '../../src/http/app.ts';
import { Authenticator } from '../../src/http/auth.ts';
import type { AppDeps } from '../../src/http/context.ts';
import { requireUser } from '../../src/http/guards.ts';
import { callbackRoutes } from '../../src/http/routes/callbacks.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { newAdminToken, newMasterKeyText } from '../../src/security/dataDirSecrets.ts';
import { parseMasterKey, SecretBox } from '../../src/security/secretBox.ts';
import { generateToken, hashToken } from '../../src/security/tokens.ts';
import type { User } from '../../src/store/store.ts';
import { pixverseProvider } from '../../src/providers/index.ts';
import { call } from '../helpers/harness.ts';
import {
  deliverer,
  deliveriesOf,
  finishJob,
  openFixture,
  silent,
  startJob,
  tenant,
  waitFor,
  type Fixture,
} from './fixture.ts';
import { Receiver } from './receiver.ts';

interface Tenant {
  user: User;
  token: string;
}

describe('callback routes', () => {
  let fx: Fixture;
  let app: FastifyInstance;
  let base: string;
  let hook: Receiver;
  let worker: CallbackDeliverer;
  let A: Tenant;
  let B: Tenant;
  let deadJob: Job;
  let deadId: number;
  const get = (path: string, t: Tenant | null = A) => call(base, 'GET', `/v2${path}`, t?.token ?? null);
  const post = (path: string, body?: unknown, t: Tenant | null = A) =>
    call(base, 'POST', `/v2${path}`, t?.token ?? null, body);

  const newTenant = async (): Promise<Tenant> => {
    const user = await tenant(fx.store);
    const token = generateToken(user.id);
    await fx.store.addToken(user.id, hashToken(token), 'test', Date.now());
    return { user, token };
  };

  before(async () => {
    fx = await openFixture();
    hook = await Receiver.start(() => ({ status: 410 }));
    const box = new SecretBox(parseMasterKey(newMasterKeyText()));
    worker = deliverer(fx.store, { schedule: [0, 50], secretBox: box });
    const upstream = pixverseProvider.connect({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1000 }); // never called here
    const scheduler = new Scheduler({
      provider: pixverseProvider,
      store: fx.store,
      upstream,
      secretBox: box,
      log: silent,
    });
    const auth = new Authenticator(fx.store, hashToken(newAdminToken()));
    // (Object.assign: also fits an AppDeps that carries callbackPolicy/deliverer once the gateway wires them.)
    const deps = Object.assign(
      { store: fx.store, scheduler, upstream, auth, now: Date.now },
      { callbackPolicy: worker.policy, deliverer: worker },
    ) as AppDeps;
    app = await buildApp(deps);
    // Until the gateway wires the routes itself, mount them as app.ts will: under /v2, user auth.
    if (!app.hasRoute({ method: 'GET', url: '/v2/callbacks/secret' })) {
      await app.register(
        async (v2) => {
          v2.addHook('onRequest', requireUser(auth));
          await v2.register(callbackRoutes, { ...deps, deliverer: worker });
        },
        { prefix: '/v2' },
      );
    }
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    A = await newTenant();
    B = await newTenant();
    deadJob = await finishJob(
      fx.store,
      await startJob(fx.store, A.user, { replyUrl: hook.url, replyRef: 'ref-1', progress: true }),
      { state: 'failed', error: 'nope' },
    );
    const dead = await waitFor(async () => {
      const list = await deliveriesOf(fx.store, A.user.id);
      return list.length === 2 && list.every((d) => d.state === 'dead') ? list : null;
    });
    deadId = dead[1]!.id;
  });

  after(async () => {
    await app.close();
    await worker.stop();
    await hook.close();
    await fx.close();
  });

  it('needs a token', async () => {
    for (const res of [
      await get('/callbacks/deliveries', null),
      await get('/callbacks/secret', null),
      await post('/callbacks/secret/rotate', undefined, null),
    ]) {
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, { error: 'Unauthorized', code: 401 });
    }
  });

  it('lists a job’s deliveries with their state, attempts and errors', async () => {
    const jobId = publicJobId(deadJob);
    const res = await get(`/callbacks/deliveries?job=${encodeURIComponent(jobId)}`);
    assert.equal(res.status, 200);
    const list = res.body.deliveries as Record<string, unknown>[];
    assert.equal(list.length, 2);
    assert.deepEqual(
      list.map((d) => d['event']),
      ['final', 'progress'],
      'newest first',
    );
    for (const d of list) {
      assert.equal(d['jobId'], jobId);
      assert.equal(d['state'], 'dead');
      assert.equal(d['attempts'], 1);
      assert.equal(d['lastStatus'], 410);
      assert.match(String(d['lastError']), /410 Gone/);
      assert.equal(d['nextAttemptAt'], null);
      assert.equal(d['deliveredAt'], null);
      assert.equal(d['url'], hook.url);
      assert.equal(d['webhookId'], `msg_${d['id']}`);
      assert.ok(!Number.isNaN(Date.parse(String(d['createdAt']))));
    }
  });

  it('filters by state, since and limit', async () => {
    assert.equal((await get('/callbacks/deliveries?state=dead')).body.deliveries.length, 2);
    assert.equal((await get('/callbacks/deliveries?state=delivered')).body.deliveries.length, 0);
    assert.equal((await get('/callbacks/deliveries?limit=1')).body.deliveries.length, 1);
    assert.equal(
      (await get(`/callbacks/deliveries?since=${new Date(Date.now() + 60_000).toISOString()}`)).body
        .deliveries.length,
      0,
    );
    assert.equal((await get('/callbacks/deliveries?since=2020-01-01')).body.deliveries.length, 2);
    assert.equal(
      (await get('/callbacks/deliveries', B)).body.deliveries.length,
      0,
      'tenants see only their own',
    );
  });

  it('says which field is wrong', async () => {
    const cases: [string, number, RegExp][] = [
      ['?state=lost', 400, /^state must be one of: pending, delivered, dead$/],
      ['?since=yesterday', 400, /^since must be an ISO 8601 date-time/],
      ['?since=2025-13-45T00:00:00Z', 400, /^since must be an ISO 8601/],
      ['?limit=0', 400, /limit/],
      ['?limit=many', 400, /limit/],
      ['?job=nope', 400, /^job "nope" is not a valid job id$/],
      [
        `?job=${encodeURIComponent(`user:${A.user.id}-pixverse:a@x.com-video:999999`)}`,
        404,
        /^job .* not found$/,
      ],
      [`?job=${encodeURIComponent(publicJobId(deadJob))}`, 403, /Unauthorized access/],
      ['?colour=red', 400, /unknown query parameter "colour"/],
    ];
    for (const [query, status, message] of cases) {
      const res = await get(`/callbacks/deliveries${query}`, status === 403 ? B : A);
      assert.equal(res.status, status, query);
      assert.equal(res.body.code, status);
      assert.match(res.body.error, message, query);
    }
  });

  it('shows one delivery with its body, by id or webhook-id; other tenants get 404', async () => {
    for (const id of [String(deadId), `msg_${deadId}`]) {
      const res = await get(`/callbacks/deliveries/${id}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.id, deadId);
      assert.equal(res.body.body.replyRef, 'ref-1');
      assert.equal(res.body.body.state, 'failed');
      assert.equal(res.body.body.error, 'nope');
    }
    assert.equal((await get(`/callbacks/deliveries/${deadId}`, B)).status, 404);
    const bad = await get('/callbacks/deliveries/abc');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /^id "abc" is not a delivery id/);
    assert.equal((await get('/callbacks/deliveries/987654')).body.error, 'Delivery 987654 not found');
  });

  it('redelivers one dead delivery, and refuses one still pending', async () => {
    hook.handler = () => ({ status: 200 });
    const before = hook.received.length;
    const res = await post(`/callbacks/deliveries/${deadId}/redeliver`);
    assert.equal(res.status, 200);
    assert.ok(['pending', 'delivered'].includes(res.body.state));
    const done = await waitFor(async () => {
      const d = await fx.store.getDelivery(A.user.id, deadId);
      return d?.state === 'delivered' ? d : null;
    });
    // The dead attempt (410) still counts: the redelivery added one, it did not restart the budget.
    assert.equal(done.attempts, 2);
    assert.equal(hook.received.length, before + 1);
    const last = hook.received.at(-1)!;
    assert.equal(last.headers['webhook-id'], `msg_${deadId}`, 'same webhook-id as before');
    assert.ok(verifyWebhook(A.user.webhookSecret, last.headers, last.body));
    assert.equal((await post(`/callbacks/deliveries/${deadId}/redeliver`, undefined, B)).status, 404);

    hook.handler = () => ({ status: 200, delayMs: 1_000 });
    await post(`/callbacks/deliveries/${deadId}/redeliver`); // delivered ones may be sent again
    await waitFor(() => hook.received.length === before + 2);
    const busy = await post(`/callbacks/deliveries/${deadId}/redeliver`);
    assert.equal(busy.status, 409);
    assert.match(busy.body.error, /still pending/);
    await waitFor(async () => (await fx.store.getDelivery(A.user.id, deadId))?.state === 'delivered');
  });

  it('redelivers every dead delivery since a time', async () => {
    hook.handler = () => ({ status: 410 });
    const job = await finishJob(fx.store, await startJob(fx.store, A.user, { replyUrl: hook.url }));
    await waitFor(async () => (await deliveriesOf(fx.store, A.user.id, job.id))[0]?.state === 'dead');
    const dead = (await deliveriesOf(fx.store, A.user.id)).filter((d) => d.state === 'dead');
    assert.equal(dead.length, 2, 'the progress one of the first job and this one');
    hook.handler = () => ({ status: 200 });
    assert.equal(
      (await post('/callbacks/redeliver', { since: new Date(Date.now() + 60_000).toISOString() })).body
        .redelivered,
      0,
    );
    const res = await post('/callbacks/redeliver', { since: new Date(Date.now() - 60_000).toISOString() });
    assert.deepEqual(res.body, { redelivered: 2 });
    await waitFor(async () =>
      (await deliveriesOf(fx.store, A.user.id)).every((d) => d.state === 'delivered'),
    );

    const missing = await post('/callbacks/redeliver', {});
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error, 'since is required');
    const wrong = await post('/callbacks/redeliver', { since: 'last week' });
    assert.match(wrong.body.error, /^since must be an ISO 8601/);
  });

  it('shows the signing secret and rotates it with a 24 h grace period', async () => {
    const res = await get('/callbacks/secret');
    assert.deepEqual(res.body, { secret: A.user.webhookSecret });
    const rotated = await post('/callbacks/secret/rotate');
    assert.equal(rotated.status, 200);
    assert.match(rotated.body.secret, /^whsec_/);
    assert.notEqual(rotated.body.secret, A.user.webhookSecret);
    assert.equal(rotated.body.previousSecret, A.user.webhookSecret);
    const until = Date.parse(rotated.body.previousValidUntil);
    assert.ok(Math.abs(until - (Date.now() + 24 * 3_600_000)) < 60_000);
    assert.deepEqual((await get('/callbacks/secret')).body, rotated.body);

    // A callback sent now carries both signatures.
    const job = await finishJob(fx.store, await startJob(fx.store, A.user, { replyUrl: hook.url }));
    const d = await waitFor(async () => {
      const [x] = await deliveriesOf(fx.store, A.user.id, job.id);
      return x?.state === 'delivered' ? x : null;
    });
    const received = hook.received.find((r) => r.headers['webhook-id'] === `msg_${d.id}`)!;
    assert.ok(verifyWebhook(rotated.body.secret, received.headers, received.body));
    assert.ok(verifyWebhook(rotated.body.previousSecret, received.headers, received.body));
  });

  it('gives a migrated tenant (no secret yet) one on first read', async () => {
    const user = await tenant(fx.store, '');
    const token = generateToken(user.id);
    await fx.store.addToken(user.id, hashToken(token), 't', Date.now());
    const res = await get('/callbacks/secret', { user, token });
    assert.match(res.body.secret, /^whsec_/);
    // Stored sealed (never the clear secret), and it opens to what the tenant was shown.
    const stored = (await fx.store.getUser(user.id))!.webhookSecret;
    assert.match(stored, /^v1:/);
    assert.ok(!stored.includes(res.body.secret.slice('whsec_'.length)));
    assert.equal(res.body.previousSecret, undefined);
    assert.equal((await get('/callbacks/secret', { user, token })).body.secret, res.body.secret);
  });
});
