/**
 * One run of a workload through one gateway child against the tracing simulator child: start the
 * gateway, seed tenant and accounts (maxJobs = the simulator's per-key limit), prime the gateway's
 * duration estimator with a warm-up, then submit every job at once — either waiting in Pixgate's
 * queue (`queue: true`) or as a useapi-style client that retries each refused job after a fixed
 * pause — and wait until the simulator has run them all. Returns what the simulator saw.
 *
 * Why the warm-up: the estimator starts from real-time defaults (60 s for a 720p video) and learns
 * from finished jobs; a time-scaled simulator would otherwise make every first poll land at the
 * poll policy's maximum interval. A gateway that has run for a while has learned; so does this one.
 */
import { join } from 'node:path';
import { Pool } from 'undici';
import type { SimStats, WebhookStats } from '../../src/providers/pixverse/simulator/index.ts';
import { makeTempDir, removeTempDir, startServer, type ServerChild } from './children.ts';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { resetLoopDelay, windowStats, type LoopDelay, type WindowStats } from './gatewayStats.ts';
import { cpuPressure } from './machine.ts';
import { call, expectStatus, inParallel } from './http.ts';
import { gatewayNodeArgs, type BenchOptions } from './options.ts';
import { addAccountsWith, createTenant, setSimLimits, waitFor, withServerLog, type Tenant } from './seed.ts';
import { clearTrace, fetchTrace, summarize, type TraceSummary } from './trace.ts';
import { createBody, type Workload } from './workload.ts';

export interface SimInfo {
  url: string;
}
export interface GatewayInfo {
  url: string;
  adminToken: string;
}

/** Sum of the simulator's counters over one key prefix. */
export interface PrefixStats {
  created: number;
  completed: number;
  failed: number;
  active: number;
  violations: number;
}

export async function prefixStats(simUrl: string, prefix: string): Promise<PrefixStats> {
  const stats = await expectStatus('simulator stats', call<SimStats>(simUrl, 'GET', '/_sim/stats'), 200);
  const sum: PrefixStats = { created: 0, completed: 0, failed: 0, active: 0, violations: 0 };
  for (const [key, s] of Object.entries(stats.keys)) {
    if (!key.startsWith(prefix)) continue;
    sum.created += s.created;
    sum.completed += s.completed;
    sum.failed += s.failed + s.moderated;
    sum.active += s.active;
    sum.violations += s.violations;
  }
  return sum;
}

/** The simulator's webhook counters (all keys): how many job ends were reported, and how well. */
export type WebhookCounts = Pick<WebhookStats, 'scheduled' | 'attempts' | 'delivered' | 'failed'>;

async function webhookCounts(simUrl: string): Promise<WebhookCounts> {
  const stats = await expectStatus('simulator stats', call<SimStats>(simUrl, 'GET', '/_sim/stats'), 200);
  const { scheduled, attempts, delivered, failed } = stats.webhooks;
  return { scheduled, attempts, delivered, failed };
}

export interface Sample {
  /** Wall-clock ms (performance.timeOrigin-based, like the trace). */
  t: number;
  active: number;
  /** Jobs of this run the simulator has started so far. */
  created: number;
  done: number;
}

export const wallNow = () => performance.timeOrigin + performance.now();

export interface RunSpec {
  name: string;
  sim: ServerChild<SimInfo>;
  workload: Workload;
  /** Jobs run (and awaited) before the measured run, to prime the estimator; null: none. */
  warmup: Workload | null;
  keyPrefix: string;
  /** Extra gateway flags (poll policy, time scale). */
  gatewayArgs: string[];
  client: 'queue' | 'retry';
  /** Accounts get PixVerse webhooks (at the simulator) so job ends are reported, not only polled. */
  webhooks: boolean;
  /** retry client: pause after each 429 before trying that job again. */
  retryMs?: number;
  /** Client connections (the retry client's HTTP agent; the queue client's submit lanes). */
  connections?: number;
  options: BenchOptions;
  /** Longest the run may take once submitted. */
  deadlineMs: number;
  sampleEveryMs?: number;
  /**
   * Another run uses the same simulator at the same time: do not clear its trace, keep only this
   * run's keys and the events from this run's start on.
   */
  sharedTrace?: boolean;
}

export interface RunResult {
  name: string;
  t0: number;
  /** When the client had every job accepted (queue client) or every job started (retry client). */
  submittedAt: number;
  /** When the simulator had completed every job (sampled). */
  doneAt: number;
  summary: TraceSummary;
  samples: Sample[];
  requests: number;
  refused429: number;
  otherErrors: number;
  firstError: string | null;
  violations: number;
  failed: number;
  /** CPU seconds the gateway child used from t0 until every job was final at the gateway. */
  gatewayCpuS: number | null;
  gatewayPid: number;
  /** The gateway's event-loop delay from t0 until every job was final at the gateway. */
  loopDelay: LoopDelay | null;
  /** Everything the gateway reported for that window (store calls, PostgreSQL figures). */
  gatewayStats: WindowStats | null;
  /** Webhook counters of the simulator over the run (the other run of a shared simulator included). */
  webhooks: WebhookCounts;
  /** Webhook attempts by outcome ("ok", "HTTP 409", "no answer"). */
  webhookOutcomes: Record<string, number>;
  /** 1-minute load average of the machine at t0 and at the end. */
  load: [number, number];
  /** CPU pressure (PSI some avg10, %) at the end, or null. */
  cpuPressure: number | null;
  /**
   * This (bench) process's own event-loop delay over the run: it does little, so a high figure
   * means the machine, not the gateway, was short of CPU.
   */
  benchLoopDelay: LoopDelay;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function gatewayIdle(gw: string, tenant: Tenant): Promise<boolean> {
  const r = await call<unknown[]>(gw, 'GET', '/v2/pixverse/scheduler', { token: tenant.token });
  return r.status === 200 && Array.isArray(r.body) && r.body.length === 0;
}

async function submitAll(gw: string, tenant: Tenant, w: Workload, tag: string, lanes: number): Promise<void> {
  await inParallel(w.jobs.length, lanes, async (i) => {
    const job = w.jobs[i]!;
    const r = await call(gw, 'POST', '/v2/pixverse/videos/create', {
      token: tenant.token,
      body: JSON.parse(createBody(tag, job, true)) as unknown,
    });
    if (r.status !== 200)
      throw new Error(`queue create ${tag} job ${i}: HTTP ${r.status} ${r.raw.toString().slice(0, 200)}`);
  });
}

export async function runWorkload(
  spec: RunSpec,
  hooks: { afterStart?: (gw: ServerChild<GatewayInfo>) => void } = {},
): Promise<RunResult> {
  const { sim, workload: w, keyPrefix } = spec;
  const dir = makeTempDir(`pixgate-bench-${spec.name}-`);
  let gw: ServerChild<GatewayInfo> | null = null;
  try {
    await setSimLimits(sim.info.url, keyPrefix, w.maxJobs);
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
        ...spec.gatewayArgs,
      ],
      { nodeArgs: gatewayNodeArgs(spec.options, spec.name) },
    );
    const g = gw;
    hooks.afterStart?.(g);
    const tenant = await withServerLog(g, async () => {
      const created = await createTenant(g.info.url, g.info.adminToken, `bench-${spec.name}`);
      await addAccountsWith(
        g.info.url,
        created.token,
        w.maxJobs,
        keyPrefix,
        spec.webhooks ? sim.info.url : null,
      );
      return created;
    });

    if (spec.warmup) {
      const warm = spec.warmup;
      const before = await prefixStats(sim.info.url, keyPrefix);
      await withServerLog(g, () => submitAll(g.info.url, tenant, warm, 'warmup', 8));
      const longest = warm.longestMs;
      await waitFor(
        `${spec.name} warm-up`,
        async () =>
          (await prefixStats(sim.info.url, keyPrefix)).completed - before.completed >= warm.jobs.length,
        4 * longest + 30_000,
        25,
      );
      await waitFor(
        `${spec.name} warm-up final at the gateway`,
        () => gatewayIdle(g.info.url, tenant),
        30_000,
        25,
      );
    }
    if (!spec.sharedTrace) await clearTrace(sim.info.url);
    const base = await prefixStats(sim.info.url, keyPrefix);
    const hooks0 = await webhookCounts(sim.info.url);
    const n = w.jobs.length;

    // Sampler: the simulator's own view of busy slots, every sampleEveryMs until all jobs are done.
    const samples: Sample[] = [];
    let sampling = true;
    let doneAt = 0;
    const sampler = (async () => {
      while (sampling) {
        const s = await prefixStats(sim.info.url, keyPrefix);
        const t = wallNow();
        samples.push({
          t,
          active: s.active,
          created: s.created - base.created,
          done: s.completed + s.failed - base.completed - base.failed,
        });
        if (s.completed + s.failed - base.completed - base.failed >= n) {
          doneAt = t;
          return;
        }
        await sleep(spec.sampleEveryMs ?? 50);
      }
    })();

    await resetLoopDelay(g);
    const canary = monitorEventLoopDelay({ resolution: 5 });
    canary.enable();
    const load0 = loadavg()[0]!;
    const cpu0 = g.cpuSeconds();
    const t0 = wallNow();
    let requests = 0;
    let refused429 = 0;
    let otherErrors = 0;
    let firstError: string | null = null;
    let submittedAt = 0;
    const deadline = t0 + spec.deadlineMs;
    const connections = spec.connections ?? 32;
    const tag = spec.name;

    if (spec.client === 'queue') {
      await withServerLog(g, () => submitAll(g.info.url, tenant, w, tag, connections));
      requests = n;
      submittedAt = wallNow();
    } else {
      // useapi-style: every job tries at once (the agent allows `connections` in flight); a 429
      // sends that job to sleep for retryMs, whatever Retry-After says, then it tries again.
      const pool = new Pool(g.info.url, {
        connections,
        pipelining: 1,
        keepAliveTimeout: 60_000,
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
      const headers = { authorization: `Bearer ${tenant.token}`, 'content-type': 'application/json' };
      const retryMs = spec.retryMs ?? 10_000;
      try {
        await Promise.all(
          w.jobs.map(async (job) => {
            const body = createBody(tag, job, false);
            for (;;) {
              if (wallNow() > deadline)
                throw new Error(`${spec.name}: job ${job.index} not accepted before the deadline`);
              requests++;
              try {
                const res = await pool.request({
                  method: 'POST',
                  path: '/v2/pixverse/videos/create',
                  headers,
                  body,
                });
                const text = await res.body.text();
                if (res.statusCode === 200) return;
                if (res.statusCode === 429) refused429++;
                else {
                  otherErrors++;
                  firstError ??= `HTTP ${res.statusCode} ${text.slice(0, 200)}`;
                }
              } catch (err) {
                otherErrors++;
                firstError ??= (err as Error).message;
              }
              await sleep(retryMs);
            }
          }),
        );
      } finally {
        await pool.close();
      }
      submittedAt = wallNow();
    }

    await Promise.race([
      sampler,
      (async () => {
        while (!doneAt && wallNow() < deadline) await sleep(100);
        if (!doneAt)
          throw new Error(
            `${spec.name}: the simulator had not run all ${n} jobs within ${Math.round(spec.deadlineMs / 1000)} s\n${g.stderrTail(8)}`,
          );
      })(),
    ]).finally(() => {
      sampling = false;
    });
    // Every job final at the gateway too, so the trace holds each job's final poll.
    await waitFor(
      `${spec.name}: all jobs final at the gateway`,
      () => gatewayIdle(g.info.url, tenant),
      60_000,
      25,
    );
    const cpu1 = g.cpuSeconds();
    const gatewayStats = await windowStats(g);
    const loopDelay = gatewayStats?.eventLoopDelayMs ?? null;
    canary.disable();
    const ms = (ns: number) => ns / 1e6;
    const benchLoopDelay = {
      p50: ms(canary.percentile(50)),
      p99: ms(canary.percentile(99)),
      max: ms(canary.max),
      mean: ms(canary.mean),
    };
    const end = await prefixStats(sim.info.url, keyPrefix);
    const hooks1 = await webhookCounts(sim.info.url);
    const trace = await fetchTrace(sim.info.url);
    const webhookOutcomes = trace.webhookOutcomes ?? {};
    delete trace.webhookOutcomes;
    // The warm-up's events (all before t0: every warm-up job was final by then) are left out.
    const from = trace.t.findIndex((t) => t >= t0);
    if (from > 0) for (const column of Object.values(trace) as unknown[][]) column.splice(0, from);
    if (from < 0) for (const column of Object.values(trace) as unknown[][]) column.length = 0;
    const summary = summarize(
      trace,
      (key) => key.startsWith(keyPrefix),
      (label) => w.jobs[label]?.durationMs,
    );
    if (summary.creates !== n)
      throw new Error(`${spec.name}: the trace holds ${summary.creates} creates, expected ${n}`);
    return {
      name: spec.name,
      t0,
      submittedAt,
      doneAt,
      summary,
      samples,
      requests,
      refused429,
      otherErrors,
      firstError,
      violations: end.violations - base.violations,
      failed: end.failed - base.failed,
      gatewayCpuS: cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null,
      gatewayPid: g.pid,
      loopDelay,
      gatewayStats,
      webhooks: {
        scheduled: hooks1.scheduled - hooks0.scheduled,
        attempts: hooks1.attempts - hooks0.attempts,
        delivered: hooks1.delivered - hooks0.delivered,
        failed: hooks1.failed - hooks0.failed,
      },
      webhookOutcomes,
      load: [load0, loadavg()[0]!],
      cpuPressure: cpuPressure(),
      benchLoopDelay,
    };
  } finally {
    await gw?.stop();
    removeTempDir(dir);
  }
}
