/**
 * `npm run bench`: every bench, one after the other, then a summary table. Ratios are the figures
 * to compare across runs (absolute numbers drift with the shared machine); targets are printed,
 * never asserted. Exit status is non-zero only when a bench could not run.
 *
 *   npm run bench                     full: 5 s windows after 1 s warm-up, full-size workloads
 *   npm run bench -- --short          CI: 1 s windows, small workloads (about 3 minutes)
 *   npm run bench -- --only queue     one or more benches (available, creates, queue, scaleout, polls)
 *   npm run bench -- --help           all options
 */
import { benchAvailable } from './available.ts';
import { benchCreates } from './creates.ts';
import { benchDashboard, dashboardDeadlineMs } from './dashboard.ts';
import { cleanupAsync } from './lib/children.ts';
import { machineLine } from './lib/machine.ts';
import { parseBenchArgs, withDeadline, type BenchOptions } from './lib/options.ts';
import { log, printSummary, type SummaryRow } from './lib/report.ts';
import { benchPolls, pollsDeadlineMs } from './polls.ts';
import { benchQueue, queueDeadlineMs } from './queue.ts';
import { benchScaleout, scaleoutDeadlineMs } from './scaleout.ts';

interface Bench {
  name: string;
  deadlineMs: (options: BenchOptions) => number;
  run: (options: BenchOptions) => Promise<{ rows: SummaryRow[] }>;
}

const window = (options: BenchOptions) => options.durationMs + options.warmupMs;
const BENCHES: Bench[] = [
  { name: 'available', deadlineMs: (o) => 180_000 + 4 * window(o), run: benchAvailable },
  { name: 'creates', deadlineMs: (o) => 180_000 + 8 * window(o), run: benchCreates },
  { name: 'queue', deadlineMs: queueDeadlineMs, run: benchQueue },
  { name: 'scaleout', deadlineMs: scaleoutDeadlineMs, run: benchScaleout },
  { name: 'polls', deadlineMs: pollsDeadlineMs, run: benchPolls },
  { name: 'dashboard', deadlineMs: dashboardDeadlineMs, run: benchDashboard },
];

async function main(): Promise<void> {
  const options = parseBenchArgs();
  log(`pixgate bench (${options.short ? 'short' : 'full'} mode) — node ${process.version}, ${machineLine()}`);
  const rows: SummaryRow[] = [];
  const started = performance.now();
  for (const bench of BENCHES) {
    if (options.only && !options.only.includes(bench.name)) continue;
    const t = performance.now();
    rows.push(
      ...(await withDeadline(`${bench.name} bench`, bench.deadlineMs(options), bench.run(options))).rows,
    );
    log(`  (${bench.name}: ${((performance.now() - t) / 1000).toFixed(0)} s)`);
  }
  printSummary(rows);
  log(`\ntotal ${((performance.now() - started) / 1000).toFixed(0)} s; machine at the end: ${machineLine()}`);
  if (options.profileDir)
    log(
      `CPU profiles of the gateway children: ${options.profileDir} (open in Chrome DevTools → Performance)`,
    );
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    process.stderr.write(
      `\nbench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    await cleanupAsync();
    process.exit(1);
  },
);
