/**
 * What open dashboard pages cost the gateway: accepted creates per second (the creates bench's
 * workload: 50 accounts × maxJobs 8, simulated jobs of 50..150 ms) with PAGES dashboard streams
 * open, against the same load with none, in alternating windows of one run. Each page holds one
 * server-sent-events stream; the hub coalesces the burst of scheduler events into at most one
 * snapshot per tenant per 250 ms, built once for all pages. The ratio with/without is the figure
 * (target ≥ 0.9); snapshots and bytes per page per second are printed.
 *
 *   node --import tsx bench/dashboard.ts [--short] [--connections N] [--duration 5s]
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { request } from 'undici';
import { makeTempDir, removeTempDir, startServer, stopAll, type ServerChild } from './lib/children.ts';
import { call, expectStatus } from './lib/http.ts';
import { mergeLoads, runLoad, type LoadResult } from './lib/load.ts';
import { gatewayNodeArgs, parseBenchArgs, withDeadline, type BenchOptions } from './lib/options.ts';
import { cpuPerResponse, describeLoad, log, type SummaryRow } from './lib/report.ts';
import { addAccounts, createTenant, withServerLog } from './lib/seed.ts';

export const DASHBOARD_TARGET = 0.9;
const PAGES = 20;
const ACCOUNTS = 50;
const MAX_JOBS = 8;
const KEY = 'bench-dashboard-key-';

interface UrlInfo {
  url: string;
}
interface GatewayInfo extends UrlInfo {
  adminToken: string;
}

/** One open page's stream: counts snapshots and bytes until closed. */
interface Page {
  snapshots: number;
  bytes: number;
  close(): void;
}

async function openPage(origin: string, token: string): Promise<Page> {
  const ticket = await expectStatus(
    'stream ticket',
    call<{ ticket: string }>(origin, 'POST', '/dashboard/api/stream-ticket', { token, body: {} }),
    200,
  );
  const abort = new AbortController();
  const res = await request(`${origin}/dashboard/api/stream?ticket=${encodeURIComponent(ticket.ticket)}`, {
    signal: abort.signal,
    bodyTimeout: 0,
  });
  if (res.statusCode !== 200) throw new Error(`stream: HTTP ${res.statusCode}`);
  const page: Page = { snapshots: 0, bytes: 0, close: () => abort.abort() };
  void (async () => {
    try {
      for await (const chunk of res.body) {
        const text = (chunk as Buffer).toString('utf8');
        page.bytes += (chunk as Buffer).length;
        page.snapshots += text.split('event: snapshot\n').length - 1;
      }
    } catch {
      // closed
    }
  })();
  return page;
}

export async function benchDashboard(options: BenchOptions): Promise<{ rows: SummaryRow[] }> {
  log(
    `\n== dashboard: creates with ${PAGES} open dashboard pages vs none; ${ACCOUNTS} accounts × maxJobs ${MAX_JOBS}, ${options.connections} connections, ${options.rounds} × ${options.durationMs} ms per side after ${options.warmupMs} ms warm-up each`,
  );
  const dir = makeTempDir('pixgate-bench-dashboard-');
  const children: ServerChild<unknown>[] = [];
  try {
    const sim = await startServer<UrlInfo>('simulator', [
      '--max-concurrent',
      '1000000',
      '--key-limit',
      `${KEY}=${MAX_JOBS}`,
      '--key-count',
      String(ACCOUNTS),
      '--duration',
      '50ms..150ms',
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
        '--expected-duration',
        '100ms',
        '--poll-min-interval',
        '20ms',
        '--log-level',
        'warn',
      ],
      { nodeArgs: gatewayNodeArgs(options, 'dashboard') },
    );
    children.push(gw);
    const tenant = await withServerLog(gw, async () => {
      const created = await createTenant(gw.info.url, gw.info.adminToken, 'bench-dashboard');
      await addAccounts(gw.info.url, created.token, ACCOUNTS, MAX_JOBS, KEY);
      return created;
    });
    const creates = () =>
      runLoad({
        origin: gw.info.url,
        connections: options.connections,
        warmupMs: options.warmupMs,
        durationMs: options.durationMs,
        request: () => ({
          method: 'POST',
          path: '/v2/pixverse/videos/create',
          headers: { authorization: `Bearer ${tenant.token}`, 'content-type': 'application/json' },
          body: '{"prompt":"bench dashboard"}',
        }),
        isSuccess: (_outcome, status) => status === 200,
        serverCpu: () => gw.cpuSeconds(),
      });

    const without: LoadResult[] = [];
    const withPages: LoadResult[] = [];
    let snapshots = 0;
    let bytes = 0;
    let watchedSeconds = 0;
    for (let round = 1; round <= options.rounds; round++) {
      const none = await creates();
      log(describeLoad(`no pages #${round}`, none));
      const pages = await Promise.all(
        Array.from({ length: PAGES }, () => openPage(gw.info.url, tenant.token)),
      );
      const t0 = performance.now();
      const watched = await creates();
      const seconds = (performance.now() - t0) / 1000;
      for (const page of pages) page.close();
      snapshots += pages.reduce((sum, p) => sum + p.snapshots, 0);
      bytes += pages.reduce((sum, p) => sum + p.bytes, 0);
      watchedSeconds += seconds;
      log(describeLoad(`${PAGES} pages #${round}`, watched));
      log(`  round ${round} ratio ${(watched.rps / none.rps).toFixed(2)}`);
      without.push(none);
      withPages.push(watched);
    }
    const base = mergeLoads(without);
    const cand = mergeLoads(withPages);
    if (base.successes === 0 || cand.successes === 0)
      throw new Error(`no accepted creates (${base.firstError ?? cand.firstError})\n${gw.stderrTail(8)}`);
    const ratio = cand.rps / base.rps;
    const perPage = snapshots / PAGES / watchedSeconds;
    log(
      `  ratio with/without pages: ${ratio.toFixed(2)} (target ≥ ${DASHBOARD_TARGET}); per page ${perPage.toFixed(1)} snapshots/s, ${(bytes / PAGES / watchedSeconds / 1024).toFixed(0)} KiB/s`,
    );
    return {
      rows: [
        {
          bench: `dashboard (${PAGES} pages during creates)`,
          metric: 'accepted/s',
          gateway: cand.rps,
          baseline: base.rps,
          baselineName: 'no pages',
          ratio,
          target: `ratio ≥ ${DASHBOARD_TARGET}`,
          gatewayCpuUs: cpuPerResponse(cand),
          baselineCpuUs: cpuPerResponse(base),
          met: ratio >= DASHBOARD_TARGET,
        },
      ],
    };
  } finally {
    await stopAll(children);
    removeTempDir(dir);
  }
}

export const dashboardDeadlineMs = (options: BenchOptions) =>
  120_000 + 4 * options.rounds * (options.durationMs + options.warmupMs);

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const options = parseBenchArgs();
  withDeadline('dashboard bench', dashboardDeadlineMs(options), benchDashboard(options)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(
        `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
