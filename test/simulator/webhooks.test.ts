/**
 * Webhooks of text/img generations: the /_sim/webhooks console, signed deliveries to real HTTP
 * receivers on 127.0.0.1, the retry schedule, the webhook markers and close() with work pending.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import {
  startSimulator,
  webhookSignedForm,
  type RunningSimulator,
  type WebhookEvent,
} from '../../src/providers/pixverse/simulator/index.ts';
import { parseMarkers } from '../../src/providers/pixverse/simulator/markers.ts';
import {
  balance,
  call,
  createVideo,
  deleteJob,
  sim,
  sleep,
  stats,
  statsWhen,
  uploadImage,
} from './helpers.ts';

interface Hit {
  at: number;
  headers: IncomingHttpHeaders;
  body: string;
}

type Answer = { status: number; body: string } | 'hang';

interface Receiver {
  url: string;
  hits: Hit[];
  /** Resolves once `count` requests arrived (rejects after the deadline). */
  until(count: number, deadlineMs?: number): Promise<Hit[]>;
}

/** A webhook receiver; `answer(n)` decides the reply to its n-th request (1-based). */
async function receiver(
  t: TestContext,
  answer: (n: number) => Answer = () => ({ status: 200, body: 'ok' }),
): Promise<Receiver> {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ at: Date.now(), headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const reply = answer(hits.length);
      if (reply === 'hang') return;
      res.writeHead(reply.status, { 'content-type': 'text/plain' });
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    hits,
    async until(count, deadlineMs = 5000) {
      const deadline = Date.now() + deadlineMs;
      while (hits.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} webhook requests, got ${hits.length}`);
        await sleep(5);
      }
      return hits;
    },
  };
}

async function control(
  s: RunningSimulator,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: any }> {
  const init: RequestInit = { method };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(`${s.url}/_sim${path}`, init);
  return { status: res.status, json: await res.json() };
}

/** The signature a receiver computes from the documented rule, written out without the simulator's helper. */
function expectedSignature(secret: string, hit: Hit): string {
  const payload = JSON.parse(hit.body) as Record<string, unknown>;
  const form = Object.keys(payload)
    .sort()
    .map((key) => `${key}=${encodeURIComponent(String(payload[key])).replace(/%20/g, '+')}`)
    .join('&');
  const signed = `${hit.headers['webhook-timestamp']}\n${hit.headers['webhook-nonce']}\n${form}`;
  return createHmac('sha256', secret).update(signed).digest('base64');
}

test('a successful job is delivered at its end, signed, with the documented headers and body', async (t) => {
  const events: WebhookEvent[] = [];
  const s = await sim(t, { onWebhook: (e) => events.push(e) });
  const r = await receiver(t);
  const hook = await control(s, 'POST', '/webhooks', { url: r.url, secret: 'shh-its-a-secret' });
  assert.equal(hook.status, 200);
  const trace = randomUUID();
  const created = await createVideo(
    s,
    { prompt: 'a fox #sim:duration=200', webhook_id: hook.json.webhook_id },
    { trace },
  );
  assert.equal(created.code, 0, created.text);
  const answeredAt = Date.now();
  // Nobody polls: the delivery must come from the job's end alone.
  const [hit] = await r.until(1);
  const delay = hit!.at - answeredAt;
  assert.ok(delay >= 150 && delay < 400, `delivered ${delay} ms after the create, the job lasts 200 ms`);

  const h = hit!.headers;
  assert.equal(h['content-type'], 'application/json');
  assert.equal(h['ai-trace-id'], trace);
  assert.match(String(h['webhook-nonce']), /^[A-Za-z0-9]{32}$/);
  assert.ok(Math.abs(Number(h['webhook-timestamp']) - Date.now() / 1000) < 5, String(h['webhook-timestamp']));
  assert.match(String(h['webhook-timestamp']), /^\d{10}$/);
  assert.equal(h['webhook-signature'], expectedSignature('shh-its-a-secret', hit!));

  const body = JSON.parse(hit!.body);
  assert.deepEqual(Object.keys(body), ['id', 'status', 'url', 'size', 'has_audio', 'credits']);
  assert.match(hit!.body, /^\{"id":"\d+",/, 'the id is a JSON string');
  const result = await call(s, `/video/result/${created.resp.video_id}`);
  assert.deepEqual(body, {
    id: String(created.resp.video_id),
    status: 1,
    url: result.resp.url,
    size: result.resp.size,
    has_audio: false,
    credits: created.resp.credits,
  });
  assert.match(body.url, /\.mp4$/);

  await sleep(50);
  assert.equal(r.hits.length, 1, 'one delivery per job');
  assert.equal(events.length, 1);
  const e = events[0]!;
  assert.deepEqual(
    { ...e, at: 0 },
    {
      apiKey: 'key-a',
      webhookId: hook.json.webhook_id,
      videoId: String(created.resp.video_id),
      status: 1,
      attempt: 1,
      ok: true,
      httpStatus: 200,
      final: true,
      at: 0,
    },
  );
  assert.ok(e.at > 0 && e.at <= performance.now());
  assert.deepEqual((await stats(s)).webhooks, {
    scheduled: 1,
    attempts: 1,
    delivered: 1,
    failed: 0,
    abandoned: 0,
    dropped: 0,
    pending: 0,
  });
});

test('the signed form sorts keys and form-encodes values', () => {
  const form = webhookSignedForm({
    url: 'https://m.io/a b.mp4?x=1&y',
    status: 1,
    id: '123',
    has_audio: true,
    size: 4.5,
    credits: 45,
  });
  assert.equal(
    form,
    'credits=45&has_audio=true&id=123&size=4.5&status=1&url=https%3A%2F%2Fm.io%2Fa+b.mp4%3Fx%3D1%26y',
  );
});

test('the webhook markers parse, and bodies without them keep the plain marker shape', () => {
  assert.equal(parseMarkers('x #sim:webhook-drop').webhookDrop, true);
  assert.equal(parseMarkers('{"prompt":"x #sim:webhook-late=2s"}').webhookLateMs, 2000);
  assert.equal(parseMarkers('x #sim:webhook-late=750').webhookLateMs, 750);
  assert.equal('webhookLateMs' in parseMarkers('x #sim:webhook-late=soon'), false);
  assert.deepEqual(Object.keys(parseMarkers('x #sim:fail')), [
    'outcome',
    'durationMs',
    'front',
    'reject',
    'timeout',
  ]);
});

test('failed (8) and moderated (7) jobs are delivered too, refunded, with an empty url', async (t) => {
  const s = await sim(t);
  const r = await receiver(t);
  // Registered through the handle, with a generated secret.
  const hook = s.createWebhook({ url: r.url });
  assert.match(hook.secret, /^[A-Za-z0-9]{32}$/);
  const failed = await createVideo(s, {
    prompt: 'x #sim:fail #sim:duration=30',
    webhook_id: hook.webhook_id,
  });
  const moderated = await createVideo(s, {
    prompt: 'y #sim:moderate #sim:duration=60',
    webhook_id: hook.webhook_id,
  });
  const hits = await r.until(2);
  const byId = new Map(hits.map((hit) => [JSON.parse(hit.body).id, hit]));
  const f = byId.get(String(failed.resp.video_id))!;
  const m = byId.get(String(moderated.resp.video_id))!;
  assert.deepEqual(JSON.parse(f.body), {
    id: String(failed.resp.video_id),
    status: 8,
    url: '',
    size: 0,
    has_audio: false,
    credits: 0,
  });
  assert.deepEqual(JSON.parse(m.body), {
    id: String(moderated.resp.video_id),
    status: 7,
    url: '',
    size: 0,
    has_audio: false,
    credits: 0,
  });
  for (const hit of [f, m])
    assert.equal(hit.headers['webhook-signature'], expectedSignature(hook.secret, hit));
});

test('image-to-video accepts webhook_id as a number and delivers', async (t) => {
  const s = await sim(t);
  const r = await receiver(t);
  const hook = s.createWebhook({ url: r.url, secret: 's3', webhook_id: 4242 });
  assert.equal(hook.webhook_id, '4242');
  const img = await uploadImage(s);
  const raw = `{"prompt":"move #sim:duration=20","model":"v5","duration":5,"quality":"540p","img_id":${img},"webhook_id":4242}`;
  const created = await call(s, '/video/img/generate', { raw });
  assert.equal(created.code, 0, created.text);
  const [hit] = await r.until(1);
  assert.equal(JSON.parse(hit!.body).id, String(created.resp.video_id));
  assert.equal(JSON.parse(hit!.body).status, 1);
});

test('a failed attempt is retried on the scaled schedule: HTTP 500, then 200 without "ok"', async (t) => {
  const events: WebhookEvent[] = [];
  // 2 s and 10 s become 20 ms and 100 ms.
  const s = await sim(t, { timeScale: 0.01, onWebhook: (e) => events.push(e) });
  const r = await receiver(t, (n) =>
    n === 1
      ? { status: 500, body: 'boom' }
      : n === 2
        ? { status: 200, body: 'okay' }
        : { status: 200, body: 'ok' },
  );
  const hook = s.createWebhook({ url: r.url, secret: 'retry-secret' });
  await createVideo(s, { prompt: 'r #sim:duration=10', webhook_id: hook.webhook_id });
  const hits = await r.until(3);
  const gaps = [hits[1]!.at - hits[0]!.at, hits[2]!.at - hits[1]!.at];
  assert.ok(gaps[0]! >= 15 && gaps[0]! < 300, `first retry after ${gaps[0]} ms (20 ms scaled)`);
  assert.ok(gaps[1]! >= 90 && gaps[1]! < 400, `second retry after ${gaps[1]} ms (100 ms scaled)`);
  // The same payload each time, with a fresh nonce and its own valid signature.
  assert.ok(hits.every((hit) => hit.body === hits[0]!.body));
  assert.equal(new Set(hits.map((hit) => hit.headers['webhook-nonce'])).size, 3);
  for (const hit of hits)
    assert.equal(hit.headers['webhook-signature'], expectedSignature('retry-secret', hit));

  await sleep(150);
  assert.equal(r.hits.length, 3, 'no attempt after the acknowledgement');
  assert.deepEqual(
    events.map((e) => [e.attempt, e.ok, e.httpStatus, e.final]),
    [
      [1, false, 500, false],
      [2, false, 200, false],
      [3, true, 200, true],
    ],
  );
  const w = (await stats(s)).webhooks;
  assert.deepEqual([w.attempts, w.delivered, w.failed, w.abandoned, w.pending], [3, 1, 2, 0, 0]);
});

test('an unreachable receiver gets the first attempt and 8 retries, then is given up', async (t) => {
  // A port that was just listening and is now closed: every attempt is refused.
  const gone = createServer();
  await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
  const port = (gone.address() as AddressInfo).port;
  await new Promise((resolve) => gone.close(resolve));

  const events: WebhookEvent[] = [];
  // The whole schedule (2 s … 4 h, about 5.4 h) scaled to about 1 s.
  const s = await sim(t, { timeScale: 0.00005, onWebhook: (e) => events.push(e) });
  const hook = s.createWebhook({ url: `http://127.0.0.1:${port}/hook` });
  await createVideo(s, { prompt: 'x #sim:duration=10', webhook_id: hook.webhook_id });
  const st = await statsWhen(s, (x) => x.webhooks.abandoned === 1, 5000);
  assert.deepEqual(st.webhooks, {
    scheduled: 1,
    attempts: 9,
    delivered: 0,
    failed: 9,
    abandoned: 1,
    dropped: 0,
    pending: 0,
  });
  assert.deepEqual(
    events.map((e) => e.attempt),
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.ok(events.every((e) => !e.ok && e.httpStatus === null));
  assert.deepEqual(
    events.map((e) => e.final),
    [false, false, false, false, false, false, false, false, true],
  );
  // The last retry waited 4 h × 0.00005 = 720 ms after the one before.
  const last = events[8]!.at - events[7]!.at;
  assert.ok(last >= 650 && last < 1500, `last gap ${last} ms`);
});

test('a receiver that does not answer in time counts as a failed attempt', async (t) => {
  const events: WebhookEvent[] = [];
  const s = await sim(t, { timeScale: 0.01, webhookTimeoutMs: 100, onWebhook: (e) => events.push(e) });
  const r = await receiver(t, (n) => (n === 1 ? 'hang' : { status: 200, body: 'ok' }));
  const hook = s.createWebhook({ url: r.url });
  await createVideo(s, { prompt: 'x #sim:duration=10', webhook_id: hook.webhook_id });
  await r.until(2);
  await statsWhen(s, (x) => x.webhooks.delivered === 1, 2000);
  assert.deepEqual(
    events.map((e) => [e.attempt, e.ok, e.httpStatus]),
    [
      [1, false, null],
      [2, true, 200],
    ],
  );
});

test("an unknown webhook_id (or another key's) is refused with 400017 before anything is charged", async (t) => {
  const s = await sim(t);
  const r = await receiver(t);
  const before = await balance(s);
  const unknown = await createVideo(s, { webhook_id: 'no-such-hook' });
  assert.equal(unknown.code, 400017);
  assert.match(unknown.body.ErrMsg, /webhook_id/);
  const numeric = await createVideo(s, { webhook_id: 999 });
  assert.equal(numeric.code, 400017);

  const theirs = s.createWebhook({ url: r.url, api_key: 'key-b' });
  assert.equal(
    (await createVideo(s, { webhook_id: theirs.webhook_id })).code,
    400017,
    'a webhook belongs to one account',
  );
  assert.equal(
    (await createVideo(s, { prompt: 'p #sim:duration=10', webhook_id: theirs.webhook_id }, { key: 'key-b' }))
      .code,
    0,
  );
  assert.deepEqual(await balance(s), before);

  // Wrong JSON type: a binding error, like any field.
  assert.equal((await createVideo(s, { webhook_id: true })).code, 400013);
  // An empty webhook_id is no webhook.
  assert.equal((await createVideo(s, { webhook_id: '', prompt: 'p #sim:duration=10' })).code, 0);
  await r.until(1);
  assert.equal((await stats(s)).webhooks.scheduled, 1);
});

test('webhook_id is ignored by operations other than text/img', async (t) => {
  const s = await sim(t);
  const r = await receiver(t);
  const hook = s.createWebhook({ url: r.url });
  const [a, b] = [await uploadImage(s), await uploadImage(s)];
  const body = {
    prompt: 'dusk #sim:duration=10',
    model: 'v5',
    duration: 5,
    quality: '540p',
    first_frame_img: a,
    last_frame_img: b,
  };
  for (const webhookId of [hook.webhook_id, 'unknown-is-fine-here']) {
    const created = await call(s, '/video/transition/generate', { ids: { ...body, webhook_id: webhookId } });
    assert.equal(created.code, 0, created.text);
  }
  await sleep(100);
  assert.equal(r.hits.length, 0);
  assert.equal((await stats(s)).webhooks.scheduled, 0);
});

test('#sim:webhook-drop never delivers; #sim:webhook-late delays the first attempt, unscaled', async (t) => {
  const s = await sim(t, { timeScale: 0.01 });
  const r = await receiver(t);
  const hook = s.createWebhook({ url: r.url });
  const dropped = await createVideo(s, {
    prompt: 'x #sim:webhook-drop #sim:duration=10',
    webhook_id: hook.webhook_id,
  });
  const t0 = Date.now();
  const late = await createVideo(s, {
    prompt: 'y #sim:webhook-late=300 #sim:duration=20',
    webhook_id: hook.webhook_id,
  });
  const [hit] = await r.until(1);
  assert.equal(JSON.parse(hit!.body).id, String(late.resp.video_id));
  const delay = hit!.at - t0;
  assert.ok(delay >= 300, `late delivery ${delay} ms after the create (job 20 ms + 300 ms)`);
  await sleep(50);
  assert.equal(r.hits.length, 1, 'the dropped job is never delivered');
  // A poll still sees the dropped job's end: the backstop a gateway relies on.
  assert.equal((await call(s, `/video/result/${dropped.resp.video_id}`)).resp.status, 1);
  const w = (await stats(s)).webhooks;
  assert.deepEqual([w.scheduled, w.dropped, w.delivered, w.pending], [2, 1, 1, 0]);
});

test('deleting a job still generating delivers status 6 at once', async (t) => {
  const s = await sim(t);
  const r = await receiver(t);
  const hook = s.createWebhook({ url: r.url });
  const created = await createVideo(s, { prompt: 'x #sim:duration=10s', webhook_id: hook.webhook_id });
  const t0 = Date.now();
  assert.equal(await deleteJob(s, created.resp.video_id), 200);
  const [hit] = await r.until(1, 2000);
  assert.ok(hit!.at - t0 < 500);
  assert.deepEqual(JSON.parse(hit!.body), {
    id: String(created.resp.video_id),
    status: 6,
    url: '',
    size: 0,
    has_audio: false,
    credits: created.resp.credits,
  });
});

test('a stuck job is delivered only when it is released, as failed', async (t) => {
  const s = await sim(t, { stuckReleaseMs: 300 });
  const r = await receiver(t);
  const hook = s.createWebhook({ url: r.url });
  const t0 = Date.now();
  await createVideo(s, { prompt: 'x #sim:stuck', webhook_id: hook.webhook_id });
  const [hit] = await r.until(1, 3000);
  assert.ok(hit!.at - t0 >= 290, 'nothing while stuck in status 5');
  assert.equal(JSON.parse(hit!.body).status, 8);
});

test('control API: create, list, get, delete', async (t) => {
  const s = await sim(t, {
    webhooks: [{ url: 'http://127.0.0.1:9/from-options', webhook_id: 'opt-1', secret: 'o' }],
  });
  const created = await control(s, 'POST', '/webhooks', { url: 'http://127.0.0.1:9/a' });
  assert.equal(created.status, 200);
  assert.match(created.json.webhook_id, /^\d+$/);
  assert.equal(created.json.url, 'http://127.0.0.1:9/a');
  assert.match(created.json.secret, /^[A-Za-z0-9]{32}$/);
  const chosen = await control(s, 'POST', '/webhooks', {
    url: 'https://example.com/b',
    secret: 'mine',
    webhook_id: 'wh-b',
    api_key: 'key-a',
  });
  assert.deepEqual(chosen.json, {
    webhook_id: 'wh-b',
    url: 'https://example.com/b',
    secret: 'mine',
    api_key: 'key-a',
  });

  assert.equal(
    (await control(s, 'POST', '/webhooks', { url: 'http://x.test/', webhook_id: 'wh-b' })).status,
    409,
  );
  for (const bad of [
    {},
    { url: 'ftp://x.test/' },
    { url: 'not a url' },
    { url: 'http://x.test/', secret: '' },
    { url: 'http://x.test/', webhook_id: 'a b' },
    '{oops',
    '[]',
  ]) {
    const res = await control(s, 'POST', '/webhooks', bad);
    assert.equal(res.status, 400, JSON.stringify(bad));
    assert.equal(typeof res.json.error, 'string');
  }

  const list = await control(s, 'GET', '/webhooks');
  assert.deepEqual(
    list.json.webhooks.map((w: any) => w.webhook_id),
    ['opt-1', created.json.webhook_id, 'wh-b'],
  );
  assert.deepEqual(
    s.listWebhooks().map((w) => w.webhook_id),
    ['opt-1', created.json.webhook_id, 'wh-b'],
  );
  assert.deepEqual((await control(s, 'GET', '/webhooks/wh-b')).json, chosen.json);

  assert.equal((await createVideo(s, { webhook_id: 'wh-b', prompt: 'p #sim:webhook-drop' })).code, 0);
  assert.deepEqual((await control(s, 'DELETE', '/webhooks/wh-b')).json, { ok: true, webhook_id: 'wh-b' });
  assert.equal((await control(s, 'DELETE', '/webhooks/wh-b')).status, 404);
  assert.equal((await control(s, 'GET', '/webhooks/wh-b')).status, 404);
  assert.equal((await createVideo(s, { webhook_id: 'wh-b' })).code, 400017, 'a deleted webhook is unknown');
  assert.equal(s.deleteWebhook('opt-1'), true);
  assert.deepEqual(
    s.listWebhooks().map((w) => w.webhook_id),
    [created.json.webhook_id],
  );
  assert.throws(() => s.createWebhook({ url: 'mailto:me@example.com' }));
  await assert.rejects(startSimulator({ webhooks: [{ url: 'nope' }] }));
});

test('close() with deliveries pending returns promptly and nothing is sent afterwards', async (t) => {
  const events: WebhookEvent[] = [];
  // Retries after 2 s × 0.05 = 100 ms; the hanging receiver holds one attempt in flight.
  const s = await startSimulator({ seed: 1, timeScale: 0.05, onWebhook: (e) => events.push(e) });
  t.after(() => s.close());
  const failing = await receiver(t, () => ({ status: 503, body: 'later' }));
  const hanging = await receiver(t, () => 'hang');
  const a = s.createWebhook({ url: failing.url });
  const b = s.createWebhook({ url: hanging.url });
  await createVideo(s, { prompt: 'x #sim:duration=10', webhook_id: a.webhook_id });
  await createVideo(s, { prompt: 'y #sim:duration=10', webhook_id: b.webhook_id });
  await createVideo(s, { prompt: 'z #sim:duration=60s', webhook_id: a.webhook_id });
  await failing.until(1);
  await hanging.until(1);
  await statsWhen(s, (x) => x.webhooks.failed === 1, 2000);

  const t0 = performance.now();
  await s.close();
  const took = performance.now() - t0;
  assert.ok(took < 500, `close took ${took.toFixed(0)} ms`);
  const seen = events.length;
  await sleep(250);
  assert.equal(failing.hits.length, 1, 'no retry after close');
  assert.equal(events.length, seen, 'no attempt reported after close');
});
