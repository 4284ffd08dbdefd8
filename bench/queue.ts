/**
 * The headline: a big batch through Pixgate's queue against the same batch from a retrying client
 * and against the ideal, in one run, on the same simulated work.
 *
 * Workload (lib/workload.ts): 5,000 jobs over 50 accounts, maxJobs cycling 1…8 (219 slots; the
 * simulator's per-key limits are equal), durations drawn once from the simulator's per-quality
 * lognormal (real 35–90 s medians) × a time-scale factor, written into each job as
 * `#sim:duration=<ms>`. `--short`: 500 jobs over 10 accounts (39 slots).
 *
 *   (a) Pixgate with waiting: every job posted at once with `queue: true`.
 *   (b) a useapi-style client against Pixgate without the queue: every job posted at once; a 429
 *       sends that job to sleep for 10 s × the time scale, then it tries again.
 *   (c) the ideal lower bound max(total work ÷ total slots, longest job), from the same durations.
 *
 * Both gateways use the default poll policy with its intervals × the time scale, and their
 * estimators are primed by a warm-up batch (lib/jobrun.ts). Measured at the simulator
 * (servers/simulator.ts --trace): makespan (first submit → last job's real end), slot utilisation
 * while work waits (sampled /_sim/stats, and exactly from the trace), slot-free → next-submit gaps
 * per key. Then the gateway's RSS idle vs with 100,000 jobs queued behind blocked accounts.
 *
 *   node --import tsx bench/queue.ts [--short] [--time-scale 0.02] [--jobs N] [--accounts N] [--queued N]
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeTempDir, removeTempDir, startServer, stopAll, type ServerChild } from './lib/children.ts';
import { call, expectStatus, inParallel } from './lib/http.ts';
import { prefixStats, runWorkload, type GatewayInfo, type RunResult, type SimInfo } from './lib/jobrun.ts';
import { parseBenchArgs, withDeadline, type BenchOptions } from './lib/options.ts';
import { mb, medianRss, memoryOf } from './lib/proc.ts';
import { log, type SummaryRow } from './lib/report.ts';
import { addAccountsWith, createTenant, setSimLimits, setTenantQueue, withServerLog } from './lib/seed.ts';
import { describeLoopDelay, describeStoreCalls } from './lib/gatewayStats.ts';
import { describeGaps, mean, quantile, slotGaps, utilisation } from './lib/trace.ts';
import {
  createBody,
  describeWorkload,
  greedyMakespanMs,
  idealMakespanMs,
  laxityMakespanMs,
  makeWorkload,
  meanRealDurationMs,
  pollModel,
  QUALITIES,
  scaledPollPolicy,
  type Workload,
} from './lib/workload.ts';

export const MAKESPAN_TARGET = 1.05;
export const UTILISATION_TARGET = 0.95;
export const DISPATCH_P99_TARGET_MS = 50;
export const RSS_TARGET_MB = 100;
/** The useapi-style client's pause after a 429, in real (unscaled) time. */
const RETRY_REAL_MS = 10_000;

export interface QueueSettings {
  timeScale: number;
  jobs: number;
  accounts: number;
  queued: number;
}

export function queueSettings(options: BenchOptions): QueueSettings {
  return {
    timeScale: options.timeScale ?? (options.short ? 0.01 : 0.02),
    jobs: options.jobs ?? (options.short ? 500 : 5_000),
    accounts: options.accounts ?? (options.short ? 10 : 50),
    queued: options.queued ?? (options.short ? 2_000 : 100_000),
  };
}

/**
 * A warm-up batch: `perQuality` jobs of every quality, each lasting that quality's mean duration, so
 * the gateway's estimator (whose first observation sets it) starts the measured run where a
 * long-running gateway would be; its exponentially weighted mean then follows the run's own jobs.
 */
export function warmupWorkload(w: Workload, perQuality = 1): Workload {
  const jobs = QUALITIES.flatMap((quality) =>
    Array.from({ length: perQuality }, () => ({
      quality,
      durationMs: Math.max(1, Math.round(meanRealDurationMs(quality) * w.timeScale)),
    })),
  ).map((j, index) => ({ ...j, index }));
  return {
    ...w,
    jobs,
    totalWorkMs: jobs.reduce((a, j) => a + j.durationMs, 0),
    longestMs: Math.max(...jobs.map((j) => j.durationMs)),
  };
}

export interface VariantFigures {
  name: string;
  makespanMs: number;
  /** Sampled busy/slots while jobs were still waiting to be submitted upstream. */
  utilSampled: number;
  utilSamples: number;
  /** Exactly from the trace over [t0, last create]. */
  utilTrace: number;
  dispatch: number[];
  /** Dispatch gaps whose slot freed before / after the client had every job submitted. */
  dispatchDuringSubmit: number[];
  dispatchAfterSubmit: number[];
  idle: number[];
  discovery: number[];
  pollsPerJob: number;
  requests: number;
  refused429: number;
  gatewayCpuS: number | null;
  run: RunResult;
}

export function figuresOf(run: RunResult, w: Workload, keyPrefix: string): VariantFigures {
  const jobs = run.summary.jobs;
  const n = w.jobs.length;
  const lastEnd = Math.max(...jobs.map((j) => j.end));
  const lastCreate = Math.max(...jobs.map((j) => j.start));
  const waiting = run.samples.filter((s) => s.created < n);
  const limitOf = (key: string) => w.maxJobs[Number(key.slice(keyPrefix.length))]!;
  const gaps = slotGaps(jobs, limitOf);
  return {
    name: run.name,
    makespanMs: lastEnd - run.t0,
    utilSampled: mean(waiting.map((s) => s.active / w.slots)),
    utilSamples: waiting.length,
    utilTrace: utilisation(jobs, w.slots, run.t0, lastCreate),
    dispatch: gaps.dispatch.map((g) => g.ms),
    dispatchDuringSubmit: gaps.dispatch.filter((g) => g.at < run.submittedAt).map((g) => g.ms),
    dispatchAfterSubmit: gaps.dispatch.filter((g) => g.at >= run.submittedAt).map((g) => g.ms),
    idle: gaps.idle,
    discovery: jobs.filter((j) => j.finalAt !== null).map((j) => j.finalAt! - j.end),
    pollsPerJob: run.summary.polls / run.summary.creates,
    requests: run.requests,
    refused429: run.refused429,
    gatewayCpuS: run.gatewayCpuS,
    run,
  };
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function describeVariant(label: string, f: VariantFigures, w: Workload): string[] {
  const lines = [
    `  ${label}`,
    `    makespan ${s(f.makespanMs)} (×${(f.makespanMs / idealMakespanMs(w)).toFixed(3)} ideal, ×${(f.makespanMs / greedyMakespanMs(w)).toFixed(3)} FIFO list schedule, ` +
      `×${(f.makespanMs / laxityMakespanMs(w)).toFixed(3)} longest-expected-first list schedule)` +
      `  client requests ${f.requests.toLocaleString('en-US')} (429s ${f.refused429.toLocaleString('en-US')}${f.run.otherErrors ? `, other errors ${f.run.otherErrors}: ${f.run.firstError}` : ''})` +
      `  all submitted after ${s(f.run.submittedAt - f.run.t0)}`,
    `    slot utilisation while work waits: sampled ${pct(f.utilSampled)} (${f.utilSamples} samples), from the trace ${pct(f.utilTrace)}`,
    `    slot-free → next submit, per key: after the final poll ${describeGaps(f.dispatch)}`,
    `        … slot freed while the client was still submitting ${describeGaps(f.dispatchDuringSubmit)}`,
    `        … slot freed after every job was submitted         ${describeGaps(f.dispatchAfterSubmit)}`,
    `                                      after the real end   ${describeGaps(f.idle)}`,
    `    job end → gateway sees it final: ${describeGaps(f.discovery)}   polls/job ${f.pollsPerJob.toFixed(2)}` +
      (f.run.webhooks.scheduled > 0
        ? `; webhooks: ${f.run.webhooks.scheduled.toLocaleString('en-US')} jobs, ${f.run.webhooks.attempts.toLocaleString('en-US')} attempts, ${f.run.webhooks.delivered.toLocaleString('en-US')} acknowledged, ${f.run.webhooks.failed.toLocaleString('en-US')} refused or failed (${Object.entries(
            f.run.webhookOutcomes,
          )
            .map(([k, v]) => `${k} ×${v}`)
            .join(', ')})`
        : ''),
    `    gateway: CPU ${f.gatewayCpuS === null ? '-' : `${f.gatewayCpuS.toFixed(1)} s (${((100 * f.gatewayCpuS) / ((f.run.doneAt - f.run.t0) / 1000)).toFixed(0)}% of a core)`}, ` +
      `${describeLoopDelay(f.run.loopDelay)} (bench process: p99 ${f.run.benchLoopDelay.p99.toFixed(1)} ms); machine load ${f.run.load[0].toFixed(1)} → ${f.run.load[1].toFixed(1)}${f.run.cpuPressure === null ? '' : `, CPU pressure ${f.run.cpuPressure.toFixed(0)}%`}; upstream violations ${f.run.violations}, failed ${f.run.failed}`,
    `    gateway ${describeStoreCalls(f.run.gatewayStats, w.jobs.length)}`,
  ];
  return lines;
}

export interface MemoryFigures {
  queued: number;
  idleRss: number;
  loadedRss: number;
  afterGcRss: number | null;
  peakRss: number;
  enqueueRate: number;
  availableMs: number;
}

/**
 * RSS of a gateway child (default tuning) idle with every slot held by hour-long jobs, then with
 * `queued` more jobs waiting in its queue (posted through the API with queue: true).
 */
async function measureMemory(
  sim: ServerChild<SimInfo>,
  w: Workload,
  queued: number,
  _options: BenchOptions,
): Promise<MemoryFigures> {
  const prefix = 'bench-qmem-key-';
  const dir = makeTempDir('pixgate-bench-queue-mem-');
  let gw: ServerChild<GatewayInfo> | null = null;
  try {
    await setSimLimits(sim.info.url, prefix, w.maxJobs);
    gw = await startServer<GatewayInfo>(
      'gateway',
      [
        '--upstream',
        sim.info.url,
        '--data-dir',
        join(dir, 'data'),
        '--job-timeout',
        '2h',
        '--log-level',
        'warn',
      ],
      {
        nodeArgs: ['--expose-gc'],
      },
    );
    const g = gw;
    const tenant = await withServerLog(g, async () => {
      const t = await createTenant(g.info.url, g.info.adminToken, 'bench-queue-memory');
      await setTenantQueue(g.info.url, g.info.adminToken, t.userId, {
        maxQueueLength: queued + 1_000,
        maxQueueWaitSeconds: 7 * 86_400,
      });
      await addAccountsWith(g.info.url, t.token, w.maxJobs, prefix);
      // Every slot held by an hour-long job: nothing queued can start.
      await inParallel(w.slots, 8, async (i) => {
        await expectStatus(
          `blocking job ${i}`,
          call(g.info.url, 'POST', '/v2/pixverse/videos/create', {
            token: t.token,
            body: { prompt: `blocker ${i} #sim:duration=3600000`, model: 'v6', quality: '540p', duration: 5 },
          }),
          200,
        );
      });
      return t;
    });
    const stats = await prefixStats(sim.info.url, prefix);
    if (stats.active !== w.slots)
      throw new Error(`memory: ${stats.active} blocking jobs running, expected ${w.slots}`);
    await new Promise((r) => setTimeout(r, 2_000));
    const idleRss = (await medianRss(g.pid)) ?? NaN;

    const started = performance.now();
    const jobs = w.jobs;
    await withServerLog(g, () =>
      inParallel(queued, 32, async (i) => {
        const job = jobs[i % jobs.length]!;
        const r = await call(g.info.url, 'POST', '/v2/pixverse/videos/create', {
          token: tenant.token,
          body: JSON.parse(createBody('mem', { ...job, index: i }, true)) as unknown,
        });
        if (r.status !== 200)
          throw new Error(`enqueue ${i}: HTTP ${r.status} ${r.raw.toString().slice(0, 200)}`);
      }),
    );
    const enqueueRate = queued / ((performance.now() - started) / 1000);
    // The first read after the enqueues renders the view afresh (informative: its cost with a full queue).
    const t = performance.now();
    const count = await expectStatus(
      'queued count',
      call<{ queuedCount: number }>(g.info.url, 'GET', '/v2/pixverse/scheduler/available', {
        token: tenant.token,
      }),
      200,
    );
    const availableMs = performance.now() - t;
    if (count.queuedCount !== queued)
      throw new Error(`memory: ${count.queuedCount} jobs queued, expected ${queued}`);
    await new Promise((r) => setTimeout(r, 2_000));
    const loadedRss = (await medianRss(g.pid)) ?? NaN;
    const peakRss = memoryOf(g.pid)?.peak ?? NaN;
    let afterGcRss: number | null = null;
    try {
      process.kill(g.pid, 'SIGUSR2');
      await new Promise((r) => setTimeout(r, 1_500));
      afterGcRss = await medianRss(g.pid);
    } catch {
      afterGcRss = null;
    }
    return { queued, idleRss, loadedRss, afterGcRss, peakRss, enqueueRate, availableMs };
  } finally {
    await gw?.stop();
    removeTempDir(dir);
  }
}

export interface QueueResult {
  workload: Workload;
  queue: VariantFigures;
  retry: VariantFigures;
  memory: MemoryFigures | null;
  rows: SummaryRow[];
}

export async function benchQueue(options: BenchOptions): Promise<QueueResult> {
  const set = queueSettings(options);
  const w = makeWorkload({
    jobs: set.jobs,
    accounts: set.accounts,
    timeScale: set.timeScale,
    seed: options.seed,
  });
  const warm = warmupWorkload(w);
  const ideal = idealMakespanMs(w);
  const retryMs = Math.max(1, Math.round(RETRY_REAL_MS * set.timeScale));
  log(`\n== queue: ${describeWorkload(w)}`);
  log(
    `  (a) Pixgate queue: all jobs posted at once with queue: true; (b) retry client: no queue, each 429 retried after ${retryMs} ms (10 s × ${set.timeScale}); (c) ideal ${s(ideal)}`,
  );
  log(
    `  gateways: default poll policy × ${set.timeScale} (--time-scale), estimator primed with ${warm.jobs.length} warm-up jobs, ` +
      (options.webhooks
        ? 'every account with a PixVerse webhook (job ends reported; polls back them up)'
        : 'no webhooks (job ends found by polling only)'),
  );
  const laxity = laxityMakespanMs(w);
  log(
    `  list schedules with instant completion signals and no overhead: FIFO ${s(greedyMakespanMs(w))} (×${(greedyMakespanMs(w) / ideal).toFixed(3)} ideal), ` +
      `longest expected (quality) first — the gateway's order for a batch queued at once — ${s(laxity)} (×${(laxity / ideal).toFixed(3)} ideal)`,
  );
  const model = pollModel(w, scaledPollPolicy(set.timeScale));
  log(
    `  model of polling alone (no other overhead, expectation = per-quality mean): FIFO list schedule ${s(model.makespanMs)} (×${(model.makespanMs / ideal).toFixed(3)} ideal), ` +
      `utilisation ≤ ${pct(model.utilisation)}, ${model.pollsPerJob.toFixed(2)} polls/job, mean job end → seen ${model.meanDiscoveryMs.toFixed(0)} ms`,
  );
  const children: ServerChild<unknown>[] = [];
  try {
    const sim = await startServer<SimInfo>('simulator', [
      '--trace',
      '--max-concurrent',
      '1',
      '--time-scale',
      String(set.timeScale),
      '--seed',
      String(options.seed),
    ]);
    children.push(sim);
    const deadlineMs = 4 * greedyMakespanMs(w) + 60_000;
    const common = {
      sim,
      workload: w,
      warmup: warm,
      gatewayArgs: ['--time-scale', String(set.timeScale)],
      options,
      deadlineMs,
      connections: 32,
    };

    // Order alternates with the seed so neither side always runs on a warmer machine.
    const order: ('queue' | 'retry')[] = options.seed % 2 === 1 ? ['queue', 'retry'] : ['retry', 'queue'];
    const figures: Partial<Record<'queue' | 'retry', VariantFigures>> = {};
    for (const which of order) {
      const prefix = which === 'queue' ? 'bench-qa-key-' : 'bench-qb-key-';
      const run = await runWorkload({
        ...common,
        name: which === 'queue' ? 'queue' : 'retry',
        keyPrefix: prefix,
        client: which,
        retryMs,
        webhooks: options.webhooks,
      });
      const f = figuresOf(run, w, prefix);
      figures[which] = f;
      for (const line of describeVariant(
        which === 'queue' ? '(a) Pixgate queue' : '(b) retry client (no queue, 429 → retry)',
        f,
        w,
      ))
        log(line);
    }
    const a = figures.queue!;
    const b = figures.retry!;

    log(
      `  memory: ${set.queued.toLocaleString('en-US')} jobs queued behind ${w.slots} blocked slots (default poll policy)…`,
    );
    const memory = set.queued > 0 ? await measureMemory(sim, w, set.queued, options) : null;
    if (memory) {
      const delta = mb(memory.loadedRss - memory.idleRss);
      log(
        `    RSS idle ${mb(memory.idleRss).toFixed(1)} MB → ${mb(memory.loadedRss).toFixed(1)} MB with ${memory.queued.toLocaleString('en-US')} queued (Δ ${delta.toFixed(1)} MB, ` +
          `${((memory.loadedRss - memory.idleRss) / memory.queued).toFixed(0)} B/job)` +
          `${memory.afterGcRss === null ? '' : `, after a full GC ${mb(memory.afterGcRss).toFixed(1)} MB`}, peak ${mb(memory.peakRss).toFixed(1)} MB; ` +
          `enqueued at ${memory.enqueueRate.toFixed(0)}/s; one uncached /scheduler/available ${memory.availableMs.toFixed(0)} ms`,
      );
    }

    const ratioA = a.makespanMs / ideal;
    const retryOverQueue = b.makespanMs / a.makespanMs;
    const p99a = quantile(a.dispatch, 0.99);
    const p99b = quantile(b.dispatch, 0.99);
    log(
      `  makespan (a)/(c) ${ratioA.toFixed(3)} (target ≤ ${MAKESPAN_TARGET}), (b)/(a) ${retryOverQueue.toFixed(3)}, ` +
        `utilisation (a) ${pct(a.utilSampled)} (target ≥ ${pct(UTILISATION_TARGET)}), slot-free → next submit p99 (a) ${p99a.toFixed(1)} ms (target ≤ ${DISPATCH_P99_TARGET_MS} ms)`,
    );
    const tag = `${w.jobs.length.toLocaleString('en-US')} jobs, ${w.slots} slots, ×${set.timeScale}`;
    const rows: SummaryRow[] = [
      {
        bench: `queue (${tag})`,
        metric: 'makespan s (a)/(c)',
        gateway: a.makespanMs / 1000,
        baseline: ideal / 1000,
        baselineName: 'ideal',
        ratio: ratioA,
        target: `≤ ${MAKESPAN_TARGET}`,
        met: ratioA <= MAKESPAN_TARGET,
        gatewayCpuUs: null,
        baselineCpuUs: null,
        digits: 2,
      },
      {
        bench: '  … vs FIFO + polling model',
        metric: 'makespan s (a)/model',
        gateway: a.makespanMs / 1000,
        baseline: model.makespanMs / 1000,
        baselineName: 'model',
        ratio: a.makespanMs / model.makespanMs,
        target: 'info (≈1: no other overhead)',
        met: true,
        gatewayCpuUs: null,
        baselineCpuUs: null,
        digits: 2,
      },
      {
        bench: '  … retry client',
        metric: 'makespan s (b)/(a)',
        gateway: a.makespanMs / 1000,
        baseline: b.makespanMs / 1000,
        baselineName: 'retry 429',
        ratio: retryOverQueue,
        target: '≥ 1 (info)',
        met: retryOverQueue >= 1,
        gatewayCpuUs: null,
        baselineCpuUs: null,
        digits: 2,
      },
      {
        bench: '  … slot utilisation',
        metric: '% busy while waiting',
        gateway: a.utilSampled * 100,
        baseline: b.utilSampled * 100,
        baselineName: 'retry 429',
        ratio: a.utilSampled / b.utilSampled,
        target: `≥ ${UTILISATION_TARGET * 100}%`,
        met: a.utilSampled >= UTILISATION_TARGET,
        gatewayCpuUs: null,
        baselineCpuUs: null,
        digits: 1,
      },
      {
        bench: '  … slot-free → next submit',
        metric: 'p99 ms',
        gateway: p99a,
        baseline: p99b,
        baselineName: 'retry 429',
        ratio: p99a / p99b,
        target: `≤ ${DISPATCH_P99_TARGET_MS} ms`,
        met: p99a <= DISPATCH_P99_TARGET_MS,
        gatewayCpuUs: null,
        baselineCpuUs: null,
        digits: 1,
      },
    ];
    if (memory) {
      const delta = mb(memory.loadedRss - memory.idleRss);
      rows.push({
        bench: `  … RSS, ${memory.queued.toLocaleString('en-US')} queued`,
        metric: 'MB',
        gateway: mb(memory.loadedRss),
        baseline: mb(memory.idleRss),
        baselineName: 'idle',
        ratio: mb(memory.loadedRss) / mb(memory.idleRss),
        target: `Δ ≤ ${RSS_TARGET_MB} MB`,
        met: delta <= RSS_TARGET_MB,
        gatewayCpuUs: null,
        baselineCpuUs: null,
        digits: 1,
      });
    }
    return { workload: w, queue: a, retry: b, memory, rows };
  } finally {
    await stopAll(children);
  }
}

/** Upper bound on the queue bench's wall time for run.ts's deadline. */
export function queueDeadlineMs(options: BenchOptions): number {
  const set = queueSettings(options);
  const w = makeWorkload({
    jobs: set.jobs,
    accounts: set.accounts,
    timeScale: set.timeScale,
    seed: options.seed,
  });
  return 2 * (4 * greedyMakespanMs(w) + 120_000) + 120_000 + set.queued * 10;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const options = parseBenchArgs();
  withDeadline('queue bench', queueDeadlineMs(options), benchQueue(options)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(
        `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
