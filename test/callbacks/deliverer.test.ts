/**
 * The deliverer against a real SQLite store and real receivers on loopback: durable, ordered,
 * signed, at-least-once delivery; retries, Retry-After, 410, timeouts, redirects, the SSRF guard
 * at connect time, secrets for migrated tenants and rotation, restarts and dead instances.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { rotateSecret } from '../../src/callbacks/secrets.ts';
import { verifyWebhook } from '../../src/callbacks/signing.ts';
import { checkCallbackUrl, createCallbackPolicy, type Resolver } from '../../src/callbacks/ssrf.ts';
import type { CallbackDeliverer } from '../../src/callbacks/deliverer.ts';
import {
  deliverer,
  deliveriesOf,
  finishJob,
  openFixture,
  sleep,
  startJob,
  tenant,
  waitFor,
  type Fixture,
} from './fixture.ts';
import { Receiver, type Received } from './receiver.ts';

const ids = (received: Received[]) => received.map((r) => String(r.headers['webhook-id']));
const body = (r: Received) => JSON.parse(r.body) as Record<string, unknown>;

describe('CallbackDeliverer', () => {
  let fx: Fixture;
  const receivers: Receiver[] = [];
  const deliverers: CallbackDeliverer[] = [];
  const receiver = async (...args: Parameters<typeof Receiver.start>) => {
    const r = await Receiver.start(...args);
    receivers.push(r);
    return r;
  };
  const run = (opts: Parameters<typeof deliverer>[1] = {}) => {
    const d = deliverer(fx.store, opts);
    deliverers.push(d);
    return d;
  };

  beforeEach(async () => {
    fx = await openFixture();
  });
  afterEach(async () => {
    for (const d of deliverers.splice(0)) await d.stop();
    for (const r of receivers.splice(0)) await r.close();
    await fx.close();
  });

  it('delivers progress then final, signed, with the job view, replyUrl and replyRef', async () => {
    const hook = await receiver();
    const user = await tenant(fx.store);
    run();
    const job = await startJob(fx.store, user, { replyUrl: hook.url, replyRef: 'order-1', progress: true });
    await finishJob(fx.store, job);
    await waitFor(() => hook.received.length >= 2, 5_000, 'two callbacks');
    await sleep(100);
    assert.equal(hook.received.length, 2);
    const [progress, final] = hook.received as [Received, Received];
    assert.equal(body(progress)['state'], 'running');
    assert.equal(body(progress)['video_status_final'], false);
    assert.equal(body(final)['state'], 'completed');
    assert.equal(body(final)['video_status_final'], true);
    assert.equal(body(final)['url'], 'https://media.example/v.mp4');
    for (const r of hook.received) {
      assert.equal(body(r)['replyRef'], 'order-1');
      assert.equal(body(r)['replyUrl'], hook.url);
      assert.match(String(body(r)['video_id']), /^user:\d+-pixverse:.+-video:\d+$/);
      assert.ok(verifyWebhook(user.webhookSecret, r.headers, r.body), 'valid signature');
      assert.equal(String(r.headers['webhook-signature']).split(' ').length, 1);
    }
    const deliveries = await deliveriesOf(fx.store, user.id, job.id);
    assert.deepEqual(
      deliveries.map((d) => [d.event, d.state, d.attempts, d.lastStatus]),
      [
        ['progress', 'delivered', 1, 200],
        ['final', 'delivered', 1, 200],
      ],
    );
    assert.deepEqual(
      ids(hook.received),
      deliveries.map((d) => `msg_${d.id}`),
    );
  });

  it('sends no progress callback unless asked, and nothing without a replyUrl', async () => {
    const hook = await receiver();
    const user = await tenant(fx.store);
    run();
    await finishJob(fx.store, await startJob(fx.store, user, { replyUrl: hook.url }));
    const silentJob = await startJob(fx.store, user, { replyUrl: null, progress: true });
    await finishJob(fx.store, silentJob);
    await waitFor(() => hook.received.length >= 1);
    await sleep(200);
    assert.deepEqual(
      hook.received.map((r) => body(r)['state']),
      ['completed'],
    );
    assert.deepEqual(await deliveriesOf(fx.store, user.id, silentJob.id), []);
  });

  it('receiver down, deliverer restarted (store reopened) in the middle: every callback arrives once per event, in order, signed', async () => {
    const hook = await receiver();
    const url = hook.url;
    await hook.down();
    const user = await tenant(fx.store);
    const schedule = [0, 150, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300];
    run({ schedule });
    const jobs = [];
    for (let i = 0; i < 12; i++)
      jobs.push(await startJob(fx.store, user, { replyUrl: url, replyRef: `r${i}`, progress: true }));
    for (const job of jobs.slice(0, 8))
      await finishJob(fx.store, job, { state: 'completed', resultUrl: 'https://m/x.mp4' });
    await sleep(400); // a few failed attempts while the receiver is down

    // Crash-like restart: stop, close the store file, reopen it, new deliverer.
    await deliverers.pop()!.stop();
    await fx.reopen();
    for (const job of jobs.slice(8))
      await finishJob(fx.store, job, { state: 'failed', error: 'upstream failed' });
    const pendingBefore = (await deliveriesOf(fx.store, user.id)).filter((d) => d.state === 'pending');
    assert.equal(pendingBefore.length, 24, 'nothing delivered or lost while down');
    assert.ok(
      pendingBefore.some((d) => d.attempts > 0),
      'some attempts failed',
    );

    // An idempotent receiver: answers 500 to a random share at first, dedupes by webhook-id.
    let n = 0;
    hook.handler = () => ({ status: n++ % 3 === 0 && n < 20 ? 500 : 200 });
    await hook.listen();
    run({ schedule });
    await waitFor(
      async () => (await deliveriesOf(fx.store, user.id)).every((d) => d.state === 'delivered'),
      15_000,
      'all delivered',
    );

    const seen = new Map<string, Received>();
    for (const r of hook.received) {
      assert.ok(verifyWebhook(user.webhookSecret, r.headers, r.body), 'every attempt is validly signed');
      if (!seen.has(String(r.headers['webhook-id']))) seen.set(String(r.headers['webhook-id']), r);
    }
    assert.equal(seen.size, 24, 'each of 12 jobs × (progress, final) exactly once after dedupe');
    for (const [i, job] of jobs.entries()) {
      const firsts = [...seen.values()].filter((r) => body(r)['replyRef'] === `r${i}`);
      assert.deepEqual(
        firsts.map((r) => body(r)['state']),
        ['running', i < 8 ? 'completed' : 'failed'],
        `job ${job.id} in order`,
      );
      // Per job, the final is never sent before the progress callback was accepted.
      const attempts = hook.received.filter((r) => body(r)['replyRef'] === `r${i}`);
      const firstFinal = attempts.findIndex((r) => body(r)['state'] !== 'running');
      assert.ok(
        firstFinal > 0 && attempts.slice(firstFinal).every((r) => body(r)['state'] !== 'running'),
        'no progress after a final',
      );
    }
  });

  it('a dead instance’s leased deliveries are picked up when its lease expires', async () => {
    const hook = await receiver();
    const user = await tenant(fx.store);
    const job = await startJob(fx.store, user, { replyUrl: hook.url });
    await finishJob(fx.store, job);
    const [stolen] = await fx.store.claimDueDeliveries('crashed-instance', Date.now(), 400, 10);
    assert.ok(stolen);
    const started = Date.now();
    run();
    await waitFor(() => hook.received.length === 1, 5_000, 'delivered after the lease');
    assert.ok(Date.now() - started >= 300, 'not while the dead instance held the lease');
    await waitFor(
      async () => (await deliveriesOf(fx.store, user.id))[0]?.state === 'delivered',
      5_000,
      'recorded',
    );
  });

  it('retries a 500 on schedule until it succeeds', async () => {
    const hook = await receiver((_r, i) => ({ status: i < 2 ? 500 : 204, body: 'boom' }));
    const user = await tenant(fx.store);
    run();
    await finishJob(fx.store, await startJob(fx.store, user, { replyUrl: hook.url }));
    const [d] = await waitFor(async () => {
      const list = await deliveriesOf(fx.store, user.id);
      return list[0]?.state === 'delivered' ? list : null;
    });
    assert.equal(d!.attempts, 3);
    assert.equal(d!.lastStatus, 204);
    const gaps = hook.received.slice(1).map((r, i) => r.at - hook.received[i]!.at);
    assert.ok(gaps[0]! >= 170, `first retry after ~200 ms (was ${gaps[0]})`);
    assert.ok(gaps[1]! >= 350, `second retry after ~400 ms (was ${gaps[1]})`);
    assert.equal(new Set(ids(hook.received)).size, 1, 'the same webhook-id on every retry');
    const stamps = hook.received.map((r) => Number(r.headers['webhook-timestamp']));
    assert.ok(stamps.every((s) => Math.abs(s * 1000 - Date.now()) < 10_000));
  });

  it('dead-letters after the last attempt, keeping the last error', async () => {
    const hook = await receiver(() => ({ status: 502, body: 'bad gateway' }));
    const user = await tenant(fx.store);
    run({ schedule: [0, 50, 50] });
    await finishJob(fx.store, await startJob(fx.store, user, { replyUrl: hook.url }));
    const [d] = await waitFor(async () => {
      const list = await deliveriesOf(fx.store, user.id);
      return list[0]?.state === 'dead' ? list : null;
    });
    assert.equal(d!.attempts, 3);
    assert.equal(d!.lastStatus, 502);
    assert.equal(d!.lastError, 'HTTP 502; gave up after 3 attempts');
    assert.equal(d!.nextAttemptAt, null);
    assert.equal(hook.received.length, 3);
  });

  it('410 Gone stops at once (dead, and says so)', async () => {
    const hook = await receiver(() => ({ status: 410 }));
    const user = await tenant(fx.store);
    run();
    await finishJob(fx.store, await startJob(fx.store, user, { replyUrl: hook.url }));
    const [d] = await waitFor(async () => {
      const list = await deliveriesOf(fx.store, user.id);
      return list[0]?.state === 'dead' ? list : null;
    });
    await sleep(300);
    assert.equal(hook.received.length, 1);
    assert.equal(d!.attempts, 1);
    assert.equal(d!.lastStatus, 410);
    assert.match(d!.lastError!, /410 Gone.*not retried/);
  });

  it('429 with Retry-After is honoured over a shorter schedule', async () => {
    const hook = await receiver((_r, i) =>
      i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 },
    );
    const user = await tenant(fx.store);
    run({ schedule: [0, 50, 50] });
    await finishJob(fx.store, await startJob(fx.store, user, { replyUrl: hook.url }));
    await waitFor(() => hook.received.length >= 1);
    await waitFor(async () => (await deliveriesOf(fx.store, user.id))[0]?.attempts === 1);
    const [pending] = await deliveriesOf(fx.store, user.id);
    assert.equal(pending!.lastStatus, 429);
    assert.match(pending!.lastError!, /Retry-After 1 s/);
    await waitFor(() => hook.received.length >= 2, 5_000);
    const gap = hook.received[1]!.at - hook.received[0]!.at;
    assert.ok(gap >= 950, `waited for Retry-After (gap ${gap} ms)`);
  });

  it('a receiver slower than the timeout is retried, and the error says timeout', async () => {
    const hook = await receiver(() => ({ status: 200, delayMs: 1_500 }));
    const user = await tenant(fx.store);
    run({ schedule: [0, 100], timeoutMs: 250 });
    await finishJob(fx.store, await startJob(fx.store, user, { replyUrl: hook.url }));
    const [d] = await waitFor(async () => {
      const list = await deliveriesOf(fx.store, user.id);
      return list[0]?.state === 'dead' ? list : null;
    });
    assert.equal(hook.received.length, 2);
    assert.equal(d!.attempts, 2);
    assert.equal(d!.lastStatus, null);
    assert.equal(d!.lastError, 'timed out after 250 ms; gave up after 2 attempts');
  });

  it('does not follow redirects: the redirect target never receives the callback', async () => {
    const target = await receiver();
    const hook = await receiver(() => ({ status: 307, headers: { location: target.url } }));
    const user = await tenant(fx.store);
    run({ schedule: [0, 50] });
    await finishJob(fx.store, await startJob(fx.store, user, { replyUrl: hook.url }));
    const [d] = await waitFor(async () => {
      const list = await deliveriesOf(fx.store, user.id);
      return list[0]?.state === 'dead' ? list : null;
    });
    assert.equal(d!.lastStatus, 307);
    assert.match(d!.lastError!, /redirects are not followed/);
    assert.equal(hook.received.length, 2);
    assert.equal(target.received.length, 0);
  });

  it('refuses loopback targets when not allowlisted (literal: dead at once)', async () => {
    const hook = await receiver();
    const user = await tenant(fx.store);
    run({ allowlist: [] });
    for (const host of ['127.0.0.1', '[::ffff:127.0.0.1]']) {
      await finishJob(
        fx.store,
        await startJob(fx.store, user, { replyUrl: `http://${host}:${hook.port}/hook` }),
      );
    }
    const list = await waitFor(async () => {
      const all = await deliveriesOf(fx.store, user.id);
      return all.length === 2 && all.every((d) => d.state === 'dead') ? all : null;
    });
    for (const d of list) {
      assert.equal(d.attempts, 1);
      assert.match(d.lastError!, /a loopback address.*not retried/);
    }
    assert.equal(hook.received.length, 0);
  });

  it('refuses a name that rebinds to loopback between the submit check and the attempts', async () => {
    const hook = await receiver();
    let calls = 0;
    const resolve: Resolver = async () =>
      ++calls === 1 ? [{ address: '93.184.216.34', family: 4 }] : [{ address: '127.0.0.1', family: 4 }];
    const url = `http://rebind.test:${hook.port}/hook`;
    await checkCallbackUrl(url, createCallbackPolicy([], resolve)); // at submit: public
    const user = await tenant(fx.store);
    run({ allowlist: [], resolve, schedule: [0, 50] });
    await finishJob(fx.store, await startJob(fx.store, user, { replyUrl: url }));
    const [d] = await waitFor(async () => {
      const list = await deliveriesOf(fx.store, user.id);
      return list[0]?.state === 'dead' ? list : null;
    });
    assert.equal(d!.attempts, 2, 'a name is retried: it may resolve elsewhere later');
    assert.match(d!.lastError!, /SSRF guard: replyUrl host rebind\.test resolves to a loopback address/);
    assert.doesNotMatch(d!.lastError!, /127\.0\.0\.1/, 'the resolved address is not shown to the tenant');
    assert.ok(calls >= 3, 'resolved again at every connect');
    assert.equal(hook.received.length, 0);
  });

  it('a tenant without a secret (migrated row) gets one on first use, and it signs', async () => {
    const hook = await receiver();
    const user = await tenant(fx.store, '');
    run();
    await finishJob(fx.store, await startJob(fx.store, user, { replyUrl: hook.url }));
    await waitFor(() => hook.received.length === 1);
    const stored = (await fx.store.getUser(user.id))!;
    assert.match(stored.webhookSecret, /^whsec_[A-Za-z0-9+/]{32}$/);
    assert.ok(verifyWebhook(stored.webhookSecret, hook.received[0]!.headers, hook.received[0]!.body));
    assert.equal(
      String(hook.received[0]!.headers['webhook-signature']).split(' ').length,
      1,
      'the empty old secret never signs',
    );
  });

  it('during a rotation callbacks carry both signatures, each valid', async () => {
    const hook = await receiver();
    const user = await tenant(fx.store);
    const rotated = (await rotateSecret(fx.store, user.id, Date.now()))!;
    assert.notEqual(rotated.webhookSecret, user.webhookSecret);
    assert.equal(rotated.webhookSecretPrev, user.webhookSecret);
    run();
    await finishJob(fx.store, await startJob(fx.store, user, { replyUrl: hook.url }));
    await waitFor(() => hook.received.length === 1);
    const [r] = hook.received as [Received];
    assert.equal(String(r.headers['webhook-signature']).split(' ').length, 2);
    assert.ok(verifyWebhook(user.webhookSecret, r.headers, r.body), 'old secret still verifies');
    assert.ok(verifyWebhook(rotated.webhookSecret, r.headers, r.body), 'new secret verifies');
  });

  it('stop() lets attempts in flight finish and be recorded, and claims nothing more', async () => {
    const hook = await receiver(() => ({ status: 200, delayMs: 300 }));
    const user = await tenant(fx.store);
    const d = run();
    await finishJob(fx.store, await startJob(fx.store, user, { replyUrl: hook.url }));
    await waitFor(() => hook.received.length === 1);
    await d.stop();
    const [delivery] = await deliveriesOf(fx.store, user.id);
    assert.equal(delivery!.state, 'delivered');
    await finishJob(fx.store, await startJob(fx.store, user, { replyUrl: hook.url }));
    await sleep(300);
    assert.equal(hook.received.length, 1, 'a stopped deliverer claims nothing');
  });

  it('several deliverers on one store attempt each delivery once, and keep each job in order', async () => {
    const hook = await receiver(() => ({ status: 200, delayMs: 5 }));
    const user = await tenant(fx.store);
    for (let i = 0; i < 3; i++) run({ concurrency: 4 });
    const jobs = [];
    for (let i = 0; i < 30; i++)
      jobs.push(await startJob(fx.store, user, { replyUrl: hook.url, replyRef: `j${i}`, progress: true }));
    for (const job of jobs) await finishJob(fx.store, job);
    for (const d of deliverers) d.wake();
    await waitFor(
      async () => (await deliveriesOf(fx.store, user.id)).every((d) => d.state === 'delivered'),
      10_000,
    );
    assert.equal(hook.received.length, 60, 'no duplicates while nothing failed');
    for (let i = 0; i < 30; i++) {
      assert.deepEqual(
        hook.received.filter((r) => body(r)['replyRef'] === `j${i}`).map((r) => body(r)['state']),
        ['running', 'completed'],
      );
    }
  });
});
