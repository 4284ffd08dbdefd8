/** Model-based durations (per-quality lognormal, scaling factors, timeScale) and create throughput. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Pool } from 'undici';
import { DEFAULT_LATENCY, modelDurationMs } from '../../src/providers/pixverse/simulator/index.ts';
import { createRng } from '../../src/providers/pixverse/simulator/random.ts';
import { videoSpec, type JobSpec } from '../../src/providers/pixverse/simulator/validate/index.ts';
import { call, createVideo, sim, waitFinal } from './helpers.ts';

function quantiles(
  spec: JobSpec,
  timeScale = 1,
  n = 4000,
): { median: number; p90: number; min: number; max: number } {
  const rng = createRng(99);
  const xs: number[] = [];
  for (let i = 0; i < n; i++)
    xs.push(modelDurationMs(spec, DEFAULT_LATENCY, timeScale, [rng(), rng(), rng()]));
  xs.sort((a, b) => a - b);
  return { median: xs[Math.floor(n / 2)]!, p90: xs[Math.floor(n * 0.9)]!, min: xs[0]!, max: xs[n - 1]! };
}

const near = (actual: number, expected: number, tolerance: number, label: string) =>
  assert.ok(Math.abs(actual / expected - 1) <= tolerance, `${label}: ${actual} vs ${expected}`);

const video = (over: Parameters<typeof videoSpec>[0]) => videoSpec(over);

test('per-quality medians and p90s follow the reference table for a 5 s clip without audio', () => {
  for (const [quality, { medianMs, p90Ms }] of Object.entries(DEFAULT_LATENCY)) {
    const q = quantiles(video({ mode: 'text', model: 'v5', quality, duration: 5 }));
    near(q.median, medianMs, 0.06, `${quality} median`);
    near(q.p90, p90Ms, 0.08, `${quality} p90`);
  }
});

test('duration, audio, multi-clip, fast and editing factors; timeScale', () => {
  const base = quantiles(video({ mode: 'text', model: 'v6', quality: '720p', duration: 5 })).median;
  const long = quantiles(
    video({ mode: 'text', model: 'v6', quality: '720p', duration: 15, audio: true, multiClip: true }),
  ).median;
  near(long / base, 1.8 * 1.15 * 1.2, 0.02, '15 s + audio + multi-clip');
  const fast = quantiles(
    video({ mode: 'text', model: 'v4', quality: '720p', duration: 5, motionMode: 'fast' }),
  ).median;
  near(fast / base, 0.6, 0.02, 'fast');
  const edit = quantiles(video({ mode: 'restyle', model: 'v5', quality: '720p', duration: 5 }));
  near(edit.median / base, 1.15, 0.08, 'editing ops average 0.8–1.5×');
  const scaled = quantiles(video({ mode: 'text', model: 'v6', quality: '720p', duration: 5 }), 0.01).median;
  near(scaled, base / 100, 0.01, 'timeScale 0.01');
  const image = quantiles({
    kind: 'image',
    prompt: '',
    quality: '1080p',
    aspectRatio: '3:4',
    templateId: '1',
    cost: 5,
    creditField: 'credit',
  });
  near(image.median, 15_000, 0.06, 'image median');
});

test('without durationMs the simulator uses model durations × timeScale (modify_time − create_time)', async (t) => {
  const s = await sim(t, { timeScale: 0.002, maxConcurrent: 100 });
  const ids: Record<string, string[]> = { '360p': [], '1080p': [] };
  for (let i = 0; i < 12; i++) {
    for (const quality of ['360p', '1080p'])
      ids[quality]!.push((await createVideo(s, { quality })).resp.video_id);
  }
  const spent = async (id: string) => {
    const r = (await waitFinal(s, 'video', id)).resp;
    assert.equal(r.status, 1);
    return Date.parse(r.modify_time) - Date.parse(r.create_time);
  };
  const median = async (list: string[]) => {
    const xs = [];
    for (const id of list) xs.push(await spent(id));
    return xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  };
  const low = await median(ids['360p']!);
  const high = await median(ids['1080p']!);
  assert.ok(low > 30 && low < 140, `360p median ${low} ms (expected ~70)`);
  assert.ok(high > low, `1080p (${high} ms) slower than 360p (${low} ms)`);
});

test('a job that would outlive the stuck-release (default 10 min × timeScale) is released as failed', async (t) => {
  // A 720p median of ~3 h at timeScale 0.0001 is ~1 s; the release comes after 60 ms.
  const s = await sim(t, {
    timeScale: 0.0001,
    latency: { '720p': { medianMs: 10_000_000, p90Ms: 12_000_000 } },
  });
  const t0 = Date.now();
  const id = (await createVideo(s, { quality: '720p' })).resp.video_id;
  const done = await waitFinal(s, 'video', id);
  assert.equal(done.resp.status, 8);
  assert.ok(Date.now() - t0 < 900, 'released at 60 ms, long before its drawn duration');
  assert.equal((await call(s, '/account/balance')).resp.credit_monthly, 1_000_000, 'refunded');
});

test('invalid timeScale and latency options are refused', async () => {
  const { startSimulator } = await import('../../src/providers/pixverse/simulator/index.ts');
  await assert.rejects(startSimulator({ timeScale: 0 }));
  await assert.rejects(startSimulator({ latency: { '720p': { medianMs: 10, p90Ms: 5 } } }));
});

test('throughput: well over 1,000 creates/s over HTTP once warm', async (t) => {
  const s = await sim(t, { maxConcurrent: 1_000_000, timeScale: 0.01 });
  const pool = new Pool(s.url, { connections: 32 });
  t.after(() => pool.close());
  const body = JSON.stringify({
    prompt: 'a red fox',
    model: 'v5',
    duration: 5,
    quality: '540p',
    aspect_ratio: '16:9',
  });
  let next = 0;
  const run = async (n: number) => {
    const started = performance.now();
    const stop = next + n;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < stop) {
          const i = next++;
          const res = await pool.request({
            path: '/openapi/v2/video/text/generate',
            method: 'POST',
            headers: { 'API-KEY': `k${i % 16}`, 'Ai-trace-id': `t${i}`, 'content-type': 'application/json' },
            body,
          });
          await res.body.text();
        }
      }),
    );
    return (n / (performance.now() - started)) * 1000;
  };
  await run(1500); // warm-up (JIT)
  const rate = await run(4000);
  t.diagnostic(`${rate.toFixed(0)} creates/s`);
  // The bound leaves room for a loaded CI machine running other test files in parallel.
  assert.ok(rate > 500, `${rate.toFixed(0)} creates/s`);
  assert.equal(s.stats().totals.created, 5500);
});
