/**
 * One attempt against real receivers on loopback: what counts as delivered, and how 5xx, 410,
 * 429/503 with Retry-After, slow receivers, redirects and a closed port are reported.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CallbackSender } from '../../src/callbacks/sender.ts';
import { createCallbackPolicy } from '../../src/callbacks/ssrf.ts';
import { Receiver } from './receiver.ts';

const HEADERS = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1700000000', 'webhook-signature': 'v1,abc' };

describe('CallbackSender (one attempt)', () => {
  let receiver: Receiver;
  let target: Receiver;
  let sender: CallbackSender;

  before(async () => {
    receiver = await Receiver.start();
    target = await Receiver.start();
    sender = new CallbackSender({ policy: createCallbackPolicy(['127.0.0.0/8']), timeoutMs: 300 });
  });
  after(async () => {
    await sender.close();
    await receiver.close();
    await target.close();
  });

  it('POSTs the JSON body with the signature headers; any 2xx is delivered', async () => {
    for (const status of [200, 201, 202, 204, 299]) {
      receiver.handler = () => ({ status });
      assert.deepEqual(await sender.send(receiver.url, '{"a":1}', HEADERS), { delivered: true, status });
    }
    const last = receiver.received.at(-1)!;
    assert.equal(last.method, 'POST');
    assert.equal(last.body, '{"a":1}');
    assert.equal(last.headers['content-type'], 'application/json');
    assert.equal(last.headers['webhook-id'], 'msg_1');
    assert.equal(last.headers['webhook-signature'], 'v1,abc');
    assert.match(String(last.headers['user-agent']), /^Pixgate-Webhooks/);
  });

  it('5xx and 4xx are failures that never echo the answer', async () => {
    receiver.handler = () => ({ status: 500, body: 'database   is\n down' });
    assert.deepEqual(await sender.send(receiver.url, '{}', HEADERS), {
      delivered: false,
      status: 500,
      error: 'HTTP 500',
    });
    // The receiver's answer is never echoed to the tenant (it could be an internal service's).
    receiver.handler = () => ({ status: 400, body: 'x'.repeat(5000) });
    const outcome = await sender.send(receiver.url, '{}', HEADERS);
    assert.deepEqual(outcome, { delivered: false, status: 400, error: 'HTTP 400' });
  });

  it('410 Gone stops retries', async () => {
    receiver.handler = () => ({ status: 410 });
    const outcome = await sender.send(receiver.url, '{}', HEADERS);
    assert.ok(!outcome.delivered && outcome.final === true && outcome.status === 410);
    assert.match(outcome.error, /410 Gone/);
  });

  it('429 and 503 report Retry-After (seconds or date)', async () => {
    receiver.handler = () => ({ status: 429, headers: { 'retry-after': '7' } });
    const a = await sender.send(receiver.url, '{}', HEADERS);
    assert.ok(!a.delivered && a.retryAfterMs === 7_000 && a.status === 429);
    assert.match(a.error, /HTTP 429 \(Retry-After 7 s\)/);
    const now = Date.now();
    receiver.handler = () => ({
      status: 503,
      headers: { 'retry-after': new Date(now + 60_000).toUTCString() },
    });
    const b = await sender.send(receiver.url, '{}', HEADERS, () => now);
    assert.ok(
      !b.delivered && b.retryAfterMs !== null && b.retryAfterMs! > 58_000 && b.retryAfterMs! <= 60_000,
    );
    receiver.handler = () => ({ status: 429 });
    const c = await sender.send(receiver.url, '{}', HEADERS);
    assert.ok(!c.delivered && c.retryAfterMs === null);
  });

  it('a receiver slower than the timeout is a failure that says so', async () => {
    receiver.handler = () => ({ status: 200, delayMs: 1_000 });
    const started = Date.now();
    const outcome = await sender.send(receiver.url, '{}', HEADERS);
    assert.ok(Date.now() - started < 900, 'the attempt gave up at the timeout');
    assert.deepEqual(outcome, { delivered: false, status: null, error: 'timed out after 300 ms' });
  });

  it('redirects are not followed: the target never receives the callback', async () => {
    for (const status of [301, 302, 307, 308]) {
      receiver.handler = () => ({ status, headers: { location: target.url } });
      const outcome = await sender.send(receiver.url, '{}', HEADERS);
      assert.ok(!outcome.delivered && outcome.status === status);
      assert.equal(outcome.error, `HTTP ${status}: redirects are not followed`);
      assert.ok(!outcome.error!.includes(target.url), 'the Location is not echoed');
    }
    assert.equal(target.received.length, 0);
  });

  it('a name that does not resolve is a failure that says so (retried)', async () => {
    const s = new CallbackSender({ policy: createCallbackPolicy([], async () => []), timeoutMs: 300 });
    const outcome = await s.send('http://gone.test/hook', '{}', HEADERS);
    await s.close();
    assert.deepEqual(outcome, {
      delivered: false,
      status: null,
      error: 'replyUrl host gone.test does not resolve',
    });
  });

  it('a closed port is a connection failure', async () => {
    const gone = await Receiver.start();
    const url = gone.url;
    await gone.close();
    const outcome = await sender.send(url, '{}', HEADERS);
    assert.ok(!outcome.delivered && outcome.status === null && outcome.final !== true);
    assert.match(outcome.error, /ECONNREFUSED/);
  });
});
