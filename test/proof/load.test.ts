/**
 * Load: fixed-rate (open-loop) mixed traffic — creates with callbacks, status reads,
 * /scheduler/available — from this process against a gateway child process. No errors but
 * designed 429s (with Retry-After), p50/p99 reported, the gateway's RSS growth over the second
 * half under 10%, every callback delivered.
 */
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startSimulator } from '../../src/providers/pixverse/simulator/index.ts';
import { call, sleep } from '../helpers/harness.ts';
import { PROOF_FULL, secrets, startChild } from './lib/gateways.ts';
import { figures, percentile, setupTenant, startReceiver, waitAllFinal } from './lib/run.ts';

const SECONDS = PROOF_FULL ? 60 : 12;
const RATE = PROOF_FULL ? 100 : 60; // requests per second

function rssKb(pid: number): number {
  const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : 0;
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
    const gw = await startChild({ upstream: sim.url, dataDir, ...keys });
    cleanups.push(() => gw.kill());
    // A bounded queue: past it creates are refused 429 with Retry-After, by design.
    const tenant = await setupTenant(gw.url, keys.adminToken, [{ key: 'sim-load-a', maxJobs: 8 }, { key: 'sim-load-b', maxJobs: 8 }], { queueByDefault: true, maxQueueLength: 200 });

    const latencies: number[] = [];
    const errors: string[] = [];
    const ids: string[] = [];
    const refs: string[] = [];
    let designed429 = 0;
    let sent = 0;
    const inFlight = new Set<Promise<void>>();
    const one = async (kind: number) => {
      const started = performance.now();
      let res;
      if (kind < 3) {
        const ref = `load-${sent}`;
        res = await call(gw.url, 'POST', '/v2/pixverse/videos/create', tenant.token, { prompt: `load ${ref} #sim:duration=300`, replyUrl: receiver.url, replyRef: ref });
        if (res.status === 200) {
          ids.push(res.body.video_id);
          refs.push(ref);
        }
      } else if (kind < 7 && ids.length > 0) {
        res = await call(gw.url, 'GET', `/v2/pixverse/videos/${encodeURIComponent(ids[Math.floor(Math.random() * ids.length)]!)}`, tenant.token);
      } else {
        res = await call(gw.url, 'GET', '/v2/pixverse/scheduler/available', tenant.token);
      }
      latencies.push(performance.now() - started);
      if (res.status === 429 && res.headers.get('retry-after')) designed429++;
      else if (res.status !== 200) errors.push(`${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
    };

    const rss: { at: number; kb: number }[] = [];
    const begin = performance.now();
    const total = SECONDS * RATE;
    while (sent < total) {
      const due = begin + (sent * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const p: Promise<void> = one(sent % 10)
        .catch((err: Error) => void errors.push(err.message))
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      sent++;
      if (sent % RATE === 0) rss.push({ at: performance.now() - begin, kb: rssKb(gw.child.pid!) });
    }
    await Promise.all(inFlight);
    const achieved = sent / ((performance.now() - begin) / 1000);

    const half = rss.slice(Math.floor(rss.length / 2));
    const growth = (half[half.length - 1]!.kb - half[0]!.kb) / half[0]!.kb;
    const done = await waitAllFinal(() => [gw.url], tenant.token, ids, 120_000);
    const deadline = Date.now() + 30_000;
    while (refs.some((r) => !receiver.deliveries.has(r)) && Date.now() < deadline) await sleep(200);
    const sorted = [...latencies].sort((a, b) => a - b);
    figures('load', {
      seconds: SECONDS,
      rate: RATE,
      achieved_rps: achieved.toFixed(1),
      requests: latencies.length,
      errors: errors.length,
      designed_429: designed429,
      p50_ms: percentile(sorted, 50).toFixed(1),
      p99_ms: percentile(sorted, 99).toFixed(1),
      rss_mb: (rss[rss.length - 1]!.kb / 1024).toFixed(0),
      rss_growth_second_half_pct: (growth * 100).toFixed(1),
      jobs: ids.length,
      callbacks: refs.filter((r) => receiver.deliveries.has(r)).length,
    });
    assert.deepEqual(errors.slice(0, 5), [], 'no errors but designed 429s');
    assert.ok(growth < 0.1, `RSS grew ${(growth * 100).toFixed(1)}% over the second half`);
    assert.equal(done.size, ids.length, 'every accepted job is final');
    assert.deepEqual(refs.filter((r) => !receiver.deliveries.has(r)), [], 'every callback delivered');
  });
});
