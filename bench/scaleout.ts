/**
 * Scale-out: the same gateway on its embedded SQLite store, on a shared PostgreSQL store with one
 * instance, and with three instances on that store (load spread round-robin over them, request by
 * request), in one run. Three sets of gateway children, each started for its part and stopped after:
 *
 * 1a. GET /scheduler/available per second — 100 accounts × 3 slots held by hour-long jobs (30
 *     accounts with --short), default poll policy, so no poll traffic in the windows (as available.ts).
 * 1b. Accepted POST /videos/create per second — 50 accounts × maxJobs 8, simulated jobs 50..150 ms,
 *     expected duration 100 ms and polls ≥ 20 ms apart so slots turn over (as creates.ts).
 *     Configs alternate window by window; instances 2 and 3 run only during the three-instance
 *     windows, so "one instance" really is one process doing all the work.
 * 2.  Slot-free → next dispatch with a queue: jobs of 0.8..1.6 s queued round-robin over the
 *     instances, poll traffic as in production (expected 1.2 s, default policy × 0.02: 2–3 polls per
 *     job). The simulator (--trace) tells instances apart by their upstream path prefix
 *     (<sim>/gw-<n>) and records per key when a final status was answered and when the next create
 *     arrived. With three instances a freed slot is often refilled by another instance than the
 *     one that saw the job finish (NOTIFY, then its dispatcher); those pairs are reported apart.
 *     Loads: moderate (20 slots, ~17 dispatches/s) and, in full mode, heavy (80 slots, ~67/s).
 *     Target: p99 ≤ 200 ms across instances (moderate load). Each gateway also reports its
 *     PostgreSQL statements and how long its transactions stayed open (servers/gateway.ts).
 *
 * PostgreSQL: fresh schemas on PIXGATE_BENCH_DATABASE_URL (default the test database on
 * 127.0.0.1:5432), dropped afterwards. Without a reachable server the PostgreSQL parts are skipped.
 *
 *   node --import tsx bench/scaleout.ts [--short] [--connections N] [--duration 5s] [--rounds N] [--jobs N]
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  cleanupAsync,
  makeTempDir,
  removeTempDir,
  startServer,
  stopAll,
  type ServerChild,
} from './lib/children.ts';
import { call, expectStatus, inParallel } from './lib/http.ts';
import { prefixStats, wallNow, type GatewayInfo, type SimInfo } from './lib/jobrun.ts';
import { mergeLoads, runLoad, type LoadResult } from './lib/load.ts';
import { gatewayNodeArgs, parseBenchArgs, withDeadline, type BenchOptions } from './lib/options.ts';
import { BENCH_DATABASE_URL, benchSchema, pgUnavailable, type BenchSchema } from './lib/pg.ts';
import { windowStats, type WindowStats } from './lib/gatewayStats.ts';
import { machineLine } from './lib/machine.ts';
import { cpuPerResponse, describeLoad, log, type SummaryRow } from './lib/report.ts';
import {
  addAccounts,
  addAccountsWith,
  createTenant,
  setSimLimits,
  waitFor,
  withServerLog,
  type Tenant,
} from './lib/seed.ts';
import { clearTrace, describeGaps, fetchTrace, quantile, slotGaps, summarize } from './lib/trace.ts';
import { rng } from './lib/workload.ts';

export const CROSS_DISPATCH_P99_TARGET_MS = 200;
const CREATE_ACCOUNTS = 50;
const CREATE_MAX_JOBS = 8;
/** As available.ts: 100 accounts (30 with --short) × 3 slots held by hour-long jobs. */
const availableAccounts = (options: BenchOptions) => (options.short ? 30 : 100);
const AVAILABLE_MAX_JOBS = 3;
/**
 * Dispatch-latency loads: jobs of 0.8..1.6 s (mean 1.2 s, the gateways' expected duration).
 *   moderate  10 accounts × 2 = 20 slots → ~17 dispatches/s (a busy real deployment, time-compressed)
 *   heavy     20 accounts × 4 = 80 slots → ~67 dispatches/s (full mode only: where does it saturate?)
 */
interface LatencyLoad {
  name: 'moderate' | 'heavy';
  accounts: number;
  maxJobs: number;
}
const MODERATE: LatencyLoad = { name: 'moderate', accounts: 10, maxJobs: 2 };
const HEAVY: LatencyLoad = { name: 'heavy', accounts: 20, maxJobs: 4 };
const INSTANCES = 3;
const GATEWAY_BODY = JSON.stringify({ prompt: 'bench create' });

type ConfigName = 'sqlite×1' | 'pg×1' | 'pg×3';

export interface ScaleoutResult {
  rows: SummaryRow[];
}

interface PgSecrets {
  schema: BenchSchema;
  admin: string;
  master: string;
}

/**
 * Poll tuning per part:
 *   quiet    the default policy: hour-long jobs are first polled after 30 s, so the available
 *            windows see no poll traffic (as available.ts);
 *   fast     expected duration 100 ms, polls no sooner than 20 ms (as creates.ts), so 50..150 ms
 *            jobs turn over;
 *   latency  jobs of 0.8..1.6 s, expected 1.2 s, the default policy × 0.02 (first poll at 1.08 s,
 *            then 180 ms, 288 ms … at most 600 ms): two to three polls per job, as in production.
 */
type Tuning = 'quiet' | 'fast' | 'latency';
const TUNING_ARGS: Record<Tuning, string[]> = {
  quiet: [],
  fast: ['--expected-duration', '100ms', '--poll-min-interval', '20ms'],
  latency: ['--expected-duration', '1200ms', '--time-scale', '0.02'],
};

function gatewayArgs(upstream: string, dataDir: string, pg: PgSecrets | null, tuning: Tuning): string[] {
  return [
    '--upstream',
    upstream,
    '--data-dir',
    dataDir,
    '--job-timeout',
    '2h',
    ...TUNING_ARGS[tuning],
    '--log-level',
    'warn',
    ...(pg
      ? [
          '--database-url',
          BENCH_DATABASE_URL,
          '--database-schema',
          pg.schema.name,
          '--admin-token',
          pg.admin,
          '--master-key',
          pg.master,
        ]
      : []),
  ];
}

function newPg(): PgSecrets {
  return {
    schema: benchSchema(),
    admin: `admin-${randomBytes(24).toString('base64url')}`,
    master: randomBytes(32).toString('hex'),
  };
}

/** The gateways of one part: SQLite, PostgreSQL instance 1, and instances 2..3 on demand. */
class Fleet {
  sqlite!: ServerChild<GatewayInfo>;
  pg1: ServerChild<GatewayInfo> | null = null;
  readonly extra: ServerChild<GatewayInfo>[] = [];
  private constructor(
    private readonly part: string,
    private readonly sim: ServerChild<SimInfo>,
    private readonly dir: string,
    private readonly pg: PgSecrets | null,
    private readonly tuning: Tuning,
    private readonly options: BenchOptions,
  ) {}

  private upstream(tag: string): string {
    return `${this.sim.info.url}/gw-${tag}`;
  }

  private start(tag: string, pg: PgSecrets | null): Promise<ServerChild<GatewayInfo>> {
    return startServer<GatewayInfo>(
      'gateway',
      gatewayArgs(this.upstream(tag), join(this.dir, `${this.part}-${tag}`), pg, this.tuning),
      {
        nodeArgs: gatewayNodeArgs(this.options, `scaleout-${this.part}-${tag}`),
      },
    );
  }

  static async start(
    part: string,
    sim: ServerChild<SimInfo>,
    dir: string,
    pg: PgSecrets | null,
    tuning: Tuning,
    options: BenchOptions,
  ): Promise<Fleet> {
    const fleet = new Fleet(part, sim, dir, pg, tuning, options);
    // In parallel: start-up is mostly compiling TypeScript, one core each.
    const [sqlite, pg1] = await Promise.all([
      fleet.start('s', null),
      pg ? fleet.start('1', pg) : Promise.resolve(null),
    ]);
    fleet.sqlite = sqlite;
    fleet.pg1 = pg1;
    return fleet;
  }

  async startExtra(): Promise<void> {
    // Instance 1 has migrated the schema already, so the others may start together.
    const tags = Array.from({ length: INSTANCES - 1 }, (_, i) => String(i + 2));
    this.extra.push(...(await Promise.all(tags.map((tag) => this.start(tag, this.pg)))));
  }

  async stopExtra(): Promise<void> {
    await stopAll(this.extra.splice(0));
  }

  instances(config: ConfigName): ServerChild<GatewayInfo>[] {
    if (config === 'sqlite×1') return [this.sqlite];
    if (config === 'pg×1') return [this.pg1!];
    return [this.pg1!, ...this.extra];
  }

  configs(): ConfigName[] {
    return this.pg1 ? ['sqlite×1', 'pg×1', 'pg×3'] : ['sqlite×1'];
  }

  async stop(): Promise<void> {
    await stopAll([this.sqlite, this.pg1, ...this.extra.splice(0)]);
  }
}

function cpuOf(instances: ServerChild<unknown>[]): () => number | null {
  return () => {
    let sum = 0;
    for (const gw of instances) {
      const s = gw.cpuSeconds();
      if (s === null) return null;
      sum += s;
    }
    return sum;
  };
}

/** Alternating windows per config (instances 2..3 started for the pg×3 windows only). */
async function windows(
  fleet: Fleet,
  options: BenchOptions,
  what: string,
  request: (
    config: ConfigName,
  ) => () => { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string },
  isSuccess: ((outcome: string, status: number) => boolean) | undefined,
): Promise<Map<ConfigName, LoadResult>> {
  const results = new Map<ConfigName, LoadResult[]>();
  for (let round = 1; round <= options.rounds; round++) {
    for (const config of fleet.configs()) {
      if (config === 'pg×3') await fleet.startExtra();
      const instances = fleet.instances(config);
      let stats: (WindowStats | null)[] = [];
      const r = await runLoad({
        origin: instances[0]!.info.url,
        origins: instances.map((gw) => gw.info.url),
        connections: options.connections,
        warmupMs: options.warmupMs,
        durationMs: options.durationMs,
        request: request(config),
        ...(isSuccess ? { isSuccess } : {}),
        serverCpu: cpuOf(instances),
        onWindowStart: async () => {
          await Promise.all(instances.map((gw) => windowStats(gw)));
        },
        onWindowEnd: async () => {
          stats = await Promise.all(instances.map((gw) => windowStats(gw)));
        },
      });
      log(describeLoad(`${config} ${what} #${round}`, r));
      const tx = stats.filter((st): st is WindowStats => st !== null && st.pgTransactions.count > 0);
      if (tx.length > 0) {
        const statements = tx.reduce((a, st) => a + st.pgQueries.total, 0);
        log(
          `    PostgreSQL: ${(statements / Math.max(1, r.responses)).toFixed(1)} statements per response; transactions open (BEGIN → COMMIT answered) ` +
            tx
              .map(
                (st) =>
                  `p50 ${st.pgTransactions.p50Ms} ms p99 ${st.pgTransactions.p99Ms} ms (${st.pgTransactions.count})`,
              )
              .join(', '),
        );
      }
      // A slow server (busy machine, lock queue) may complete nothing in a short window; only
      // errors with no success mean the bench could not run.
      if (r.successes === 0 && r.errors > 0)
        throw new Error(
          `${config} ${what}: no successful responses (${r.firstError ?? JSON.stringify(r.outcomes)})`,
        );
      if (r.successes === 0)
        log(`    NOTE: no response completed inside the ${options.durationMs} ms window`);
      results.set(config, [...(results.get(config) ?? []), r]);
      if (config === 'pg×3') await fleet.stopExtra();
    }
  }
  return new Map([...results].map(([config, list]) => [config, mergeLoads(list)]));
}

/** Jobs for the dispatch-latency part: uniform 0.8..1.6 s, deterministic. */
function latencyJobs(n: number, seed: number): number[] {
  const draw = rng(seed);
  return Array.from({ length: n }, () => 800 + Math.floor(draw() * 801));
}

interface LatencyFigures {
  config: ConfigName;
  load: LatencyLoad;
  /** PostgreSQL statements all instances sent per job, and the most frequent ones. */
  pgPerJob: number;
  pgTop: [string, number][];
  /** Per instance: transactions, their open time p50/p99, statements per transaction. */
  pgTx: string[];
  /** Worst event-loop delay p99 among the instances. */
  loopP99: number;
  jobs: number;
  all: number[];
  cross: number[];
  same: number[];
  idle: number[];
  violations: number;
  makespanMs: number;
}

/**
 * Queues `durations.length` jobs round-robin over `instances` (one tenant, load.accounts ×
 * load.maxJobs slots) and measures, from the simulator's trace, final poll → next create per key.
 */
async function dispatchLatency(
  config: ConfigName,
  load: LatencyLoad,
  sim: ServerChild<SimInfo>,
  instances: ServerChild<GatewayInfo>[],
  prefix: string,
  durations: number[],
): Promise<LatencyFigures> {
  const main = instances[0]!;
  const limits = Array.from({ length: load.accounts }, () => load.maxJobs);
  await setSimLimits(sim.info.url, prefix, limits);
  const tenant = await withServerLog(main, async () => {
    const t = await createTenant(main.info.url, main.info.adminToken, 'bench-scaleout-latency');
    await addAccountsWith(main.info.url, t.token, limits, prefix);
    return t;
  });
  await clearTrace(sim.info.url);
  const base = await prefixStats(sim.info.url, prefix);
  for (const gw of instances) await windowStats(gw);
  const t0 = wallNow();
  await inParallel(durations.length, 16, async (i) => {
    const gw = instances[i % instances.length]!;
    const r = await call(gw.info.url, 'POST', '/v2/pixverse/videos/create', {
      token: tenant.token,
      body: { prompt: `latency job-${i} #sim:duration=${durations[i]}`, queue: true },
    });
    if (r.status !== 200)
      throw new Error(`${config}: queue job ${i}: HTTP ${r.status} ${r.raw.toString().slice(0, 200)}`);
  });
  const total = durations.reduce((a, b) => a + b, 0);
  await waitFor(
    `${config}: queued jobs done`,
    async () => {
      const s = await prefixStats(sim.info.url, prefix);
      return s.completed + s.failed - base.completed - base.failed >= durations.length;
    },
    (4 * total) / (load.accounts * load.maxJobs) + 60_000,
    25,
  );
  await waitFor(
    `${config}: all final at the gateway`,
    async () => {
      const r = await call<unknown[]>(main.info.url, 'GET', '/v2/pixverse/scheduler', {
        token: tenant.token,
      });
      return r.status === 200 && Array.isArray(r.body) && r.body.length === 0;
    },
    30_000,
    25,
  );
  const end = await prefixStats(sim.info.url, prefix);
  const stats = await Promise.all(instances.map((gw) => windowStats(gw)));
  const statements = new Map<string, number>();
  let pgTotal = 0;
  let loopP99 = 0;
  for (const st of stats) {
    if (!st) continue;
    pgTotal += st.pgQueries.total;
    for (const [text, n] of st.pgQueries.top) statements.set(text, (statements.get(text) ?? 0) + n);
    loopP99 = Math.max(loopP99, st.eventLoopDelayMs.p99);
  }
  const summary = summarize(
    await fetchTrace(sim.info.url),
    (key) => key.startsWith(prefix),
    (label) => durations[label],
  );
  if (summary.creates !== durations.length)
    throw new Error(`${config}: trace holds ${summary.creates} creates, expected ${durations.length}`);
  const gaps = slotGaps(summary.jobs, () => load.maxJobs);
  return {
    config,
    load,
    pgPerJob: pgTotal / durations.length,
    pgTop: [...statements].sort((a, b) => b[1] - a[1]).slice(0, 6),
    pgTx: stats.flatMap((st) =>
      st && st.pgTransactions.count > 0
        ? [
            `${st.pgTransactions.count} tx open p50 ${st.pgTransactions.p50Ms} ms p99 ${st.pgTransactions.p99Ms} ms, ${st.pgTransactions.statementsPerTx} statements/tx`,
          ]
        : [],
    ),
    loopP99,
    jobs: durations.length,
    all: gaps.dispatch.map((g) => g.ms),
    cross: gaps.dispatch.filter((g) => g.cross).map((g) => g.ms),
    same: gaps.dispatch.filter((g) => !g.cross).map((g) => g.ms),
    idle: gaps.idle,
    violations: end.violations - base.violations,
    makespanMs: Math.max(...summary.jobs.map((j) => j.end)) - t0,
  };
}

export async function benchScaleout(options: BenchOptions): Promise<ScaleoutResult> {
  const latencyN = options.jobs ?? (options.short ? 100 : 300);
  log(
    `\n== scale-out: SQLite ×1 vs PostgreSQL ×1 vs PostgreSQL ×${INSTANCES} (requests round-robin), ${options.connections} connections, ` +
      `${options.rounds} × ${options.durationMs} ms windows after ${options.warmupMs} ms warm-up; ${latencyN} queued jobs per config for slot-free → dispatch`,
  );
  log(`  machine: ${machineLine()}`);
  const pgProblem = await pgUnavailable();
  if (pgProblem) log(`  PostgreSQL parts skipped: ${pgProblem}`);
  const dir = makeTempDir('pixgate-bench-scaleout-');
  const children: ServerChild<unknown>[] = [];
  const fleets: Fleet[] = [];
  const schemas: BenchSchema[] = [];
  const pgFor = () => {
    if (pgProblem) return null;
    const secrets = newPg();
    schemas.push(secrets.schema);
    return secrets;
  };
  try {
    // One simulator: default limit practically unlimited; the creates and latency keys get limits.
    const sim = await startServer<SimInfo>('simulator', [
      '--trace',
      '--max-concurrent',
      '1000000',
      '--duration',
      '50ms..150ms',
    ]);
    children.push(sim);

    // Part 1a: GET /scheduler/available on quiet gateways (default poll policy, no polls in the windows).
    const quiet = await Fleet.start('available', sim, dir, pgFor(), 'quiet', options);
    fleets.push(quiet);
    const availableTenant = new Map<ConfigName, Tenant>();
    for (const [config, gw, prefix] of [
      ['sqlite×1', quiet.sqlite, 'bench-soa-s-'],
      ['pg×1', quiet.pg1, 'bench-soa-p-'],
    ] as const) {
      if (!gw) continue;
      const tenant = await withServerLog(gw, async () => {
        const t = await createTenant(gw.info.url, gw.info.adminToken, 'bench-scaleout-available');
        await addAccounts(gw.info.url, t.token, availableAccounts(options), AVAILABLE_MAX_JOBS, prefix);
        await inParallel(availableAccounts(options) * AVAILABLE_MAX_JOBS, 8, async (i) => {
          await expectStatus(
            `hour-long job ${i}`,
            call(gw.info.url, 'POST', '/v2/pixverse/videos/create', {
              token: t.token,
              body: { prompt: `held ${i} #sim:duration=3600000` },
            }),
            200,
          );
        });
        return t;
      });
      availableTenant.set(config, tenant);
      if (config === 'pg×1') availableTenant.set('pg×3', tenant);
    }
    const available = await windows(
      quiet,
      options,
      'available',
      (config) => {
        const headers = { authorization: `Bearer ${availableTenant.get(config)!.token}` };
        return () => ({ method: 'GET', path: '/v2/pixverse/scheduler/available', headers });
      },
      undefined,
    );
    await quiet.stop();

    // Part 1b: creates on fast-polling gateways.
    const fast = await Fleet.start('creates', sim, dir, pgFor(), 'fast', options);
    fleets.push(fast);
    const createsTenant = new Map<ConfigName, Tenant>();
    for (const [config, gw, prefix] of [
      ['sqlite×1', fast.sqlite, 'bench-soc-s-'],
      ['pg×1', fast.pg1, 'bench-soc-p-'],
    ] as const) {
      if (!gw) continue;
      await setSimLimits(
        sim.info.url,
        prefix,
        Array.from({ length: CREATE_ACCOUNTS }, () => CREATE_MAX_JOBS),
      );
      const tenant = await withServerLog(gw, async () => {
        const t = await createTenant(gw.info.url, gw.info.adminToken, 'bench-scaleout-creates');
        await addAccounts(gw.info.url, t.token, CREATE_ACCOUNTS, CREATE_MAX_JOBS, prefix);
        return t;
      });
      createsTenant.set(config, tenant);
      if (config === 'pg×1') createsTenant.set('pg×3', tenant);
    }
    const creates = await windows(
      fast,
      options,
      'creates',
      (config) => {
        const headers = {
          authorization: `Bearer ${createsTenant.get(config)!.token}`,
          'content-type': 'application/json',
        };
        return () => ({ method: 'POST', path: '/v2/pixverse/videos/create', headers, body: GATEWAY_BODY });
      },
      (_o, status) => status === 200,
    );
    const violations = new Map<ConfigName, number>();
    for (const [config, prefix] of [
      ['sqlite×1', 'bench-soc-s-'],
      ['pg×1', 'bench-soc-p-'],
    ] as const) {
      if (createsTenant.has(config))
        violations.set(config, (await prefixStats(sim.info.url, prefix)).violations);
    }
    await fast.stop();

    // Part 2: slot-free → next dispatch with a queue, poll traffic as in production.
    const slow = await Fleet.start('latency', sim, dir, pgFor(), 'latency', options);
    fleets.push(slow);
    const latency: LatencyFigures[] = [];
    const loads = options.short ? [MODERATE] : [MODERATE, HEAVY];
    const durationsOf = (load: LatencyLoad) =>
      latencyJobs(load === HEAVY ? 4 * latencyN : latencyN, options.seed);
    let n = 0;
    const measure = async (config: ConfigName) => {
      for (const load of loads)
        latency.push(
          await dispatchLatency(
            config,
            load,
            sim,
            slow.instances(config),
            `bench-sol${n++}-`,
            durationsOf(load),
          ),
        );
    };
    await measure('sqlite×1');
    if (slow.pg1) {
      if (!options.short) await measure('pg×1');
      await slow.startExtra();
      await measure('pg×3');
    }
    await slow.stop();

    log('  slot-free → next dispatch (final poll answered → next create on that key, while jobs wait):');
    for (const l of latency) {
      log(
        `    ${l.config.padEnd(9)} ${l.load.name.padEnd(8)} all ${describeGaps(l.all)}   makespan ${(l.makespanMs / 1000).toFixed(2)} s, violations ${l.violations}, event loop delay p99 ${l.loopP99.toFixed(0)} ms`,
      );
      if (l.pgPerJob > 0) {
        log(
          `              ${l.pgPerJob.toFixed(1)} PostgreSQL statements per job; most sent: ${l.pgTop.map(([t, n]) => `${(n / l.jobs).toFixed(1)}× "${t}"`).join(', ')}`,
        );
        log(`              transactions (BEGIN → COMMIT answered), per instance: ${l.pgTx.join('; ')}`);
      }
      if (l.config === 'pg×3') {
        log(`              other instance ${describeGaps(l.cross)}`);
        log(`              same instance  ${describeGaps(l.same)}`);
      }
      log(`              after the real end ${describeGaps(l.idle)}`);
    }
    log(
      `  upstream concurrency violations (creates): ${[...violations].map(([n, v]) => `${n.replace('pg×1', 'pg×1+×3')} ${v}`).join(', ')}`,
    );

    const rows: SummaryRow[] = [];
    const row = (
      bench: string,
      metric: string,
      g: LoadResult,
      b: LoadResult,
      baselineName: string,
    ): SummaryRow => ({
      bench,
      metric,
      gateway: g.rps,
      baseline: b.rps,
      baselineName,
      ratio: g.rps / b.rps,
      target: 'info',
      met: true,
      gatewayCpuUs: cpuPerResponse(g),
      baselineCpuUs: cpuPerResponse(b),
    });
    const s1c = creates.get('sqlite×1')!;
    const s1a = available.get('sqlite×1')!;
    const p1c = creates.get('pg×1');
    const p3c = creates.get('pg×3');
    const p1a = available.get('pg×1');
    const p3a = available.get('pg×3');
    if (p1c && p3c && p1a && p3a) {
      log(
        `  creates/s: SQLite ${s1c.rps.toFixed(0)}, PG×1 ${p1c.rps.toFixed(0)} (×${(p1c.rps / s1c.rps).toFixed(2)} of SQLite), PG×3 ${p3c.rps.toFixed(0)} (×${(p3c.rps / p1c.rps).toFixed(2)} of PG×1)` +
          `;  available/s: SQLite ${s1a.rps.toFixed(0)}, PG×1 ${p1a.rps.toFixed(0)} (×${(p1a.rps / s1a.rps).toFixed(2)}), PG×3 ${p3a.rps.toFixed(0)} (×${(p3a.rps / p1a.rps).toFixed(2)} of PG×1)`,
      );
      rows.push(row('scaleout creates', 'accepted/s PG×1', p1c, s1c, 'SQLite×1'));
      rows.push(row('  … three instances', 'accepted/s PG×3', p3c, p1c, 'PG×1'));
      rows.push(row('scaleout available', 'req/s PG×1', p1a, s1a, 'SQLite×1'));
      rows.push(row('  … three instances', 'req/s PG×3', p3a, p1a, 'PG×1'));
    } else {
      rows.push(row('scaleout creates (SQLite only)', 'accepted/s', s1c, s1c, 'SQLite×1'));
    }
    const l3 = latency.find((l) => l.config === 'pg×3' && l.load === MODERATE);
    const ls = latency.find((l) => l.config === 'sqlite×1' && l.load === MODERATE)!;
    if (l3) {
      const enough = l3.cross.length >= 20;
      const p99 = quantile(enough ? l3.cross : l3.all, 0.99);
      rows.push({
        bench: '  … slot-free → dispatch, PG×3 (moderate)',
        metric: enough ? `p99 ms, other inst. (n=${l3.cross.length})` : `p99 ms, all (n=${l3.all.length})`,
        gateway: p99,
        baseline: quantile(ls.all, 0.99),
        baselineName: 'SQLite×1',
        ratio: p99 / quantile(ls.all, 0.99),
        target: `≤ ${CROSS_DISPATCH_P99_TARGET_MS} ms`,
        met: p99 <= CROSS_DISPATCH_P99_TARGET_MS,
        gatewayCpuUs: null,
        baselineCpuUs: null,
        digits: 1,
      });
    }
    return { rows };
  } finally {
    for (const fleet of fleets) await fleet.stop();
    await stopAll(children);
    for (const schema of schemas)
      await schema
        .drop()
        .catch((err: unknown) => log(`  could not drop schema ${schema.name}: ${(err as Error).message}`));
    removeTempDir(dir);
  }
}

export function scaleoutDeadlineMs(options: BenchOptions): number {
  return (
    240_000 + 3 * 2 * options.rounds * (options.durationMs + options.warmupMs) + 200 * (options.jobs ?? 1_500)
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const options = parseBenchArgs();
  withDeadline('scaleout bench', scaleoutDeadlineMs(options), benchScaleout(options)).then(
    () => process.exit(0),
    async (err: unknown) => {
      process.stderr.write(
        `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      await cleanupAsync();
      process.exit(1);
    },
  );
}
