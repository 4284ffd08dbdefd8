/** `pixgate available`: per-account capacity, as a table or as the gateway's JSON. */
import type { Command } from 'commander';
import type { Available } from '../../client/types.ts';
import { clientFor, withConnection, type ConnectionFlags } from './connection.ts';
import { run } from './exit.ts';
import { bar, printJson, table } from './output.ts';

interface Flags extends ConnectionFlags {
  json?: boolean;
}

export function registerAvailable(program: Command): void {
  withConnection(
    program.command('available').description('free slots per account, running and queued job counts'),
  )
    .option('--json', 'print the gateway’s /scheduler/available answer')
    .action(
      run(async (flags: Flags) => {
        const view = await clientFor(flags).available();
        if (flags.json) return printJson(view);
        process.stdout.write(availableTable(view));
      }),
    );
}

export function availableTable(view: Available): string {
  const rows = view.available.map((row) => [
    row.email,
    `${bar(row.executing, row.maxJobs)} ${row.executing}/${row.maxJobs}`,
    String(row.available),
    row.state,
    [row.reason, row.cooldownUntil ? `until ${row.cooldownUntil}` : undefined].filter(Boolean).join(' '),
  ]);
  const totals = view.available.reduce(
    (sum, row) => ({ free: sum.free + row.available, max: sum.max + row.maxJobs }),
    { free: 0, max: 0 },
  );
  const summary = `${totals.free} of ${totals.max} slots free · ${view.executing.length} running · ${view.queuedCount} queued\n`;
  if (rows.length === 0) return `no accounts configured\n${summary}`;
  return table(['ACCOUNT', 'SLOTS', 'FREE', 'STATE', 'NOTE'], rows) + summary;
}
