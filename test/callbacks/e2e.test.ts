/**
 * End to end through the gateway (simulator + gateway on loopback, real receivers): callbacks for
 * real jobs survive a receiver outage and a gateway restart, arrive once per event (after dedupe
 * by webhook-id) in order and signed; replyUrl is checked at submit; dead letters are redelivered
 * through the API. Skipped until the gateway wires the callbacks module (routes under /v2).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { verifyWebhook } from '../../src/callbacks/signing.ts';
import { addAccount, call, createTenant, startHarness, waitFor, type Harness } from '../helpers/harness.ts';
import { Receiver, type Received } from './receiver.ts';

const P = '/v2/pixverse';
const SCHEDULE = [0, 200, 400, 800, 800, 800, 800, 800, 800, 800, 800, 800];

describe('callbacks end to end', () => {
  let h: Harness;
  let token: string;
  let hook: Receiver;

  before(async () => {
    h = await startHarness({
      config: { callbackAllowlist: ['127.0.0.0/8'], callbackScheduleMs: SCHEDULE, callbackTimeoutMs: 2_000 },
      simulator: { maxConcurrent: 8 },
    });
    ({ token } = await createTenant(h));
    await addAccount(h, token, 'cb@example.com', 'sim-key-callbacks-e2e', 8);
    hook = await Receiver.start();
  });
  after(async () => {
    await hook.close();
    await h.close();
  });

  const api = (method: string, path: string, body?: unknown) => call(h.gw.url, method, path, token, body);
  const deliveries = async (query = '') =>
    (await api('GET', `/v2/callbacks/deliveries?limit=500${query}`)).body.deliveries as Record<
      string,
      unknown
    >[];
  const body = (r: Received) => JSON.parse(r.body) as Record<string, unknown>;

  it('survives a receiver outage and a gateway restart: every callback once per event, in order, signed', async () => {
    const url = hook.url;
    await hook.down();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await api('POST', `${P}/videos/create`, {
        prompt: `cb ${i} ${i === 5 ? '#sim:fail' : '#sim:duration=300'}`,
        replyUrl: url,
        replyRef: `ref-${i}`,
        replyProgress: i % 2 === 0,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      ids.push(res.body.video_id);
    }
    for (const id of ids)
      await waitFor(async () => (await api('GET', `${P}/videos/${id}`)).body.video_status_final === true);
    const expected = 6 + 3; // a final for each, a progress callback for the three that asked
    const pending = await waitFor(async () => {
      const list = await deliveries();
      return list.length === expected && list.some((d) => (d['attempts'] as number) > 0) ? list : null;
    });
    assert.ok(
      pending.every((d) => d['state'] === 'pending'),
      'nothing lost or dead while the receiver is down',
    );
    assert.match(String(pending.find((d) => (d['attempts'] as number) > 0)!['lastError']), /ECONNREFUSED/);

    await h.restart();
    await hook.listen();
    await waitFor(async () => (await deliveries()).every((d) => d['state'] === 'delivered'), 20_000);

    const secret = (await api('GET', '/v2/callbacks/secret')).body.secret as string;
    const firsts = new Map<string, Received>();
    for (const r of hook.received) {
      assert.ok(verifyWebhook(secret, r.headers, r.body), 'signed with the tenant secret');
      if (!firsts.has(String(r.headers['webhook-id']))) firsts.set(String(r.headers['webhook-id']), r);
    }
    assert.equal(firsts.size, expected);
    for (let i = 0; i < 6; i++) {
      const events = [...firsts.values()].filter((r) => body(r)['replyRef'] === `ref-${i}`);
      const states = events.map((r) => body(r)['state']);
      assert.deepEqual(
        states,
        [...(i % 2 === 0 ? ['running'] : []), i === 5 ? 'failed' : 'completed'],
        `ref-${i} in order`,
      );
      assert.ok(events.every((r) => body(r)['video_id'] === ids[i]));
    }
  });

  it('refuses private and loopback replyUrls at submit and in POST /v2/account', async () => {
    for (const replyUrl of [
      'http://10.0.0.1/hook',
      'http://169.254.169.254/latest',
      'http://[fd00::1]/',
      'http://[::ffff:192.168.0.1]/',
    ]) {
      const res = await api('POST', `${P}/videos/create`, { prompt: 'nope', replyUrl });
      assert.equal(res.status, 400, replyUrl);
      assert.match(res.body.error, /^replyUrl host .* is a .*address/);
      const account = await api('POST', '/v2/account', { replyUrl });
      assert.equal(account.status, 400, replyUrl);
      assert.match(account.body.error, /^replyUrl /);
    }
  });

  it('dead-letters a callback the receiver refuses, and redelivers it through the API', async () => {
    hook.handler = () => ({ status: 410 });
    const res = await api('POST', `${P}/videos/create`, {
      prompt: 'gone #sim:duration=200',
      replyUrl: hook.url,
      replyRef: 'dead-1',
    });
    const jobId = res.body.video_id as string;
    const [dead] = await waitFor(async () => {
      const list = await deliveries(`&job=${encodeURIComponent(jobId)}`);
      return list[0]?.['state'] === 'dead' ? list : null;
    });
    assert.equal(dead!['jobId'], jobId);
    assert.match(String(dead!['lastError']), /410/);
    hook.handler = () => ({ status: 200 });
    const again = await api('POST', `/v2/callbacks/deliveries/${dead!['id']}/redeliver`);
    assert.equal(again.status, 200);
    await waitFor(
      async () => (await api('GET', `/v2/callbacks/deliveries/${dead!['id']}`)).body.state === 'delivered',
    );
    assert.equal(hook.received.filter((r) => body(r)['replyRef'] === 'dead-1').length, 2);
  });
});
