/**
 * Failure knobs (rateLimitRate, overloadRate, transientRate), failure markers (#sim:rate-limit,
 * #sim:http502, #sim:auth, #sim:out-of-credits, #sim:timeout), status 6 through the control plane,
 * and Ai-trace-id replay on the newer creates.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import {
  balance,
  call,
  completedVideo,
  createVideo,
  deleteJob,
  sim,
  stats,
  textVideo,
  uploadImage,
  waitFinal,
} from './helpers.ts';

async function rawCreate(
  url: string,
  body: unknown,
  trace = randomUUID(),
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(`${url}/openapi/v2/video/text/generate`, {
    method: 'POST',
    headers: { 'API-KEY': 'key-a', 'Ai-trace-id': trace, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

test('rateLimitRate=1: every API call answers HTTP 429 without an envelope; the control plane still works', async (t) => {
  const s = await sim(t, { rateLimitRate: 1 });
  for (const res of [
    await rawCreate(s.url, textVideo()),
    await fetch(`${s.url}/openapi/v2/account/balance`, { headers: { 'API-KEY': 'k', 'Ai-trace-id': 't' } }),
  ]) {
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await res.text(), 'Too Many Requests');
  }
  assert.equal((await stats(s)).totals.created, 0);
});

test('transientRate=1: HTTP 502 with an HTML body; overloadRate=1: creates get 500069, reads work', async (t) => {
  const proxy = await sim(t, { transientRate: 1 });
  const res = await rawCreate(proxy.url, textVideo());
  assert.equal(res.status, 502);
  assert.match(await res.text(), /502 Bad Gateway/);
  assert.equal((await stats(proxy)).totals.created, 0);

  const busy = await sim(t, { overloadRate: 1 });
  const start = await balance(busy);
  const a = await createVideo(busy);
  assert.deepEqual([a.status, a.code], [200, 500069]);
  assert.deepEqual(await balance(busy), start);
  assert.equal((await stats(busy)).totals.created, 0);
});

test('partial rates mix outcomes and repeat with the same seed', async (t) => {
  const run = async () => {
    const s = await sim(t, {
      seed: 5,
      rateLimitRate: 0.2,
      overloadRate: 0.2,
      transientRate: 0.2,
      maxConcurrent: 200,
    });
    const seen: (number | string)[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await rawCreate(s.url, textVideo());
      seen.push(res.status === 200 ? ((await res.json()) as { ErrCode: number }).ErrCode : res.status);
    }
    return seen;
  };
  const a = await run();
  assert.deepEqual(await run(), a);
  for (const outcome of [0, 429, 502, 500069]) assert.ok(a.includes(outcome), `${outcome} in ${a.join(',')}`);
});

test('markers: #sim:rate-limit, #sim:http502, #sim:auth, #sim:out-of-credits refuse one request without charging', async (t) => {
  const s = await sim(t);
  const start = await balance(s);
  const limited = await rawCreate(s.url, textVideo({ prompt: 'x #sim:rate-limit' }));
  assert.deepEqual([limited.status, await limited.text()], [429, 'Too Many Requests']);
  const proxy = await rawCreate(s.url, textVideo({ prompt: 'x #sim:http502' }));
  assert.equal(proxy.status, 502);
  await proxy.text();
  const auth = await createVideo(s, { prompt: 'x #sim:auth' });
  assert.deepEqual([auth.status, auth.code], [200, 400012]);
  const broke = await createVideo(s, { prompt: 'x #sim:out-of-credits' });
  assert.deepEqual([broke.status, broke.code], [200, 500090]);
  // Front-door markers win over validation; the others come after it.
  assert.equal((await createVideo(s, { prompt: '#sim:auth', model: 'v99' })).code, 400012);
  assert.equal((await createVideo(s, { prompt: '#sim:out-of-credits', model: 'v99' })).code, 400017);
  assert.deepEqual(await balance(s), start);
  assert.equal((await stats(s)).totals.created, 0);
  assert.equal((await createVideo(s)).code, 0, 'the key itself is fine');
});

test('#sim:timeout: the job is created but never answered; replaying the trace id returns it', async (t) => {
  const s = await sim(t, { durationMs: { min: 200, max: 200 } });
  const start = await balance(s);
  const trace = randomUUID();
  const body = textVideo({ prompt: 'slow answer #sim:timeout' });
  const t0 = Date.now();
  await assert.rejects(rawCreate(s.url, body, trace, AbortSignal.timeout(300)), /abort|timeout/i);
  assert.ok(Date.now() - t0 >= 250, 'the client gave up, the simulator never answered');
  assert.equal((await stats(s)).keys['key-a'].created, 1, 'the job exists');

  const replay = await createVideo(s, { prompt: 'slow answer #sim:timeout' }, { trace });
  assert.equal(replay.code, 0, replay.text);
  const done = await waitFinal(s, 'video', replay.resp.video_id);
  assert.equal(done.resp.status, 1);
  assert.equal((await balance(s)).monthly, start.monthly - replay.resp.credits, 'charged once');
  assert.equal((await stats(s)).keys['key-a'].created, 1);
  // close() must not wait for the connection left open.
});

test('POST /_sim/videos/<id>/delete: status 6 from then on; an edit of it answers 500064', async (t) => {
  const s = await sim(t, { durationMs: { min: 20, max: 20 } });
  const id = await completedVideo(s);
  assert.equal(await deleteJob(s, id), 200);
  const r = await call(s, `/video/result/${id}`);
  assert.deepEqual([r.code, r.resp.status, r.resp.url, r.resp.outputWidth], [0, 6, '', 0]);
  assert.equal(await deleteJob(s, '123456789012345'), 404);
  assert.equal(await deleteJob(s, 'abc'), 404);
  assert.equal((await call(s, '/video/upscale/generate', { ids: { source_video_id: id } })).code, 500064);
  const img = await call(s, '/image/template/generate', {
    ids: { img_ids: [await uploadImage(s)], template_id: '302325299692635' },
  });
  assert.equal(await deleteJob(s, img.resp.image_id, 'images'), 200);
  assert.equal((await call(s, `/image/result/${img.resp.image_id}`)).resp.status, 6);
  assert.equal(s.deleteJob('123'), false);
});

test('Ai-trace-id replay holds for the newer creates and for mask selection', async (t) => {
  const s = await sim(t, { durationMs: { min: 20, max: 20 } });
  const src = await completedVideo(s);
  const [a, b] = [await uploadImage(s), await uploadImage(s)];
  const requests: [string, Record<string, unknown>][] = [
    [
      '/video/transition/generate',
      { prompt: 'p', model: 'v5', duration: 5, quality: '540p', first_frame_img: a, last_frame_img: b },
    ],
    ['/video/restyle/generate', { source_video_id: src, restyle_prompt: 'clay' }],
    ['/video/mask/selection', { source_video_id: src }],
    ['/image/template/generate', { img_ids: [a], template_id: '302325299692635' }],
  ];
  for (const [path, body] of requests) {
    const trace = randomUUID();
    const first = await call(s, path, { ids: body, trace });
    assert.equal(first.code, 0, `${path}: ${first.text}`);
    const charged = await balance(s);
    const again = await call(s, path, { ids: body, trace });
    assert.equal(again.text, first.text, path);
    assert.deepEqual(await balance(s), charged, `${path}: no second charge`);
  }
});
