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
  /** queue/polls benches: simulated time runs × this (null: each bench's default). */
  timeScale: number | null;
  /** queue/polls/scaleout benches: jobs and accounts of the workload (null: each bench's default). */
  jobs: number | null;
  accounts: number | null;
  /** queue bench: jobs put in the queue for the memory measurement (null: default). */
  queued: number | null;
  /** Seed of the workload's durations. */
  seed: number;
  /** run.ts: only these benches (null: all). */
  only: string[] | null;
  /** queue bench: accounts get PixVerse webhooks (default); --no-webhooks: completion by polling only. */
  webhooks: boolean;
}

export const BENCH_NAMES = ['available', 'creates', 'queue', 'scaleout', 'polls', 'dashboard'] as const;

export const USAGE = `options:
  --short              CI mode: 1 s measurements, 0.5 s warm-up, fewer seeded jobs
  --connections N      concurrent keep-alive connections of the load generator (default 32)
  --duration D         measured window per server, e.g. 5s (default 5s; 1s with --short)
  --warmup D           warm-up before each window (default 1s; 500ms with --short)
  --rounds N           alternate baseline and gateway windows N times (default 3; 1 with --short)
  --profile DIR        run the gateway child with --cpu-prof, writing .cpuprofile files to DIR
  --time-scale F       queue/polls: simulated durations and poll timings × F (default 0.02; 0.01 with --short)
  --jobs N             queue/polls/scaleout: jobs in the workload (defaults per bench)
  --accounts N         queue/polls: accounts (maxJobs cycling 1…8); creates: the large pool (default 500)
  --queued N           queue: jobs held in the queue for the memory figure (default 100000; 20000 with --short)
  --seed N             seed of the workload's job durations (default 1)
  --no-webhooks        queue: accounts without PixVerse webhooks (job ends found by polling only)
  --only a,b           run.ts: only these benches (${'available, creates, queue, scaleout, polls, dashboard'})`;

export function parseBenchArgs(argv: string[] = process.argv.slice(2)): BenchOptions {
  const short = argv.includes('--short');
  const value = (name: string): string | undefined => {
    const at = argv.indexOf(name);
    if (at < 0) return undefined;
    const v = argv[at + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value\n${USAGE}`);
    return v;
  };
  const known = new Set([
    '--short',
    '--connections',
    '--duration',
    '--warmup',
    '--profile',
    '--rounds',
    '--help',
    '--time-scale',
    '--jobs',
    '--accounts',
    '--queued',
    '--seed',
    '--only',
    '--no-webhooks',
  ]);
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
  if (!Number.isInteger(connections) || connections < 1 || connections > 1024)
    throw new Error('--connections must be 1..1024');
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
  const optionalInt = (name: string, min: number, max: number): number | null => {
    const text = value(name);
    if (text === undefined) return null;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`${name} must be an integer in ${min}..${max}`);
    return n;
  };
  const scaleText = value('--time-scale');
  const timeScale = scaleText === undefined ? null : Number(scaleText);
  if (timeScale !== null && !(timeScale > 0 && timeScale <= 1))
    throw new Error('--time-scale must be in (0, 1]');
  const jobs = optionalInt('--jobs', 1, 1_000_000);
  const accounts = optionalInt('--accounts', 1, 1_000);
  const queued = optionalInt('--queued', 0, 1_000_000);
  const seed = optionalInt('--seed', 0, 2 ** 31) ?? 1;
  const onlyText = value('--only');
  const only =
    onlyText === undefined
      ? null
      : onlyText
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  for (const name of only ?? []) {
    if (!(BENCH_NAMES as readonly string[]).includes(name))
      throw new Error(`--only: unknown bench ${name} (known: ${BENCH_NAMES.join(', ')})`);
  }
  const webhooks = !argv.includes('--no-webhooks');
  return {
    short,
    connections,
    warmupMs,
    durationMs,
    rounds,
    profileDir,
    timeScale,
    jobs,
    accounts,
    queued,
    seed,
    only,
    webhooks,
  };
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
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)),
      ms,
    );
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
