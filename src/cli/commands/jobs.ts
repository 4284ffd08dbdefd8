/**
 * `pixgate jobs list|show|cancel`. The listing shows the jobs holding a slot (GET /scheduler);
 * waiting jobs are in `pixgate available` and `pixgate watch`.
 */
import type { Command } from 'commander';
import { clientFor, withConnection, type ConnectionFlags } from './connection.ts';
import { run } from './exit.ts';
import { elapsedSince, printJson, table } from './output.ts';

interface Flags extends ConnectionFlags {
  json?: boolean;
}

export function registerJobs(program: Command): void {
  const jobs = program.command('jobs').description('running jobs: list, show one, cancel one');

  withConnection(jobs.command('list').description('jobs holding a slot now'))
    .option('--json', 'print JSON')
    .action(
      run(async (flags: Flags) => {
        const running = await clientFor(flags).running();
        if (flags.json) return printJson(running);
        if (running.length === 0) return void process.stdout.write('no running jobs\n');
        process.stdout.write(
          table(
            ['ID', 'TYPE', 'STARTED', 'ELAPSED', 'REF'],
            running.map((job) => [job.id, job.type, job.started, job.elapsed, job.replyRef ?? '']),
          ),
        );
      }),
    );

  withConnection(
    jobs
      .command('show')
      .argument('<id>', 'job id')
      .description('one job with its state, result URL or error'),
  )
    .option('--json', 'print the gateway’s job document')
    .action(
      run(async (id: string, flags: Flags) => {
        const { status, document } = await clientFor(flags).getJob(id);
        if (flags.json) return printJson(document);
        const lines: [string, string | null][] = [
          ['id', status.id],
          ['type', status.type],
          ['state', `${status.state} (${status.statusName})`],
          ['account', status.email],
          ['created', status.createdAt],
          ['started', status.startedAt],
          ['elapsed', status.startedAt && !status.final ? elapsedSince(status.startedAt) : null],
          ['queue position', status.queuePosition === null ? null : String(status.queuePosition)],
          ['estimated start', status.queueEta],
          ['url', status.url],
          ['error', status.error],
        ];
        for (const [label, value] of lines)
          if (value) process.stdout.write(`${`${label}:`.padEnd(17)}${value}\n`);
      }),
    );

  // PixVerse has no cancel: a running job is untracked (its slot frees at once, PixVerse finishes
  // it and the result stays readable); a queued one never reached PixVerse and is cancelled.
  withConnection(
    jobs
      .command('cancel')
      .argument('<id>', 'job id')
      .description(
        'free the slot of a running job (untrack: PixVerse still finishes it) or cancel a queued one',
      ),
  ).action(
    run(async (id: string, flags: Flags) => {
      await clientFor(flags).cancel(id);
      process.stdout.write(`released ${id}\n`);
    }),
  );
}
