/**
 * GET /v2/pixverse/scheduler/available with a busy tenant (default 100 accounts × maxJobs 3, all 300
 * slots held by hour-long simulated jobs), against a bare node:http server that returns the very
 * bytes and content-type the gateway returned. Same load, same machine, one after the other; the
 * ratio gateway/bare is the figure of merit (target ≥ 0.5).
 *
 *   node --import tsx bench/available.ts [--short] [--connections N] [--duration 5s] [--profile DIR]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeTempDir, removeTempDir, startServer, stopAll, type ServerChild } from './lib/children.ts';
import { call } from './lib/http.ts';
import { mergeLoads, runLoad, type LoadResult } from './lib/load.ts';
import { gatewayNodeArgs, parseBenchArgs, withDeadline, type BenchOptions } from './lib/options.ts';
import { cpuPerResponse, describeLoad, log, type SummaryRow } from './lib/report.ts';
import { addAccounts, createJobs, createTenant, withServerLog } from './lib/seed.ts';

export const AVAILABLE_TARGET = 0.5;
const PATH = '/v2/pixverse/scheduler/available';
const MAX_JOBS = 3;
/** Response headers a server sets per connection or per response, not part of "the same bytes". */
const HOP_HEADERS = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

interface UrlInfo {
  url: string;
}
interface GatewayInfo extends UrlInfo {
  adminToken: string;
}

export interface AvailableResult {
  accounts: number;
  jobs: number;
  bodyBytes: number;
  bare: LoadResult;
  gateway: LoadResult;
  ratio: number;
  rows: SummaryRow[];
}

export async function benchAvailable(options: BenchOptions): Promise<AvailableResult> {
  const accounts = options.short ? 30 : 100;
  const jobs = accounts * MAX_JOBS;
  log(
    `\n== scheduler/available: ${accounts} accounts, ${jobs} running jobs, ${options.connections} connections, ${options.rounds} × ${options.durationMs} ms per server after ${options.warmupMs} ms warm-up each`,
  );
  const dir = makeTempDir('pixgate-bench-available-');
  const children: ServerChild<unknown>[] = [];
  try {
    const sim = await startServer<UrlInfo>('simulator', [
      '--max-concurrent',
      String(MAX_JOBS),
      '--duration',
      '1h',
    ]);
    children.push(sim);
    const gw = await startServer<GatewayInfo>(
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
      { nodeArgs: gatewayNodeArgs(options, 'available') },
    );
    children.push(gw);

    const seedStart = performance.now();
    const tenant = await withServerLog(gw, async () => {
      const created = await createTenant(gw.info.url, gw.info.adminToken, 'bench-available');
      await addAccounts(gw.info.url, created.token, accounts, MAX_JOBS, 'bench-available-key-');
      await createJobs(gw.info.url, created.token, jobs, (i) => `bench job ${i} #sim:duration=3600000`);
      return created;
    });
    log(`  seeded through the API in ${Math.round(performance.now() - seedStart)} ms`);

    // Capture the real response once; the bare server replays it byte for byte.
    const auth = { authorization: `Bearer ${tenant.token}` };
    const captured = await call<{ executing: unknown[]; available: { available: number }[] }>(
      gw.info.url,
      'GET',
      PATH,
      { headers: auth },
    );
    if (captured.status !== 200)
      throw new Error(`GET ${PATH}: HTTP ${captured.status} ${captured.raw.toString().slice(0, 200)}`);
    if (captured.body.executing.length !== jobs || captured.body.available.length !== accounts) {
      throw new Error(
        `unexpected state: ${captured.body.executing.length} executing, ${captured.body.available.length} accounts`,
      );
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(captured.headers)) {
      if (value !== undefined && !HOP_HEADERS.has(name))
        headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    writeFileSync(join(dir, 'body.json'), captured.raw);
    writeFileSync(join(dir, 'headers.json'), JSON.stringify(headers));
    log(`  response: ${captured.raw.length} bytes, headers ${JSON.stringify(headers)}`);

    const load = (origin: string, server: ServerChild<unknown>) =>
      runLoad({
        origin,
        connections: options.connections,
        warmupMs: options.warmupMs,
        durationMs: options.durationMs,
        request: () => ({ method: 'GET', path: PATH, headers: auth }),
        serverCpu: () => server.cpuSeconds(),
      });

    // Alternate baseline and gateway windows; only one of them is under load at any time.
    const bareServer = await startServer<UrlInfo>('bare', [
      '--body',
      join(dir, 'body.json'),
      '--headers',
      join(dir, 'headers.json'),
    ]);
    children.push(bareServer);
    const bares: LoadResult[] = [];
    const gateways: LoadResult[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const b = await load(bareServer.info.url, bareServer);
      log(describeLoad(`bare node:http #${round}`, b));
      const g = await load(gw.info.url, gw);
      log(describeLoad(`gateway #${round}`, g));
      log(`  round ${round} ratio ${(g.rps / b.rps).toFixed(2)}`);
      bares.push(b);
      gateways.push(g);
    }
    await bareServer.stop();
    const bare = mergeLoads(bares);
    const gateway = mergeLoads(gateways);
    if (options.rounds > 1) {
      log(describeLoad('bare node:http (all)', bare));
      log(describeLoad('gateway (all)', gateway));
    }
    for (const [name, r] of [
      ['bare', bare],
      ['gateway', gateway],
    ] as const) {
      if (r.successes === 0)
        throw new Error(`${name}: no successful responses (${r.firstError ?? JSON.stringify(r.outcomes)})`);
    }

    const ratio = gateway.rps / bare.rps;
    log(
      `  ratio gateway/bare: ${ratio.toFixed(2)} (target ≥ ${AVAILABLE_TARGET})  p50 ×${(gateway.p50Ms / bare.p50Ms).toFixed(1)}  p99 ×${(gateway.p99Ms / bare.p99Ms).toFixed(1)}`,
    );
    return {
      accounts,
      jobs,
      bodyBytes: captured.raw.length,
      bare,
      gateway,
      ratio,
      rows: [
        {
          bench: `available (${accounts} acc, ${jobs} jobs)`,
          metric: 'req/s',
          gateway: gateway.rps,
          baseline: bare.rps,
          baselineName: 'bare http',
          ratio,
          target: `ratio ≥ ${AVAILABLE_TARGET}`,
          gatewayCpuUs: cpuPerResponse(gateway),
          baselineCpuUs: cpuPerResponse(bare),
          met: ratio >= AVAILABLE_TARGET,
        },
      ],
    };
  } finally {
    await stopAll(children);
    removeTempDir(dir);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const options = parseBenchArgs();
  withDeadline(
    'available bench',
    180_000 + 4 * (options.durationMs + options.warmupMs),
    benchAvailable(options),
  ).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(
        `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
