/**
 * Callback delivery bench: the real SQLite outbox + CallbackDeliverer + signed POSTs to a
 * node:http receiver on 127.0.0.1 (in a worker thread, so receiver and deliverer never share an
 * event loop). Prints figures; asserts nothing. Bounded: every phase has a deadline.
 *
 *   node --import tsx bench/callbacks.ts            full (~20–40 s)
 *   node --import tsx bench/callbacks.ts --short    CI mode (a few seconds)
 *
 * 1. Throughput: N final deliveries already in the outbox, the deliverer started, time until all
 *    are delivered → deliveries/s. Baseline in the same run, alternating with it: the same signed
 *    POSTs sent by the same sender at the same concurrency with no store (no claim, record or
 *    secret lookup), so the ratio is the cost of durability on this machine right now.
 * 2. Latency from final state to first attempt: jobs finished one by one (store.finish commits
 *    the state and its delivery together, then deliverer.wake() as the gateway wires it to the
 *    scheduler's 'final' event); delay = receiver's arrival time − finish() resolved. p50/p99,
 *    target p99 ≤ 100 ms. Also with bursts of 20 finishes at once, and once without wake()
 *    (the idle-poll backstop alone) to show what the wake-up buys.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import { CallbackDeliverer } from '../src/callbacks/deliverer.ts';
import { createOutboxBuilder } from '../src/callbacks/outbox.ts';
import { CallbackSender } from '../src/callbacks/sender.ts';
import { webhookHeaders } from '../src/callbacks/signing.ts';
import { createCallbackPolicy } from '../src/callbacks/ssrf.ts';
import type { Job } from '../src/domain/job.ts';
import { newWebhookSecret } from '../src/security/webhookSecret.ts';
import { openSqliteStore } from '../src/store/sqlite/index.ts';
import type { Store, User } from '../src/store/store.ts';

const short = process.argv.includes('--short');
const THROUGHPUT_N = short ? 300 : 1_500;
const ROUNDS = short ? 1 : 3;
const LATENCY_N = short ? 60 : 300;
const BURSTS = short ? 3 : 10;
const CONCURRENCY = 16;
const DEADLINE_MS = short ? 60_000 : 180_000;

const now = () => performance.timeOrigin + performance.now();

/** The receiver: answers 204 at once and reports (replyRef, arrival time) in batches. */
const RECEIVER = `
const { createServer } = require('node:http');
const { parentPort } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
let batch = [];
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = performance.timeOrigin + performance.now();
    let ref = null;
    try { ref = JSON.parse(Buffer.concat(chunks).toString()).replyRef; } catch {}
    batch.push([ref, at]);
    res.writeHead(204).end();
  });
});
setInterval(() => { if (batch.length) { parentPort.postMessage(batch); batch = []; } }, 5).unref();
parentPort.on('message', (m) => { if (m === 'close') server.close(() => process.exit(0)); });
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
`;

class ReceiverThread {
  readonly arrivals = new Map<string, number>();
  count = 0;
  private constructor(
    private readonly worker: Worker,
    readonly url: string,
  ) {
    worker.on('message', (m: unknown) => {
      if (!Array.isArray(m)) return;
      for (const [ref, at] of m as [string, number][]) {
        this.count++;
        if (!this.arrivals.has(ref)) this.arrivals.set(ref, at);
      }
    });
  }
  static async start(): Promise<ReceiverThread> {
    const worker = new Worker(RECEIVER, { eval: true });
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (m: { port?: number }) => m?.port && resolve(m.port));
    });
    return new ReceiverThread(worker, `http://127.0.0.1:${port}/hook`);
  }
  async waitFor(refs: string[], deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    while (!refs.every((ref) => this.arrivals.has(ref))) {
      if (Date.now() > deadline)
        throw new Error(
          `receiver missed ${refs.filter((r) => !this.arrivals.has(r)).length} of ${refs.length} callbacks`,
        );
      await sleep(2);
    }
  }
  async close(): Promise<void> {
    this.worker.postMessage('close');
    await new Promise((resolve) => this.worker.once('exit', resolve));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string) => process.stdout.write(`${line}\n`);
const ms = (x: number) => `${x.toFixed(1)} ms`;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

let upstreamId = 1;
async function runningJobs(store: Store, user: User, url: string, prefix: string, n: number): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let i = 0; i < n; i++) {
    const r = await store.reserve({
      userId: user.id,
      provider: 'pixverse',
      tokenId: null,
      email: null,
      maxJobsOverride: 1_000_000,
      type: 'video',
      traceId: `t${prefix}${i}`,
      upstream: { op: 'video.text', params: { prompt: 'bench' } },
      request: { prompt: 'bench' },
      replyUrl: url,
      replyRef: `${prefix}${i}`,
      now: Date.now(),
    });
    if (!r.ok) throw new Error(`reserve: ${r.reason}`);
    await store.markRunning(r.job.id, String(upstreamId++), Date.now() + 3_600_000, Date.now());
    jobs.push(r.job);
  }
  return jobs;
}

const finish = (store: Store, job: Job) =>
  store.finish(job.id, { state: 'completed', resultUrl: 'https://media.example/v.mp4' }, Date.now());

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pixgate-bench-callbacks-'));
  const receiver = await ReceiverThread.start();
  const store = await openSqliteStore(join(dir, 'pixgate.db'));
  store.setOutboxBuilder(createOutboxBuilder());
  const logger = pino({ level: 'warn' });
  const deliverers: CallbackDeliverer[] = [];
  const start = (opts: { idleWakeMs?: number } = {}) => {
    const d = new CallbackDeliverer({
      store,
      log: logger,
      schedule: [0, 5_000],
      timeoutMs: 10_000,
      allowlist: ['127.0.0.0/8'],
      owner: 'bench',
      concurrency: CONCURRENCY,
      ...opts,
    });
    deliverers.push(d);
    d.start();
    return d;
  };
  try {
    const user = await store.createUser('bench', Date.now(), newWebhookSecret());
    await store.upsertAccount({
      userId: user.id,
      email: 'bench@x.com',
      apiKeyEnc: 'enc',
      maxJobs: 8,
      now: Date.now(),
    });
    log(
      `callbacks bench (${short ? 'short' : 'full'}): SQLite outbox + CallbackDeliverer (concurrency ${CONCURRENCY}) → node:http receiver thread on 127.0.0.1`,
    );

    // ── 1. throughput: deliverer and baseline alternate (D B D B …), ratio over the sums ──
    let deliverMs = 0;
    let recordMs = 0;
    let baselineMs = 0;
    const sender = new CallbackSender({
      policy: createCallbackPolicy(['127.0.0.0/8']),
      timeoutMs: 10_000,
      connectionsPerOrigin: CONCURRENCY,
    });
    for (let round = 0; round < ROUNDS; round++) {
      const jobs = await runningJobs(store, user, receiver.url, `tp${round}-`, THROUGHPUT_N);
      for (const job of jobs) await finish(store, job);
      const refs = jobs.map((_, i) => `tp${round}-${i}`);
      const t0 = now();
      const worker = start();
      await receiver.waitFor(refs, DEADLINE_MS);
      const t1 = now();
      while ((await store.nextDeliveryDue()) !== null) await sleep(2); // until every attempt is recorded
      const t2 = now();
      await worker.stop();
      deliverers.length = 0;
      deliverMs += t1 - t0;
      recordMs += t2 - t0;

      // Baseline: the same signed POSTs through the same sender, CONCURRENCY in flight, no store.
      const body = JSON.stringify({ video_id: 'x', state: 'completed', replyRef: '' });
      let next = 0;
      const b0 = now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < THROUGHPUT_N) {
            const i = next++;
            const text = body.replace('"replyRef":""', `"replyRef":"bl${round}-${i}"`);
            const outcome = await sender.send(
              receiver.url,
              text,
              webhookHeaders([user.webhookSecret], `msg_b${i}`, Math.floor(Date.now() / 1000), text),
            );
            if (!outcome.delivered) throw new Error(`baseline POST failed: ${outcome.error}`);
          }
        }),
      );
      baselineMs += now() - b0;
      const rate = (total: number) => ((THROUGHPUT_N * (round + 1)) / (total / 1000)).toFixed(0);
      log(
        `throughput  round ${round + 1}/${ROUNDS}: deliverer ${rate(deliverMs)}/s received, ${rate(recordMs)}/s recorded | baseline ${rate(baselineMs)}/s (cumulative)`,
      );
    }
    await sender.close();
    const total = THROUGHPUT_N * ROUNDS;
    const recorded = total / (recordMs / 1000);
    const baseline = total / (baselineMs / 1000);
    log(
      `throughput  ${total} deliveries: ${(total / (deliverMs / 1000)).toFixed(0)}/s received, ${recorded.toFixed(0)}/s recorded as delivered` +
        ` | baseline (sender alone, no store) ${baseline.toFixed(0)}/s | ratio ${(recorded / baseline).toFixed(2)}`,
    );

    // ── 2. latency, final state → first attempt ──────────────────────────────
    const latency = async (label: string, n: number, burst: number, wake: boolean, idleWakeMs: number) => {
      const d = start({ idleWakeMs });
      await sleep(50);
      const js = await runningJobs(store, user, receiver.url, `${label}-`, n);
      const committed = new Map<string, number>();
      for (let i = 0; i < n; i += burst) {
        const group = js.slice(i, i + burst);
        await Promise.all(
          group.map(async (job, k) => {
            await finish(store, job);
            committed.set(`${label}-${i + k}`, now());
            if (wake) d.wake();
          }),
        );
        await sleep(burst === 1 ? 15 : 100);
      }
      await receiver.waitFor([...committed.keys()], DEADLINE_MS);
      await d.stop();
      deliverers.length = 0;
      const delays = [...committed]
        .map(([ref, at]) => receiver.arrivals.get(ref)! - at)
        .sort((a, b) => a - b);
      const p99 = percentile(delays, 99);
      log(
        `latency     ${label.padEnd(22)} n=${String(n).padStart(4)}  p50 ${ms(percentile(delays, 50)).padStart(9)}  p99 ${ms(p99).padStart(9)}  max ${ms(delays.at(-1)!).padStart(9)}` +
          (wake ? `  (target p99 ≤ 100 ms: ${p99 <= 100 ? 'met' : 'MISSED'})` : ''),
      );
    };
    await latency('one at a time, wake', LATENCY_N, 1, true, 1_000);
    await latency('bursts of 20, wake', BURSTS * 20, 20, true, 1_000);
    await latency('one at a time, no wake', short ? 10 : 30, 1, false, 1_000);
    log(`(receiver saw ${receiver.count} requests in all, ${receiver.arrivals.size} distinct refs)`);
  } finally {
    for (const d of deliverers) await d.stop();
    await store.close();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const deadline = setTimeout(() => {
  process.stderr.write(`callbacks bench did not finish within ${DEADLINE_MS / 1000 + 60} s\n`);
  process.exit(1);
}, DEADLINE_MS + 60_000);
deadline.unref();

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `\ncallbacks bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
