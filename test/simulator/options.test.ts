/** parseDurationRange, option validation, and a scale check of the engine's lazy bookkeeping. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDurationRange, startSimulator } from '../../src/providers/pixverse/simulator/index.ts';
import { Engine } from '../../src/providers/pixverse/simulator/engine.ts';
import { resolveOptions } from '../../src/providers/pixverse/simulator/options.ts';
import { videoSpec } from '../../src/providers/pixverse/simulator/validate/index.ts';
import { parseMarkers } from '../../src/providers/pixverse/simulator/markers.ts';

test('parseDurationRange parses ranges and fixed durations', () => {
  assert.deepEqual(parseDurationRange('20s..90s'), { min: 20_000, max: 90_000 });
  assert.deepEqual(parseDurationRange('5s'), { min: 5000, max: 5000 });
  assert.deepEqual(parseDurationRange('250ms..1.5s'), { min: 250, max: 1500 });
  assert.deepEqual(parseDurationRange('100..200'), { min: 100, max: 200 });
  assert.deepEqual(parseDurationRange('1m'), { min: 60_000, max: 60_000 });
  for (const bad of ['', 'fast', '90s..20s', '1s..2s..3s', '5 parsecs', '..5s']) {
    assert.throws(() => parseDurationRange(bad), Error, bad);
  }
});

test('invalid options are refused at start', async () => {
  await assert.rejects(startSimulator({ durationMs: { min: 10, max: 5 } }));
  await assert.rejects(startSimulator({ maxConcurrent: -1 }));
});

test('parseMarkers reads every marker and ignores unknown ones', () => {
  const none = { outcome: null, durationMs: null, front: null, reject: null, timeout: false };
  assert.deepEqual(parseMarkers('plain prompt'), none);
  assert.deepEqual(parseMarkers('x #sim:fail #sim:duration=2s'), {
    ...none,
    outcome: 'fail',
    durationMs: 2000,
  });
  assert.equal(parseMarkers('#sim:moderate').outcome, 'moderate');
  assert.equal(parseMarkers('#sim:stuck').outcome, 'stuck');
  assert.equal(parseMarkers('#sim:reject-moderation').reject, 'moderation');
  assert.equal(parseMarkers('#sim:overload').reject, 'overload');
  assert.equal(parseMarkers('#sim:http500').reject, 'http500');
  assert.equal(parseMarkers('#sim:out-of-credits').reject, 'out-of-credits');
  assert.equal(parseMarkers('#sim:no-subject').reject, 'no-subject');
  assert.equal(parseMarkers('#sim:no-person').reject, 'no-person');
  assert.equal(parseMarkers('#sim:rate-limit').front, 'rate-limit');
  assert.equal(parseMarkers('#sim:http502').front, 'http502');
  assert.equal(parseMarkers('#sim:auth').front, 'auth');
  assert.equal(parseMarkers('#sim:timeout').timeout, true);
  // Read from raw JSON: a value stops at the closing quote.
  assert.equal(parseMarkers('{"prompt":"x #sim:duration=250ms"}').durationMs, 250);
  assert.deepEqual(parseMarkers('#sim:wat #sim:duration=soon #sim:constructor'), none);
});

const spec = videoSpec({ mode: 'text', prompt: 'p', model: 'v5', quality: '540p', duration: 5, cost: 45 });

test('the engine handles 20,000 jobs across keys cheaply and releases them lazily', () => {
  const engine = new Engine(
    resolveOptions({ seed: 1, maxConcurrent: 1000, durationMs: { min: 1000, max: 5000 } }),
  );
  const started = performance.now();
  let now = 1_000_000;
  for (let i = 0; i < 20_000; i++) {
    const acc = engine.account(`k${i % 10}`);
    engine.submit(acc, `t${i}`, spec, now);
    now += 1; // 1,000 creates per simulated second
  }
  const elapsed = performance.now() - started;
  const st = engine.stats(now);
  assert.equal(st.totals.created, 20_000);
  assert.equal(st.totals.violations, 0);
  // Jobs last 1–5 s, so at 1,000/s at most ~5,000 run at once (≤ 500 per key).
  assert.ok(st.totals.active <= 5000 && st.totals.active >= 1000, `active ${st.totals.active}`);
  assert.ok(Object.values(st.keys).every((k) => k.peak <= 500));
  assert.equal(st.totals.completed + st.totals.active, 20_000);
  assert.equal(engine.stats(now + 5001).totals.active, 0);
  assert.ok(elapsed < 2000, `20k submits took ${elapsed.toFixed(0)} ms`);
});
