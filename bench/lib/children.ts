/**
 * Servers under test run in child processes (`node --import tsx bench/servers/<name>.ts`), so the
 * load generator in this process never shares an event loop with them. A child prints one JSON
 * line on stdout when it is listening; it shuts down when its stdin closes (so it also dies with
 * this process) or on SIGTERM.
 *
 * Every child and temp dir is registered here and removed on exit, on SIGINT/SIGTERM and on
 * failure, so an interrupted bench leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = resolve(BENCH_DIR, '..');

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();
/** Cleanups that need I/O (e.g. dropping a PostgreSQL schema); run on failure and on SIGINT/SIGTERM. */
const asyncCleanups = new Set<() => Promise<void>>();

/** Registers an async cleanup; returns a function that unregisters it (call it once it ran). */
export function onCleanup(cleanup: () => Promise<void>): () => void {
  installHandlers();
  asyncCleanups.add(cleanup);
  return () => asyncCleanups.delete(cleanup);
}

/** cleanupNow, then every registered async cleanup, bounded to `ms` in total. */
export async function cleanupAsync(ms = 5_000): Promise<void> {
  cleanupNow();
  const pending = [...asyncCleanups];
  asyncCleanups.clear();
  await Promise.race([
    Promise.allSettled(pending.map((cleanup) => cleanup())),
    new Promise((r) => setTimeout(r, ms).unref()),
  ]);
}

/** Synchronous last-resort cleanup: safe to call from an 'exit' handler. */
export function cleanupNow(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  liveChildren.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

let handlersInstalled = false;
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, cleaning up\n`);
      void cleanupAsync().finally(() => process.exit(130));
    });
  }
}

export function makeTempDir(prefix: string): string {
  installHandlers();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

export interface ServerChild<T> {
  /** The JSON line the child printed once it was listening. */
  info: T;
  pid: number;
  name: string;
  /** User+system CPU seconds the child has used so far (Linux /proc), or null. */
  cpuSeconds(): number | null;
  /** Last lines (default up to 40) the child wrote on stderr, for error messages. */
  stderrTail(lines?: number): string;
  /** Graceful stop (stdin EOF), then SIGTERM, then SIGKILL; bounded in time. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/x']. */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
  env?: Record<string, string>;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

function procCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** Starts `bench/servers/<script>.ts` and resolves with its ready line. */
export async function startServer<T>(
  script: string,
  args: string[],
  options: StartOptions = {},
): Promise<ServerChild<T>> {
  installHandlers();
  const entry = join(BENCH_DIR, 'servers', `${script}.ts`);
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', entry, ...args], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  liveChildren.add(child);
  const tail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    // BENCH_STATS lines (servers/gateway.ts) are kept whole: they are parsed.
    tail.push(line.length > 500 && !line.startsWith('BENCH_STATS ') ? `${line.slice(0, 500)}…` : line);
    if (tail.length > 40) tail.shift();
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.once('exit', () => liveChildren.delete(child));
  const stderrTail = (lines = 40) => tail.slice(-lines).join('\n');

  const info = await new Promise<T>((ready, fail) => {
    const timer = setTimeout(
      () =>
        fail(
          new Error(`${script} did not start within ${options.readyTimeoutMs ?? 30_000} ms\n${stderrTail()}`),
        ),
      options.readyTimeoutMs ?? 30_000,
    );
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return;
      clearTimeout(timer);
      try {
        ready(JSON.parse(line) as T);
      } catch (err) {
        fail(new Error(`${script} printed a bad ready line: ${line} (${(err as Error).message})`));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(
        new Error(`${script} exited before it was ready (code ${code}, signal ${signal})\n${stderrTail()}`),
      );
    });
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });

  let stopping: Promise<void> | null = null;
  return {
    info,
    pid: child.pid!,
    name: script,
    cpuSeconds: () => procCpuSeconds(child.pid!),
    stderrTail,
    stop: () =>
      (stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const waitExit = (ms: number) =>
          Promise.race([
            exited.then(() => true),
            new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref()),
          ]);
        child.stdin!.end();
        if (await waitExit(10_000)) return;
        child.kill('SIGTERM');
        if (await waitExit(3_000)) return;
        child.kill('SIGKILL');
        await waitExit(3_000);
      })()),
  };
}

/** Stops children in reverse start order, ignoring individual failures. */
export async function stopAll(children: (ServerChild<unknown> | null | undefined)[]): Promise<void> {
  for (const child of [...children].reverse()) {
    if (child) await child.stop().catch(() => undefined);
  }
}
