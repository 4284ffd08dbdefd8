/** Command-line options shared by bench/run.ts, bench/available.ts and bench/creates.ts. */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDuration } from '../../src/domain/time.ts';

export interface BenchOptions {
  /** CI mode: 1 s measurements, less seeded state. Keeps the benches working, measures little. */
  short: boolean;
  connections: number;
  warmupMs: number;
  durationMs: number;
  /**
   * Baseline and gateway windows alternate this many times (B G B G …) and the ratio uses the
   * sums, so a burst of noise from other processes on a shared machine hits both sides alike.
   */
  rounds: number;
  /** When set, the gateway child runs with --cpu-prof and writes its profile here. */
  profileDir: string | null;
}

export const USAGE = `options:
  --short              CI mode: 1 s measurements, 0.5 s warm-up, fewer seeded jobs
  --connections N      concurrent keep-alive connections of the load generator (default 32)
  --duration D         measured window per server, e.g. 5s (default 5s; 1s with --short)
  --warmup D           warm-up before each window (default 1s; 500ms with --short)
  --rounds N           alternate baseline and gateway windows N times (default 3; 1 with --short)
  --profile DIR        run the gateway child with --cpu-prof, writing .cpuprofile files to DIR`;

export function parseBenchArgs(argv: string[] = process.argv.slice(2)): BenchOptions {
  const short = argv.includes('--short');
  const value = (name: string): string | undefined => {
    const at = argv.indexOf(name);
    if (at < 0) return undefined;
    const v = argv[at + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value\n${USAGE}`);
    return v;
  };
  const known = new Set(['--short', '--connections', '--duration', '--warmup', '--profile', '--rounds', '--help']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) continue;
    if (!known.has(arg)) throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  if (argv.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const connections = Number(value('--connections') ?? 32);
  if (!Number.isInteger(connections) || connections < 1 || connections > 1024) throw new Error('--connections must be 1..1024');
  const durationMs = parseDuration(value('--duration') ?? (short ? '1s' : '5s'));
  const warmupMs = parseDuration(value('--warmup') ?? (short ? '500ms' : '1s'));
  if (durationMs < 100 || durationMs > 120_000) throw new Error('--duration must be between 100ms and 2m');
  if (warmupMs > 60_000) throw new Error('--warmup must be at most 1m');
  const rounds = Number(value('--rounds') ?? (short ? 1 : 3));
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error('--rounds must be 1..20');
  const profile = value('--profile');
  let profileDir: string | null = null;
  if (profile) {
    profileDir = resolve(profile);
    mkdirSync(profileDir, { recursive: true });
  }
  return { short, connections, warmupMs, durationMs, rounds, profileDir };
}

/**
 * Node flags for the gateway child. Each thread writes its own profile (tsx's loader runs in a
 * worker thread; the biggest file is the main thread), so every bench gets its own directory.
 */
export function gatewayNodeArgs(options: BenchOptions, name: string): string[] {
  return options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(options.profileDir, name)}`] : [];
}

/** Rejects after `ms` so no bench can hang; the caller's finally blocks still clean up. */
export async function withDeadline<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
