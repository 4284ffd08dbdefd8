/**
 * Load: fixed-rate (open-loop) mixed traffic — creates with callbacks, status reads,
 * /scheduler/available — from a separate generator process (lib/loadGenerator.ts) against a
 * gateway child process, latencies counted from each request's due time. No errors but
 * designed 429s (with Retry-After), p50/p99 reported, the gateway's RSS growth over the second
 * half under 10%, every callback delivered.
 *
 * RSS is compared right after a full garbage collection at both ends of the second half (the
 * child preloads lib/gcProbe.mjs with --expose-gc and collects on SIGUSR2). Sampled at random
 * moments it read how much garbage V8 had let pile up before its next major collection: runs
 * failed at 10-11% "growth" while the live heap after a GC grew ~2% over the same half and
 * levelled off (26.4 MB at 5 s, 28.2 MB at 60 s, 28.7 MB at 160 s of a 180 s run). The bound is
 * still on RSS, so native memory counts in full (SQLite's page cache, up to 16 MB by default in
 * better-sqlite3, fills as the database grows: ~0.1 MB/s here, still rising at 180 s); the live
 * heap after a GC is bounded too, since that is where a map or cache growing per job would show.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startSimulator } from '../../src/providers/pixverse/simulator/index.ts';
import { sleep } from '../helpers/harness.ts';
import { PROOF_FULL, secrets, startChild } from './lib/gateways.ts';
import { figures, setupTenant, startReceiver, waitAllFinal } from './lib/run.ts';
import type { LoadPlan, LoadResult } from './lib/loadGenerator.ts';

const SECONDS = PROOF_FULL ? 60 : 12;
const RATE = PROOF_FULL ? 100 : 60; // requests per second

const GENERATOR = join(import.meta.dirname, 'lib', 'loadGenerator.ts');
const GC_PROBE = join(import.meta.dirname, 'lib', 'gcProbe.mjs');

interface AfterGc {
  rssKb: number;
  heapUsedKb: number;
}

/** Asks the child for a full GC and its memory right after (one JSON line per request). */
async function memoryAfterGc(pid: number, file: string): Promise<AfterGc> {
  const lines = () => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);
  const before = lines().length;
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 10_000;
  while (lines().length === before) {
    if (Date.now() > deadline) throw new Error('the gateway did not answer the GC probe');
    await sleep(20);
  }
  return JSON.parse(lines()[before]!) as AfterGc;
}

function runGenerator(plan: LoadPlan): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', GENERATOR, JSON.stringify(plan)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => {
      try {
        resolve(JSON.parse(out) as LoadResult);
      } catch {
        reject(new Error(`load generator exited with ${code}: ${out.slice(0, 500)}`));
      }
    });
  });
}

describe('proof: load', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  it(`${RATE} req/s of mixed traffic for ${SECONDS} s`, async () => {
    const sim = await startSimulator({ maxConcurrent: 8, seed: 13 });
    cleanups.push(() => sim.close());
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const dataDir = mkdtempSync(join(tmpdir(), 'pixgate-load-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const keys = secrets();
    const probeFile = join(mkdtempSync(join(tmpdir(), 'pixgate-gc-')), 'after-gc.jsonl');
    cleanups.push(async () => rmSync(join(probeFile, '..'), { recursive: true, force: true }));
    const nodeOptions = `${process.env['NODE_OPTIONS'] ?? ''} --expose-gc --import ${GC_PROBE}`.trim();
    const gw = await startChild({
      upstream: sim.url,
      dataDir,
      ...keys,
      env: { NODE_OPTIONS: nodeOptions, PIXGATE_GC_PROBE_OUT: probeFile },
    });
    cleanups.push(() => gw.kill());
    // A bounded queue: past it creates are refused 429 with Retry-After, by design.
    const tenant = await setupTenant(
      gw.url,
      keys.adminToken,
      [
        { key: 'sim-load-a', maxJobs: 8 },
        { key: 'sim-load-b', maxJobs: 8 },
      ],
      { queueByDefault: true, maxQueueLength: 200 },
    );

    // Both ends of the second half of the sending window (after it the drain would be measured).
    const atHalf = sleep((SECONDS * 1000) / 2).then(() => memoryAfterGc(gw.child.pid!, probeFile));
    const atEnd = sleep(SECONDS * 1000).then(() => memoryAfterGc(gw.child.pid!, probeFile));
    // Awaited after the run; kept from counting as unhandled if the child dies meanwhile.
    atHalf.catch(() => {});
    atEnd.catch(() => {});
    const plan: LoadPlan = {
      url: gw.url,
      token: tenant.token,
      replyUrl: receiver.url,
      rate: RATE,
      seconds: SECONDS,
    };
    const load = await runGenerator(plan);
    const { ids, refs, errors } = load;

    const [mid, end] = [await atHalf, await atEnd];
    const growth = (end.rssKb - mid.rssKb) / mid.rssKb;
    const heapGrowth = (end.heapUsedKb - mid.heapUsedKb) / mid.heapUsedKb;
    const done = await waitAllFinal(() => [gw.url], tenant.token, ids, 120_000);
    const deadline = Date.now() + 30_000;
    while (refs.some((r) => !receiver.deliveries.has(r)) && Date.now() < deadline) await sleep(200);
    figures('load', {
      seconds: SECONDS,
      rate: RATE,
      achieved_rps: load.achievedRps.toFixed(1),
      requests: load.sent,
      errors: errors.length,
      designed_429: load.designed429,
      p50_ms: load.p50Ms.toFixed(1),
      p99_ms: load.p99Ms.toFixed(1),
      send_lag_p99_ms: load.sendLagP99Ms.toFixed(1),
      max_in_flight: load.maxInFlight,
      rss_mb: (end.rssKb / 1024).toFixed(0),
      rss_growth_second_half_pct: (growth * 100).toFixed(1),
      heap_mb: (end.heapUsedKb / 1024).toFixed(1),
      heap_growth_second_half_pct: (heapGrowth * 100).toFixed(1),
      jobs: ids.length,
      callbacks: refs.filter((r) => receiver.deliveries.has(r)).length,
    });
    assert.deepEqual(errors.slice(0, 5), [], `no errors but designed 429s (${errors.length} errors)`);
    // Honest rate: the generator (its own process) offered the planned rate; were it starved, its
    // send lag would show it, and latencies count from each request's due time anyway.
    assert.ok(
      load.achievedRps >= RATE * 0.95,
      `offered ${load.achievedRps.toFixed(1)} of ${RATE} req/s (send lag p99 ${load.sendLagP99Ms.toFixed(0)} ms)`,
    );
    assert.ok(growth < 0.1, `RSS after GC grew ${(growth * 100).toFixed(1)}% over the second half`);
    assert.ok(
      heapGrowth < 0.1,
      `live heap after GC grew ${(heapGrowth * 100).toFixed(1)}% over the second half`,
    );
    assert.equal(done.size, ids.length, 'every accepted job is final');
    assert.deepEqual(
      refs.filter((r) => !receiver.deliveries.has(r)),
      [],
      'every callback delivered',
    );
  });
});
