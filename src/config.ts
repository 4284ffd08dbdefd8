/**
 * One typed configuration object, from (in order of precedence) command-line flags,
 * environment variables, an optional JSON file, and defaults.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDuration } from './domain/time.ts';

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** postgres://… for the shared store; null for the embedded SQLite file in dataDir. */
  databaseUrl: string | null;
  /** PostgreSQL schema for Pixgate's tables (default: the connection's search_path, usually public). */
  databaseSchema: string | null;
  /** PixVerse Platform API host; null runs the built-in simulator with demo data. */
  upstreamUrl: string | null;
  adminToken: string | null;
  masterKey: string | null;
  jobTimeoutMs: number;
  /** Fixed expected job duration for poll timing; null learns it. */
  expectedDurationMs: number | null;
  /** Job duration range of the built-in simulator, e.g. "5s..20s". */
  simulatorDuration: string;
  logLevel: string;
  /** CIDRs that callbacks may reach although private or loopback (PIXGATE_CALLBACK_ALLOWLIST). */
  callbackAllowlist: string[];
  /** Delays before each callback attempt (PIXGATE_CALLBACK_SCHEDULE, e.g. "0,5s,5m,30m,2h"). */
  callbackScheduleMs: number[];
  callbackTimeoutMs: number;
  /** Scheduler timings an operator rarely touches (env PIXGATE_LEASE, PIXGATE_STALE_SUBMIT, PIXGATE_POLL_MIN_INTERVAL, PIXGATE_IDLE_WAKE). */
  leaseMs: number | null;
  /** Deadline of one call to PixVerse (PIXGATE_UPSTREAM_TIMEOUT, default 30s). */
  upstreamTimeoutMs: number;
  staleSubmitMs: number | null;
  pollMinIntervalMs: number | null;
  idleWakeMs: number | null;
  /** Bearer token /metrics requires (PIXGATE_METRICS_TOKEN); null leaves /metrics open. */
  metricsToken: string | null;
  /** On SIGTERM, how long /readyz answers 503 before the instance stops accepting (PIXGATE_DRAIN_DELAY, default 0). */
  drainDelayMs: number;
}

/** Attempt delays over about three days (engineering notes). */
export const DEFAULT_CALLBACK_SCHEDULE = '0,5s,5m,30m,2h,5h,10h,14h,20h,24h';

export function parseDurationList(text: string): number[] {
  const list = text.split(',').map((part) => parseDuration(part.trim()));
  if (list.length === 0) throw new Error('the callback schedule needs at least one delay');
  return list;
}

export interface ConfigFlags {
  host?: string;
  port?: string | number;
  dataDir?: string;
  databaseUrl?: string;
  databaseSchema?: string;
  upstream?: string;
  jobTimeout?: string;
  expectedDuration?: string;
  simulatorDuration?: string;
  logLevel?: string;
  config?: string;
}

type Env = Record<string, string | undefined>;

function fileConfig(path: string | undefined): Partial<Record<keyof Config, unknown>> {
  if (!path) return {};
  return JSON.parse(readFileSync(path, 'utf8')) as Partial<Record<keyof Config, unknown>>;
}

function pick<T>(...values: (T | undefined | null | '')[]): T | undefined {
  for (const value of values) if (value !== undefined && value !== null && value !== '') return value as T;
  return undefined;
}

function optionalDuration(text: string | undefined): number | null {
  return text && text.trim() !== '' ? parseDuration(text) : null;
}

export function loadConfig(flags: ConfigFlags = {}, env: Env = process.env): Config {
  const file = fileConfig(flags.config ?? env['PIXGATE_CONFIG']);
  const str = (key: keyof Config) => (typeof file[key] === 'string' ? (file[key] as string) : undefined);
  const port = Number(pick(flags.port, env['PORT'], env['PIXGATE_PORT'], file.port as number | undefined) ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${String(port)}`);
  const timeout = pick(flags.jobTimeout, env['PIXGATE_JOB_TIMEOUT'], str('jobTimeoutMs'));
  const expected = pick(flags.expectedDuration, env['PIXGATE_EXPECTED_DURATION']);
  return {
    host: pick(flags.host, env['HOST'], env['PIXGATE_HOST'], str('host')) ?? '0.0.0.0',
    port,
    dataDir: resolve(pick(flags.dataDir, env['PIXGATE_DATA_DIR'], str('dataDir')) ?? './data'),
    databaseUrl: pick(flags.databaseUrl, env['DATABASE_URL'], env['PIXGATE_DATABASE_URL'], str('databaseUrl')) ?? null,
    databaseSchema: pick(flags.databaseSchema, env['PIXGATE_DATABASE_SCHEMA'], str('databaseSchema')) ?? null,
    upstreamUrl: pick(flags.upstream, env['PIXGATE_UPSTREAM_URL'], str('upstreamUrl')) ?? null,
    adminToken: pick(env['PIXGATE_ADMIN_TOKEN']) ?? null,
    masterKey: pick(env['PIXGATE_MASTER_KEY']) ?? null,
    jobTimeoutMs: timeout ? parseDuration(timeout) : 15 * 60_000,
    expectedDurationMs: expected ? parseDuration(expected) : null,
    simulatorDuration: pick(flags.simulatorDuration, env['PIXGATE_SIMULATOR_DURATION']) ?? '5s..20s',
    logLevel: pick(flags.logLevel, env['LOG_LEVEL'], str('logLevel')) ?? 'info',
    callbackAllowlist: (pick(env['PIXGATE_CALLBACK_ALLOWLIST']) ?? '')
      .split(',')
      .map((cidr) => cidr.trim())
      .filter((cidr) => cidr !== ''),
    callbackScheduleMs: parseDurationList(pick(env['PIXGATE_CALLBACK_SCHEDULE']) ?? DEFAULT_CALLBACK_SCHEDULE),
    callbackTimeoutMs: parseDuration(pick(env['PIXGATE_CALLBACK_TIMEOUT']) ?? '12s'),
    leaseMs: optionalDuration(env['PIXGATE_LEASE']),
    upstreamTimeoutMs: optionalDuration(env['PIXGATE_UPSTREAM_TIMEOUT']) ?? 30_000,
    staleSubmitMs: optionalDuration(env['PIXGATE_STALE_SUBMIT']),
    pollMinIntervalMs: optionalDuration(env['PIXGATE_POLL_MIN_INTERVAL']),
    idleWakeMs: optionalDuration(env['PIXGATE_IDLE_WAKE']),
    metricsToken: pick(env['PIXGATE_METRICS_TOKEN'], str('metricsToken')) ?? null,
    drainDelayMs: optionalDuration(env['PIXGATE_DRAIN_DELAY']) ?? 0,
  };
}
