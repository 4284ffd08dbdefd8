/** Event-loop delay of a bench gateway child over a window (servers/gateway.ts, SIGUSR2). */
import type { ServerChild } from './children.ts';

export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export interface PgQueries {
  total: number;
  /** [statement (first words), count], most frequent first. */
  top: [string, number][];
}

export interface PgTransactions {
  count: number;
  /** BEGIN sent → COMMIT answered (the time the transaction held its locks). */
  p50Ms: number | null;
  p99Ms: number | null;
  statementsPerTx: number | null;
}

export interface WindowStats {
  eventLoopDelayMs: LoopDelay;
  /** Scheduler → store calls: [method, calls, total ms (wall time; for SQLite, CPU time)], costliest first. */
  storeCalls: [string, number, number][];
  pgQueries: PgQueries;
  pgTransactions: PgTransactions;
  /** SQLite: write transactions (BEGIN, or a writing statement in autocommit) in the window. */
  sqliteWriteTransactions?: number;
}

interface StatsLine extends WindowStats {
  seq: number;
}

function lastStats(child: ServerChild<unknown>): StatsLine | null {
  const lines = child
    .stderrTail(40)
    .split('\n')
    .filter((l) => l.startsWith('BENCH_STATS '));
  if (lines.length === 0) return null;
  try {
    return JSON.parse(lines[lines.length - 1]!.slice('BENCH_STATS '.length)) as StatsLine;
  } catch {
    return null;
  }
}

/** Asks the child for its figures since the previous request (which starts a new window). */
export async function windowStats(child: ServerChild<unknown>): Promise<WindowStats | null> {
  const seen = lastStats(child)?.seq ?? 0;
  try {
    process.kill(child.pid, 'SIGUSR2');
  } catch {
    return null;
  }
  for (let i = 0; i < 80; i++) {
    await new Promise((r) => setTimeout(r, 25));
    const stats = lastStats(child);
    if (stats && stats.seq > seen) return stats;
  }
  return null;
}

/** Starts a new window in the child. */
export async function resetLoopDelay(child: ServerChild<unknown>): Promise<void> {
  await windowStats(child);
}

/** Ends the window: the child's event-loop delay since the last reset, or null if it did not answer. */
export async function readLoopDelay(child: ServerChild<unknown>): Promise<LoopDelay | null> {
  return (await windowStats(child))?.eventLoopDelayMs ?? null;
}

/** "dispatchBatch 2.1/job 6,400 ms, …" for the costliest store calls of a window. */
export function describeStoreCalls(stats: WindowStats | null, jobs: number, top = 6): string {
  if (!stats || stats.storeCalls.length === 0) return 'store calls -';
  return `store calls (per job, total ms): ${stats.storeCalls
    .slice(0, top)
    .map(([name, n, ms]) => `${name} ${(n / jobs).toFixed(1)} ${ms.toLocaleString('en-US')} ms`)
    .join(', ')}`;
}

export const describeLoopDelay = (d: LoopDelay | null) =>
  d === null
    ? 'event loop delay -'
    : `event loop delay p50 ${d.p50.toFixed(1)} ms p99 ${d.p99.toFixed(1)} ms max ${d.max.toFixed(0)} ms`;
