/** Per-key concurrency limits, violations, peaks, and Ai-trace-id replay. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { balance, call, createVideo, pngForm, sim, stats, statsWhen } from './helpers.ts';

test('creates beyond the limit get 500044 and count as violations; peak is tracked', async (t) => {
  const s = await sim(t, { maxConcurrent: 2, durationMs: { min: 30_000, max: 30_000 } });
  assert.equal((await createVideo(s)).code, 0);
  assert.equal((await createVideo(s)).code, 0);
  const over = await createVideo(s);
  assert.equal(over.status, 200);
  assert.equal(over.code, 500044);
  assert.equal(over.body.ErrMsg, 'Reached the limit for concurrent generations');
  assert.equal((await createVideo(s)).code, 500044);
  // Other keys have their own slots.
  assert.equal((await createVideo(s, {}, { key: 'key-b' })).code, 0);

  const st = await stats(s);
  assert.deepEqual(st.keys['key-a'], {
    limit: 2,
    peak: 2,
    violations: 2,
    created: 2,
    completed: 0,
    failed: 0,
    moderated: 0,
    active: 2,
  });
  assert.equal(st.keys['key-b'].violations, 0);
  assert.equal(st.totals.violations, 2);
  assert.equal(st.totals.created, 3);
  assert.equal(s.stats().totals.violations, 2);
});

test('finished jobs free their slots without anyone polling them', async (t) => {
  const s = await sim(t, { maxConcurrent: 2, durationMs: { min: 100, max: 100 } });
  assert.equal((await createVideo(s)).code, 0);
  assert.equal((await createVideo(s)).code, 0);
  const st = await statsWhen(s, (x) => x.keys['key-a'].active === 0);
  assert.deepEqual([st.keys['key-a'].active, st.keys['key-a'].completed], [0, 2]);
  assert.equal((await createVideo(s)).code, 0);
  assert.equal((await createVideo(s)).code, 0);
  assert.equal((await stats(s)).keys['key-a'].violations, 0);
});

test('keyLimits, setKeyLimit and /_sim/keys change limits; reset-stats clears peak and violations', async (t) => {
  const s = await sim(t, {
    maxConcurrent: 5,
    keyLimits: { tight: 1 },
    durationMs: { min: 30_000, max: 30_000 },
  });
  assert.equal((await createVideo(s, {}, { key: 'tight' })).code, 0);
  assert.equal((await createVideo(s, {}, { key: 'tight' })).code, 500044);

  s.setKeyLimit('tight', 2);
  assert.equal((await createVideo(s, {}, { key: 'tight' })).code, 0);
  assert.equal((await createVideo(s, {}, { key: 'tight' })).code, 500044);

  const res = await fetch(`${s.url}/_sim/keys/tight`, { method: 'POST', body: '{"maxConcurrent":3}' });
  assert.equal(res.status, 200);
  assert.equal((await createVideo(s, {}, { key: 'tight' })).code, 0);
  let st = (await stats(s)).keys.tight;
  assert.deepEqual([st.limit, st.peak, st.violations, st.active], [3, 3, 2, 3]);

  // A limit of 0 parks the key entirely.
  s.setKeyLimit('fresh', 0);
  assert.equal((await createVideo(s, {}, { key: 'fresh' })).code, 500044);

  assert.equal((await fetch(`${s.url}/_sim/reset-stats`, { method: 'POST' })).status, 200);
  st = (await stats(s)).keys.tight;
  // Peak restarts from what is still running, not from zero.
  assert.deepEqual([st.peak, st.violations, st.created], [3, 0, 3]);
  assert.equal((await stats(s)).keys.fresh.violations, 0);
});

test('many parallel creates never exceed the limit', async (t) => {
  const s = await sim(t, { maxConcurrent: 4, durationMs: { min: 30_000, max: 30_000 } });
  const answers = await Promise.all(Array.from({ length: 40 }, () => createVideo(s)));
  assert.equal(answers.filter((a) => a.code === 0).length, 4);
  assert.equal(answers.filter((a) => a.code === 500044).length, 36);
  const st = (await stats(s)).keys['key-a'];
  assert.deepEqual([st.peak, st.violations, st.created, st.active], [4, 36, 4, 4]);
});

test('a repeated Ai-trace-id replays the first answer: same id, no charge, no job, no violation', async (t) => {
  const s = await sim(t, { maxConcurrent: 1, durationMs: { min: 30_000, max: 30_000 } });
  const before = await balance(s);
  const first = await createVideo(s, {}, { trace: 'trace-1' });
  assert.equal(first.code, 0);
  const afterFirst = await balance(s);
  assert.equal(afterFirst.monthly, before.monthly - first.resp.credits);

  // The key is now at its limit; a replay is still answered, with the identical body.
  const again = await createVideo(s, { prompt: 'a different prompt entirely' }, { trace: 'trace-1' });
  assert.equal(again.text, first.text);
  assert.equal(again.resp.video_id, first.resp.video_id);
  assert.deepEqual(await balance(s), afterFirst);

  const st = (await stats(s)).keys['key-a'];
  assert.deepEqual([st.created, st.violations, st.active], [1, 0, 1]);

  // A new trace id is a new create, refused at the limit.
  assert.equal((await createVideo(s, {}, { trace: 'trace-2' })).code, 500044);
  // Trace ids are per key: the same trace on another key is a fresh create.
  const other = await createVideo(s, {}, { key: 'key-b', trace: 'trace-1' });
  assert.equal(other.code, 0);
  assert.notEqual(other.resp.video_id, first.resp.video_id);
});

test('concurrent requests with one trace id create a single job', async (t) => {
  const s = await sim(t, { maxConcurrent: 10, durationMs: { min: 30_000, max: 30_000 } });
  const answers = await Promise.all(Array.from({ length: 8 }, () => createVideo(s, {}, { trace: 'same' })));
  assert.equal(new Set(answers.map((a) => a.resp.video_id)).size, 1);
  assert.equal((await stats(s)).keys['key-a'].created, 1);
});

test('a refused create is not cached: retrying its trace id once a slot frees succeeds', async (t) => {
  const s = await sim(t, { maxConcurrent: 1, durationMs: { min: 30_000, max: 30_000 } });
  assert.equal((await createVideo(s)).code, 0);
  assert.equal((await createVideo(s, {}, { trace: 'retry-me' })).code, 500044);
  assert.equal((await createVideo(s, {}, { trace: 'retry-me' })).code, 500044);
  s.setKeyLimit('key-a', 2);
  const retry = await createVideo(s, {}, { trace: 'retry-me' });
  assert.equal(retry.code, 0);
  const st = (await stats(s)).keys['key-a'];
  assert.deepEqual([st.created, st.violations], [2, 2]);
});

test("image template jobs share the key's slots with videos", async (t) => {
  const s = await sim(t, { maxConcurrent: 2, durationMs: { min: 30_000, max: 30_000 } });
  const img = (await call(s, '/image/upload', { form: pngForm() })).resp.img_id;
  assert.equal(
    (await call(s, '/image/template/generate', { raw: `{"img_ids":[${img}],"template_id":302325299692635}` }))
      .code,
    0,
  );
  assert.equal((await createVideo(s)).code, 0);
  assert.equal((await createVideo(s)).code, 500044);
});
