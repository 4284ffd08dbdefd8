/** Job lifecycle: status transitions, prompt markers, failure rates and credit accounting. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  balance,
  call,
  createVideo,
  pngForm,
  sim,
  sleep,
  stats,
  waitFinal,
  withinWindow,
} from './helpers.ts';

test('a video goes 5 → 1 with url, dimensions, size and a seed', async (t) => {
  const s = await sim(t, { durationMs: { min: 300, max: 300 } });
  const t0 = Date.now();
  const created = await createVideo(s, {
    quality: '720p',
    aspect_ratio: '9:16',
    negative_prompt: 'blur',
    style: 'anime',
  });
  const id = created.resp.video_id;
  const pending = await call(s, `/video/result/${id}`);
  assert.equal(pending.code, 0);
  assert.equal(pending.resp.id, id);
  if (withinWindow(t0, 300)) {
    assert.equal(pending.resp.status, 5);
    assert.equal(pending.resp.url, '');
    assert.equal(pending.resp.outputWidth, 0);
  }

  const done = await waitFinal(s, 'video', id);
  const r = done.resp;
  assert.equal(r.status, 1);
  assert.match(r.url, /^http:\/\/127\.0\.0\.1:\d+\/media\/video\/.+\.mp4$/);
  assert.deepEqual([r.outputWidth, r.outputHeight, r.resolution_ratio], [720, 1280, 720]);
  assert.ok(r.size > 0);
  assert.ok(Number.isInteger(r.seed) && r.seed > 0, 'a random seed is reported when none was sent');
  assert.deepEqual(
    [r.prompt, r.negative_prompt, r.style, r.credits],
    ['a red fox in snow', 'blur', 'anime', created.resp.credits],
  );
  assert.ok(Date.parse(r.modify_time) > Date.parse(r.create_time));
  assert.equal((await stats(s)).keys['key-a'].completed, 1);
});

test('results are private to the key that created them', async (t) => {
  const s = await sim(t, { durationMs: { min: 50, max: 50 } });
  const id = (await createVideo(s)).resp.video_id;
  assert.equal((await call(s, `/video/result/${id}`, { key: 'key-b' })).code, 500008);
  // And to their kind: a video id is not an image id.
  assert.equal((await call(s, `/image/result/${id}`)).code, 500008);
  assert.equal((await call(s, `/video/result/${id}`)).code, 0);
});

test('the request seed is echoed', async (t) => {
  const s = await sim(t, { durationMs: { min: 10, max: 10 } });
  const id = (await createVideo(s, { seed: 1234 })).resp.video_id;
  assert.equal((await call(s, `/video/result/${id}`)).resp.seed, 1234);
});

test('#sim:fail ends in 8 and refunds the credits', async (t) => {
  const s = await sim(t, { durationMs: { min: 50, max: 50 } });
  const start = await balance(s);
  const t0 = Date.now();
  const created = await createVideo(s, { prompt: 'boom #sim:fail #sim:duration=300' });
  const charged = await balance(s);
  if (withinWindow(t0, 300)) assert.equal(charged.monthly, start.monthly - created.resp.credits);
  const final = await waitFinal(s, 'video', created.resp.video_id);
  assert.equal(final.resp.status, 8);
  assert.equal(final.resp.url, '');
  assert.equal(final.resp.credits, 0);
  assert.deepEqual(await balance(s), start);
  assert.equal((await stats(s)).keys['key-a'].failed, 1);
});

test('#sim:moderate ends in 7 and refunds the credits', async (t) => {
  const s = await sim(t, { durationMs: { min: 50, max: 50 } });
  const start = await balance(s);
  const created = await createVideo(s, { prompt: 'spicy #sim:moderate' });
  assert.equal((await waitFinal(s, 'video', created.resp.video_id)).resp.status, 7);
  assert.deepEqual(await balance(s), start);
  assert.equal((await stats(s)).keys['key-a'].moderated, 1);
});

test('#sim:stuck holds its slot in status 5 until stuckReleaseMs, then ends in 8', async (t) => {
  const s = await sim(t, { maxConcurrent: 1, durationMs: { min: 10, max: 10 }, stuckReleaseMs: 1000 });
  const t0 = Date.now();
  const id = (await createVideo(s, { prompt: 'hang #sim:stuck' })).resp.video_id;
  await sleep(50);
  const during = await call(s, `/video/result/${id}`);
  const blocked = await createVideo(s);
  if (withinWindow(t0, 1000)) {
    assert.equal(during.resp.status, 5, 'stuck well past the 10 ms duration');
    assert.equal(blocked.code, 500044, 'the stuck job still holds the only slot');
  }
  const final = await waitFinal(s, 'video', id);
  assert.equal(final.resp.status, 8);
  assert.ok(Date.now() - t0 >= 1000);
  assert.equal((await createVideo(s)).code, 0, 'the slot was auto-released');
  assert.equal((await stats(s)).keys['key-a'].failed, 1);
});

test('#sim:duration sets the exact duration', async (t) => {
  const s = await sim(t, { durationMs: { min: 60_000, max: 60_000 } });
  const t0 = Date.now();
  const fast = (await createVideo(s, { prompt: 'quick #sim:duration=300' })).resp.video_id;
  const unit = (await createVideo(s, { prompt: 'quick #sim:duration=0.1s' })).resp.video_id;
  const slow = (await createVideo(s)).resp.video_id;
  const early = await call(s, `/video/result/${fast}`);
  if (withinWindow(t0, 300)) assert.equal(early.resp.status, 5);
  assert.equal((await waitFinal(s, 'video', fast)).resp.status, 1);
  assert.ok(Date.now() - t0 >= 300);
  assert.equal((await waitFinal(s, 'video', unit)).resp.status, 1);
  assert.equal((await call(s, `/video/result/${slow}`)).resp.status, 5);
});

test('#sim:reject-moderation, #sim:overload and #sim:http500 refuse the create without charging', async (t) => {
  const s = await sim(t);
  const start = await balance(s);
  const moderated = await createVideo(s, { prompt: 'bad words #sim:reject-moderation' });
  assert.deepEqual([moderated.status, moderated.code], [200, 500063]);
  const overloaded = await createVideo(s, { prompt: '#sim:overload please' });
  assert.deepEqual([overloaded.status, overloaded.code], [200, 500069]);

  const res = await fetch(`${s.url}/openapi/v2/video/text/generate`, {
    method: 'POST',
    headers: { 'API-KEY': 'key-a', 'Ai-trace-id': 't-500', 'content-type': 'application/json' },
    body: JSON.stringify({
      prompt: 'x #sim:http500',
      model: 'v5',
      duration: 5,
      quality: '540p',
      aspect_ratio: '16:9',
    }),
  });
  assert.equal(res.status, 500);
  const body = await res.json();
  assert.deepEqual(Object.keys(body), ['err_code', 'err_msg', 'resp']);
  assert.equal(body.err_code, 500100);

  assert.deepEqual(await balance(s), start);
  const st = (await stats(s)).keys['key-a'];
  assert.deepEqual([st.created, st.violations, st.active], [0, 0, 0]);
});

test('failRate and moderateRate drive outcomes without markers', async (t) => {
  const failing = await sim(t, { failRate: 1, durationMs: { min: 20, max: 20 } });
  const moderating = await sim(t, { moderateRate: 1, durationMs: { min: 20, max: 20 } });
  const f = (await createVideo(failing)).resp.video_id;
  const m = (await createVideo(moderating)).resp.video_id;
  assert.equal((await waitFinal(failing, 'video', f)).resp.status, 8);
  assert.equal((await waitFinal(moderating, 'video', m)).resp.status, 7);
  // Markers override the rates.
  const forced = (await createVideo(failing, { prompt: 'x #sim:moderate' })).resp.video_id;
  assert.equal((await waitFinal(failing, 'video', forced)).resp.status, 7);
});

test('the same seed gives the same durations and outcomes', async (t) => {
  const run = async () => {
    const s = await sim(t, { seed: 7, failRate: 0.5, durationMs: { min: 20, max: 80 }, maxConcurrent: 50 });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await createVideo(s)).resp.video_id);
    await sleep(120);
    const statuses = [];
    for (const id of ids) statuses.push((await call(s, `/video/result/${id}`)).resp.status);
    return { ids, statuses };
  };
  const a = await run();
  const b = await run();
  assert.deepEqual(a, b);
  assert.ok(
    a.statuses.includes(1) && a.statuses.includes(8),
    `both outcomes expected at failRate 0.5: ${a.statuses}`,
  );
});

test('credits: charged at submit, insufficient balance answers 500090, monthly before package', async (t) => {
  const s = await sim(t, { durationMs: { min: 30_000, max: 30_000 }, maxConcurrent: 10 });
  await fetch(`${s.url}/_sim/keys/key-a`, {
    method: 'POST',
    body: '{"creditMonthly":50,"creditPackage":100}',
  });
  const a = await createVideo(s, { quality: '720p' }); // 60 credits: 50 monthly + 10 package
  assert.equal(a.resp.credits, 60);
  assert.deepEqual(await balance(s), { monthly: 0, pkg: 90 });
  const b = await createVideo(s, { quality: '1080p' }); // 120 > 90
  assert.equal(b.code, 500090);
  const img = (await call(s, '/image/upload', { form: pngForm() })).resp.img_id;
  assert.equal(
    (await call(s, '/image/template/generate', { raw: `{"img_ids":[${img}],"template_id":302325299692635}` }))
      .resp.credit,
    10,
  );
  assert.equal(
    (await call(s, '/image/template/generate', { raw: `{"img_ids":[${img}],"template_id":302325299692635}` }))
      .resp.credit,
    10,
  );
  assert.deepEqual(await balance(s), { monthly: 0, pkg: 70 });
  // A refund goes back to the buckets the charge came from.
  await fetch(`${s.url}/_sim/keys/key-a`, { method: 'POST', body: '{"creditMonthly":20}' });
  const split = await createVideo(s, { prompt: 'x #sim:fail #sim:duration=50' }); // 20 monthly + 25 package
  assert.equal(split.resp.credits, 45);
  await waitFinal(s, 'video', split.resp.video_id);
  assert.deepEqual(await balance(s), { monthly: 20, pkg: 70 });
  const bal = await call(s, '/account/balance');
  assert.ok(Number.isInteger(bal.resp.account_id));
  assert.equal((await stats(s)).keys['key-a'].created, 4);
});
