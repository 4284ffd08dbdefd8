/**
 * `pixgate watch`: a live, top-like view of accounts, running jobs and the queue. On a terminal
 * the screen is redrawn in place (alternate screen, restored on exit); piped, each refresh is
 * printed as a block, or with --json as one JSON line (NDJSON).
 */
import type { Command } from 'commander';
import type { PixgateClient } from '../../client/client.ts';
import { PixgateUnreachableError } from '../../client/errors.ts';
import type { Available } from '../../client/types.ts';
import { clientFor, duration, integer, withConnection, type ConnectionFlags } from './connection.ts';
import { run } from './exit.ts';
import { availableTable } from './available.ts';
import { elapsedSince, table } from './output.ts';

interface Flags extends ConnectionFlags {
  interval: number;
  count?: number;
  json?: boolean;
}

export function registerWatch(program: Command): void {
  withConnection(program.command('watch').description('live view of accounts, running jobs and the queue'))
    .option('--interval <duration>', 'time between refreshes (default 1s)', duration('--interval'), 1000)
    .option('--count <n>', 'stop after this many refreshes', integer('--count', 1))
    .option('--json', 'one JSON line per refresh')
    .action(
      run(async (flags: Flags) => {
        const client = clientFor(flags);
        const everyMs = flags.interval;
        const tty = Boolean(process.stdout.isTTY) && !flags.json;
        await (tty ? live(client, everyMs, flags.count) : stream(client, everyMs, flags));
      }),
    );
}

async function stream(client: PixgateClient, everyMs: number, flags: Flags): Promise<void> {
  for (let i = 0; flags.count === undefined || i < flags.count; i++) {
    if (i > 0) await sleep(everyMs);
    const view = await client.available();
    process.stdout.write(
      flags.json
        ? `${JSON.stringify({ at: new Date().toISOString(), ...view })}\n`
        : `${screen(client.url, view, Infinity)}\n`,
    );
  }
}

async function live(client: PixgateClient, everyMs: number, count: number | undefined): Promise<void> {
  const out = process.stdout;
  // A bounded run (--count) draws on the normal screen so its last frame stays visible.
  const alternate = count === undefined;
  out.write(alternate ? '\x1b[?1049h\x1b[?25l' : '\x1b[?25l');
  const restore = () => out.write(alternate ? '\x1b[?25h\x1b[?1049l' : '\x1b[?25h');
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (let i = 0; (count === undefined || i < count) && !stop.signal.aborted; i++) {
      let text: string;
      try {
        text = screen(client.url, await client.available(), out.rows || 40);
      } catch (err) {
        // A restarting gateway should not end the view; anything else (auth, 404) does.
        if (!(err instanceof PixgateUnreachableError)) throw err;
        text = `pixgate watch · ${client.url} · ${new Date().toISOString().slice(11, 19)}\n\n${err.message}\n`;
      }
      out.write(`\x1b[H\x1b[2J${text}`);
      await sleep(everyMs, stop.signal);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    restore();
  }
}

/** One refresh: header, accounts, running jobs, then as much of the queue as fits in `rows`. */
export function screen(url: string, view: Available, rows: number): string {
  const now = Date.now();
  let text = `pixgate watch · ${url} · ${new Date(now).toISOString().slice(11, 19)} UTC\n\n`;
  text += availableTable(view);
  if (view.executing.length > 0) {
    text += `\nRUNNING\n${table(
      ['ID', 'TYPE', 'ELAPSED', 'REF'],
      view.executing.map((job) => [job.id, job.type, elapsedSince(job.started, now), job.replyRef ?? '']),
    )}`;
  }
  if (view.queuedCount > 0) {
    // Title, header and the "more" line, plus the cursor's own row so the screen never scrolls.
    const used = text.split('\n').length + 4;
    const fit = Math.max(1, Math.min(view.queued.length, rows - used));
    const shown = view.queued
      .slice(0, fit)
      .map((job) => [
        String(job.position),
        job.id,
        job.type,
        job.estimatedStart?.slice(11, 19) ?? '?',
        elapsedSince(job.queued, now),
      ]);
    text += `\nQUEUED (${view.queuedCount})\n${table(['#', 'ID', 'TYPE', 'EST. START', 'WAITING'], shown)}`;
    if (view.queuedCount > fit) text += `… ${view.queuedCount - fit} more\n`;
  }
  return text;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
