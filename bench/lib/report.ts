/** Text output: per-server lines and the final summary table. */
import type { LoadResult } from './load.ts';

export interface SummaryRow {
  bench: string;
  metric: string;
  gateway: number;
  baseline: number;
  baselineName: string;
  /** gateway / baseline */
  ratio: number;
  target: string;
  met: boolean;
  /** Server CPU time per response (µs) over the windows; steadier than rates on a busy machine. */
  gatewayCpuUs: number | null;
  baselineCpuUs: number | null;
  /** Decimals for the gateway and baseline columns (default 0). */
  digits?: number;
}

/** Server CPU µs per response of a load result, or null when /proc is unavailable. */
export function cpuPerResponse(r: LoadResult): number | null {
  return r.serverCpu !== null && r.totalRps > 0 ? (r.serverCpu / r.totalRps) * 1e6 : null;
}

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '-';

export function describeLoad(name: string, r: LoadResult): string {
  const outcomes = Object.entries(r.outcomes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');
  const us = cpuPerResponse(r);
  const perResponse = us === null ? '' : ` = ${fmt(us)} µs/resp`;
  const cpu = `cpu client ${fmt(r.clientCpu * 100)}%${r.serverCpu === null ? '' : ` server ${fmt(r.serverCpu * 100)}%${perResponse}`}`;
  const errors = r.errors ? `  ERRORS ${r.errors} (${r.firstError})` : '';
  return `  ${name.padEnd(22)} ${fmt(r.rps).padStart(8)}/s  p50 ${fmt(r.p50Ms, 2).padStart(7)} ms  p99 ${fmt(r.p99Ms, 2).padStart(7)} ms  ${fmt(r.bytesPerResponse)} B/resp  [${outcomes}]  ${cpu}${errors}`;
}

export function printSummary(rows: SummaryRow[]): void {
  const header = [
    'bench',
    'metric',
    'gateway',
    'baseline',
    'ratio',
    'target',
    'met',
    'server CPU µs/resp gw | base',
  ];
  const cpu = (n: number | null) => (n === null ? '-' : fmt(n));
  const body = rows.map((r) => [
    r.bench,
    r.metric,
    fmt(r.gateway, r.digits ?? 0),
    `${fmt(r.baseline, r.digits ?? 0)} (${r.baselineName})`,
    fmt(r.ratio, 2),
    r.target,
    r.met ? 'yes' : 'NO',
    `${cpu(r.gatewayCpuUs)} | ${cpu(r.baselineCpuUs)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  process.stdout.write(
    `\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${body.map(line).join('\n')}\n`,
  );
}

export const log = (text: string) => process.stdout.write(`${text}\n`);
