/**
 * Bench child: the real gateway (startGateway, SQLite in --data-dir, or PostgreSQL) pointed at --upstream.
 *   --upstream URL --data-dir DIR [--job-timeout 2h] [--expected-duration 100ms] [--log-level warn]
 *   [--poll-min-interval 20ms]  lower the poll policy's minimum interval (default policy: 1 s),
 *                               so slots of sub-second simulated jobs can turn over quickly
 *   [--time-scale F]            the default poll policy with its intervals × F (min 1 s → F s,
 *                               max 30 s → 30·F s, first-poll ceiling 10 min → 600·F s; the look
 *                               times stay multiples of the learned median), for simulators running ×F; the idle wake-up
 *                               (a backstop for missed events) keeps its 1 s default
 *   [--poll-fixed D]            poll every D exactly (min = max interval = D): a fixed-interval baseline
 *   [--database-url URL --database-schema NAME]   shared PostgreSQL store instead of SQLite
 *   [--admin-token T --master-key K]              shared secrets (several instances, one store)
 *
 * Configuration is built from these flags only (never the environment), so a DATABASE_URL in the
 * shell cannot switch the bench to PostgreSQL. Logs go to stderr; stdout carries the ready line.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import pg from 'pg';
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import { parseDuration } from '../../src/domain/time.ts';
import { startGateway } from '../../src/gateway.ts';
import type { SchedulerTuning } from '../../src/scheduler/context.ts';
import { DEFAULT_TUNING } from '../../src/scheduler/scheduler.ts';
import { announce, flags, onShutdown, required } from './lifecycle.ts';

const args = flags();
const env: Record<string, string> = {};
if (args.has('admin-token')) env['PIXGATE_ADMIN_TOKEN'] = args.get('admin-token')!;
if (args.has('master-key')) env['PIXGATE_MASTER_KEY'] = args.get('master-key')!;
// Benchmarks drive one token far past any per-token rate a deployment would allow.
env['PIXGATE_RATE_LIMIT'] = args.get('rate-limit') ?? '0';
const config = loadConfig(
  {
    host: '127.0.0.1',
    port: 0,
    dataDir: required(args, 'data-dir'),
    upstream: required(args, 'upstream'),
    jobTimeout: args.get('job-timeout') ?? '2h',
    ...(args.has('expected-duration') ? { expectedDuration: args.get('expected-duration')! } : {}),
    ...(args.has('database-url') ? { databaseUrl: args.get('database-url')! } : {}),
    ...(args.has('database-schema') ? { databaseSchema: args.get('database-schema')! } : {}),
    logLevel: args.get('log-level') ?? 'warn',
  },
  env,
);
const tuning: Partial<SchedulerTuning> = {};
const pollMin = args.get('poll-min-interval');
if (pollMin) {
  const minIntervalMs = parseDuration(pollMin);
  tuning.poll = { ...DEFAULT_TUNING.poll, minIntervalMs };
  // The tracker's backstop sleep must not be the thing that delays short polls.
  tuning.idleWakeMs = Math.max(minIntervalMs, 100);
}
const scale = args.has('time-scale') ? Number(args.get('time-scale')) : null;
if (scale !== null) {
  if (!(scale > 0 && scale <= 1)) throw new Error('--time-scale must be in (0, 1]');
  const p = DEFAULT_TUNING.poll;
  tuning.poll = {
    ...p,
    minIntervalMs: Math.round(p.minIntervalMs * scale),
    maxIntervalMs: Math.round(p.maxIntervalMs * scale),
    maxFirstPollMs: Math.round(p.maxFirstPollMs * scale),
  };
  // The idle wake-up stays at its default (1 s): it is a backstop for missed events, not part of
  // any job's timing, and scaling it would multiply fixed background work (store reads, and on
  // PostgreSQL lock-taking dispatch attempts) per second of wall time.
}
const fixed = args.get('poll-fixed');
if (fixed) {
  const every = parseDuration(fixed);
  // Every poll, the first included, is clamped into [every, every]: one poll every `every`.
  tuning.poll = { ...DEFAULT_TUNING.poll, minIntervalMs: every, maxIntervalMs: every, maxFirstPollMs: every };
}
// PostgreSQL round trips, counted per statement (first words of its text), and how long each
// transaction stayed open (BEGIN sent → COMMIT answered: the time its row locks were held), for BENCH_STATS.
const queries = new Map<string, number>();
let txMs: number[] = [];
let txStatements = 0;
if (config.databaseUrl) {
  const original = pg.Client.prototype.query as (...a: unknown[]) => unknown;
  const open = new WeakMap<object, { at: number; n: number }>();
  (pg.Client.prototype as { query: unknown }).query = function (this: pg.Client, ...a: unknown[]) {
    const q = a[0];
    const text =
      typeof q === 'string'
        ? q
        : q && typeof q === 'object' && 'text' in q
          ? String((q as { text: unknown }).text)
          : '?';
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 48);
    queries.set(key, (queries.get(key) ?? 0) + 1);
    const result = original.apply(this, a);
    if (/^BEGIN/i.test(key)) open.set(this, { at: performance.now(), n: 0 });
    const tx = open.get(this);
    if (tx) {
      tx.n++;
      if (/^(COMMIT|ROLLBACK)/i.test(key)) {
        open.delete(this);
        const done = () => {
          if (txMs.length < 200_000) txMs.push(performance.now() - tx.at);
          txStatements += tx.n;
        };
        if (result && typeof (result as Promise<unknown>).then === 'function')
          (result as Promise<unknown>).then(done, done);
      }
    }
    return result;
  };
}
// SQLite write transactions, for BENCH_STATS: a writing statement run outside a transaction is one
// (autocommit), and so is every BEGIN (the store's transactions are all BEGIN IMMEDIATE, which
// takes the write lock even when it then only reads). COMMIT/ROLLBACK run inside and are not counted.
let sqliteWrites = 0;
if (!config.databaseUrl) {
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>;
  probe.close();
  for (const name of ['run', 'get', 'all', 'iterate']) {
    const original = proto[name] as (...a: unknown[]) => unknown;
    proto[name] = function (this: Database.Statement, ...a: unknown[]) {
      if (!this.reader && !this.database.inTransaction) sqliteWrites++;
      return original.apply(this, a);
    };
  }
}
const logger = pino({ level: config.logLevel }, pino.destination(2));
const gateway = await startGateway({ config, upstreamUrl: config.upstreamUrl!, logger, tuning });
onShutdown(() => gateway.close());

// Store calls made by the scheduler (dispatcher, tracker, launcher, admission, sweeper), counted
// and timed per method for BENCH_STATS. They all reach the store through the shared context at
// call time, so swapping ctx.store for a counting proxy sees every one. (HTTP reads go around it.)
const storeCalls = new Map<string, { n: number; ms: number }>();
{
  const ctx = gateway.scheduler.ctx as unknown as { store: object };
  const inner = ctx.store;
  const wrapped = new Map<string | symbol, unknown>();
  ctx.store = new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      let fn = wrapped.get(prop);
      if (!fn) {
        fn = (...a: unknown[]) => {
          const at = performance.now();
          const done = () => {
            const c = storeCalls.get(prop) ?? { n: 0, ms: 0 };
            c.n++;
            c.ms += performance.now() - at;
            storeCalls.set(prop, c);
          };
          const result = (value as (...b: unknown[]) => unknown).apply(target, a);
          if (result && typeof (result as Promise<unknown>).then === 'function')
            (result as Promise<unknown>).then(done, done);
          else done();
          return result;
        };
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}
// SIGUSR2: print the event-loop delay since the last SIGUSR2 (one `BENCH_STATS {json}` line on
// stderr; lib/gatewayStats.ts reads it) and start a new window; with --expose-gc, also run a full
// collection first (the queue bench's "RSS after GC" figure).
const eld = monitorEventLoopDelay({ resolution: 5 });
eld.enable();
const gc = (globalThis as { gc?: () => void }).gc;
let statsSeq = 0;
process.on('SIGUSR2', () => {
  gc?.();
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  let total = 0;
  for (const n of queries.values()) total += n;
  const top = [...queries].sort((a, b) => b[1] - a[1]).slice(0, 12);
  const sorted = txMs.sort((x, y) => x - y);
  const at = (p: number) =>
    sorted.length
      ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 100) / 100
      : null;
  const stats = {
    seq: ++statsSeq,
    eventLoopDelayMs: {
      p50: ms(eld.percentile(50)),
      p99: ms(eld.percentile(99)),
      max: ms(eld.max),
      mean: ms(eld.mean),
    },
    pgQueries: { total, top },
    storeCalls: [...storeCalls]
      .sort((x, y) => y[1].ms - x[1].ms)
      .map(([name, c]) => [name, c.n, Math.round(c.ms)]),
    sqliteWriteTransactions: sqliteWrites,
    pgTransactions: {
      count: sorted.length,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      statementsPerTx: sorted.length ? Math.round((txStatements / sorted.length) * 10) / 10 : null,
    },
  };
  txMs = [];
  txStatements = 0;
  sqliteWrites = 0;
  storeCalls.clear();
  process.stderr.write(`BENCH_STATS ${JSON.stringify(stats)}\n`);
  eld.reset();
  queries.clear();
});
announce({
  url: gateway.url,
  adminToken: gateway.adminToken,
  dialect: gateway.store.dialect,
  tuning: { poll: gateway.scheduler.ctx.tuning.poll, idleWakeMs: gateway.scheduler.ctx.tuning.idleWakeMs },
});
