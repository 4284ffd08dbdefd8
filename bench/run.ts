/**
 * `npm run bench`: both benches, one after the other, then a summary table. Ratios are the
 * figures to compare across runs (absolute numbers drift with the shared machine); targets are
 * printed, never asserted. Exit status is non-zero only when a bench could not run.
 *
 *   npm run bench                 full: 5 s windows after 1 s warm-up
 *   npm run bench -- --short      CI: 1 s windows, fewer seeded jobs (keeps the benches working)
 *   npm run bench -- --help       all options
 */
import { cpus, loadavg } from 'node:os';
import { benchAvailable } from './available.ts';
import { benchCreates } from './creates.ts';
import { cleanupNow } from './lib/children.ts';
import { parseBenchArgs, withDeadline } from './lib/options.ts';
import { log, printSummary, type SummaryRow } from './lib/report.ts';

async function main(): Promise<void> {
  const options = parseBenchArgs();
  log(
    `pixgate bench (${options.short ? 'short' : 'full'} mode) — node ${process.version}, ${cpus().length} cores, load average ${loadavg()
      .map((n) => n.toFixed(1))
      .join(' ')}`,
  );
  const window = options.durationMs + options.warmupMs;
  const rows: SummaryRow[] = [];
  rows.push(...(await withDeadline('available bench', 180_000 + 4 * window, benchAvailable(options))).rows);
  rows.push(...(await withDeadline('creates bench', 120_000 + 4 * window, benchCreates(options))).rows);
  printSummary(rows);
  if (options.profileDir) log(`\nCPU profiles of the gateway child: ${options.profileDir} (open in Chrome DevTools → Performance)`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`\nbench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    cleanupNow();
    process.exit(1);
  },
);
