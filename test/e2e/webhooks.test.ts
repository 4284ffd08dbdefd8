/**
 * PixVerse webhooks end to end: the simulator signs and delivers, the gateway verifies and polls at
 * once, so a job's slot frees (and a queued job starts) long before its next scheduled poll.
 * Expected durations are set far above the jobs' real ones, so only the webhook can explain a
 * prompt finish.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { addAccount, call, createTenant, startHarness, waitFor, type Harness } from '../helpers/harness.ts';

const KEY = 'sim-key-webhook-0001';
const EMAIL = 'hook@example.com';
const PLAIN_KEY = 'sim-key-webhook-0002';
const PLAIN_EMAIL = 'plain@example.com';
/** The gateway expects jobs to take this long: its first plain poll comes at 0.9 × 6 s. */
const EXPECTED_MS = 6_000;

function sign(
  secret: string,
  timestamp: string,
  nonce: string,
  body: Record<string, string | number | boolean>,
): string {
  const pairs = Object.keys(body)
    .sort()
    .map((k) => [k, String(body[k])] as [string, string]);
  return createHmac('sha256', secret)
    .update(`${timestamp}\n${nonce}\n${new URLSearchParams(pairs).toString()}`)
    .digest('base64');
}

describe('PixVerse webhooks', () => {
  let h: Harness;
  let token: string;
  let hook: { webhook_id: string; secret: string };

  before(async () => {
    h = await startHarness({
      simulator: { keyLimits: { [KEY]: 1, [PLAIN_KEY]: 1 }, durationMs: { min: 150, max: 250 } },
      config: { expectedDurationMs: EXPECTED_MS },
      tuning: {
        poll: {
          lagWeight: 10,
          minIntervalMs: 20,
          maxIntervalMs: 10_000,
          maxFirstPollMs: 10_000,
          backstopQuantile: null,
        },
      },
    });
    ({ token } = await createTenant(h, 'webhooks'));
    const created = await call(h.sim.url, 'POST', '/_sim/webhooks', null, {
      url: `${h.gw.url}/upstream/pixverse/webhook`,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    hook = created.body;
    const added = await call(h.gw.url, 'POST', `/v2/pixverse/accounts/${EMAIL}`, token, {
      apiKey: KEY,
      maxJobs: 1,
      webhookId: hook.webhook_id,
      webhookSecret: hook.secret,
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.webhookId, hook.webhook_id);
    assert.ok(!JSON.stringify(added.body).includes(hook.secret), 'the secret is never shown');
    await addAccount(h, token, PLAIN_EMAIL, PLAIN_KEY, 1);
  });
  after(() => h.close());

  const create = (body: Record<string, unknown>) =>
    call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, body);
  const view = async (id: string) =>
    (await call(h.gw.url, 'GET', `/v2/pixverse/videos/${encodeURIComponent(id)}`, token)).body;
  const final = (id: string, timeoutMs: number) =>
    waitFor(async () => ((await view(id)).video_status_final ? view(id) : null), timeoutMs, 20);
  const deliver = (body: unknown, headers: Record<string, string>) =>
    call(
      h.gw.url,
      'POST',
      '/upstream/pixverse/webhook',
      null,
      typeof body === 'string' ? body : JSON.stringify(body),
      { 'content-type': 'application/json', ...headers },
    );

  it('finishes a job when PixVerse reports it, with one status read and long before the first scheduled poll', async () => {
    const started = Date.now();
    const res = await create({ email: EMAIL, prompt: 'webhook job' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const done = await final(res.body.video_id, 4_000);
    assert.equal(done.video_status_name, 'COMPLETED');
    assert.ok(Date.now() - started < 0.9 * EXPECTED_MS, `finished after ${Date.now() - started} ms`);
    const job = (await h.gw.store.jobsByUpstreamId(done.upstream_id))[0]!;
    assert.equal(job.pollCount, 0, 'the first status read already saw the job final');
  });

  it('refills a freed slot from the queue at once', async () => {
    const started = Date.now();
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const res = await create({ email: EMAIL, prompt: `queued ${i}`, queue: true });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      ids.push(res.body.video_id as string);
    }
    for (const id of ids) assert.equal((await final(id, 6_000)).video_status_name, 'COMPLETED');
    // Three jobs of ≤ 250 ms one after another on a single slot; by polling alone the first would
    // not even be looked at before 5.4 s.
    assert.ok(Date.now() - started < 0.9 * EXPECTED_MS, `three queued jobs took ${Date.now() - started} ms`);
    assert.equal(h.sim.stats().keys[KEY]!.violations, 0);
  });

  it('falls back to polling for accounts without a webhook and for lost deliveries', async () => {
    const plain = await create({ email: PLAIN_EMAIL, prompt: 'no webhook here' });
    const dropped = await create({ email: EMAIL, prompt: 'lost delivery #sim:webhook-drop' });
    assert.equal(plain.status, 200);
    assert.equal(dropped.status, 200);
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(
      (await view(plain.body.video_id)).video_status_final,
      false,
      'polling alone has not looked yet',
    );
    assert.equal(
      (await view(dropped.body.video_id)).video_status_final,
      false,
      'a lost webhook leaves the job to the backstop poll',
    );
    assert.equal((await final(plain.body.video_id, 15_000)).video_status_name, 'COMPLETED');
    assert.equal((await final(dropped.body.video_id, 25_000)).video_status_name, 'COMPLETED');
  });

  it('answers "ok" only to a signed delivery and names what is wrong otherwise', async () => {
    const res = await create({ email: EMAIL, prompt: 'signed deliveries' });
    const done = await final(res.body.video_id, 4_000);
    const body = {
      id: done.upstream_id as string,
      status: 1,
      url: 'https://media.example/v.mp4',
      has_audio: false,
    };
    const ts = String(Math.floor(Date.now() / 1000));
    const nonce = 'a'.repeat(32);
    const good = {
      'webhook-timestamp': ts,
      'webhook-nonce': nonce,
      'webhook-signature': sign(hook.secret, ts, nonce, body),
    };

    const duplicate = await deliver(body, good);
    assert.equal(duplicate.status, 200);
    assert.equal(duplicate.body, 'ok', 'a repeated delivery of a final job is acknowledged');

    const forged = await deliver(body, {
      ...good,
      'webhook-signature': sign('not-the-secret', ts, nonce, body),
    });
    assert.equal(forged.status, 401);
    assert.match(forged.body.error, /Webhook-Signature/);
    assert.equal(forged.body.code, 401);

    const oldTs = String(Math.floor(Date.now() / 1000) - 3600);
    const stale = await deliver(body, {
      ...good,
      'webhook-timestamp': oldTs,
      'webhook-signature': sign(hook.secret, oldTs, nonce, body),
    });
    assert.equal(stale.status, 401);
    assert.match(stale.body.error, /Webhook-Timestamp/);

    const unsigned = await deliver(body, {});
    assert.equal(unsigned.status, 401);
    assert.match(unsigned.body.error, /headers are required/);

    const unknown = await deliver({ ...body, id: '999999999999999' }, good);
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /999999999999999/);

    const noId = await deliver({ status: 1 }, good);
    assert.equal(noId.status, 400);
    assert.match(noId.body.error, /\bid\b/);

    const broken = await deliver('{"id": 12', good);
    assert.equal(broken.status, 400);
    assert.match(broken.body.error, /JSON/);

    // The id as a JSON number (int64, beyond 2^53) is read without losing digits.
    const asNumber = `{"id":${done.upstream_id},"status":1,"url":"https://media.example/v.mp4","has_audio":false}`;
    const numeric = await deliver(asNumber, good);
    assert.equal(numeric.status, 200, JSON.stringify(numeric.body));
  });

  it('keeps, replaces and removes an account webhook, and refuses half a configuration', async () => {
    const path = `/v2/pixverse/accounts/${EMAIL}`;
    const half = await call(h.gw.url, 'POST', path, token, { apiKey: KEY, maxJobs: 1, webhookId: 'abc' });
    assert.equal(half.status, 400);
    assert.match(half.body.error, /webhookSecret/);
    const secretOnly = await call(h.gw.url, 'POST', path, token, {
      apiKey: KEY,
      maxJobs: 1,
      webhookSecret: 'long enough secret',
    });
    assert.equal(secretOnly.status, 400);
    assert.match(secretOnly.body.error, /webhookId/);
    const badId = await call(h.gw.url, 'POST', path, token, {
      apiKey: KEY,
      maxJobs: 1,
      webhookId: 'has spaces',
      webhookSecret: 'long enough secret',
    });
    assert.equal(badId.status, 400);
    assert.match(badId.body.error, /webhookId/);

    const kept = await call(h.gw.url, 'POST', path, token, { apiKey: KEY, maxJobs: 1 });
    assert.equal(kept.status, 201);
    assert.equal(kept.body.webhookId, hook.webhook_id, 'a re-post without webhook fields keeps the webhook');

    const cleared = await call(h.gw.url, 'POST', path, token, { apiKey: KEY, maxJobs: 1, webhookId: null });
    assert.equal(cleared.status, 201);
    assert.equal(cleared.body.webhookId, undefined);
    assert.equal((await call(h.gw.url, 'GET', path, token)).body.webhookId, undefined);

    const restored = await call(h.gw.url, 'POST', path, token, {
      apiKey: KEY,
      maxJobs: 1,
      webhookId: hook.webhook_id,
      webhookSecret: hook.secret,
    });
    assert.equal(restored.body.webhookId, hook.webhook_id);
  });
});
