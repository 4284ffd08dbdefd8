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
  /** How long an Idempotency-Key and its first answer are kept (PIXGATE_IDEMPOTENCY_TTL, default 24h). */
  idempotencyTtlMs: number;
  /** HTTP hardening and fairness limits (see limits in README); every one is configurable. */
  limits: Limits;
  /** Bearer token /metrics requires (PIXGATE_METRICS_TOKEN); null leaves /metrics open. */
  metricsToken: string | null;
  /** On SIGTERM, how long /readyz answers 503 before the instance stops accepting (PIXGATE_DRAIN_DELAY, default 0). */
  drainDelayMs: number;
}

export interface Limits {
  /** Whole request (headers and body) must arrive within this (PIXGATE_REQUEST_TIMEOUT, default 30s). */
  requestTimeoutMs: number;
  /** Headers must arrive within this (PIXGATE_HEADERS_TIMEOUT, default 10s). */
  headersTimeoutMs: number;
  /** Idle kept-alive connections close after this (PIXGATE_KEEP_ALIVE_TIMEOUT, default 5s). */
  keepAliveTimeoutMs: number;
  /** Open connections at most; more are refused at accept (PIXGATE_MAX_CONNECTIONS, default 4096). */
  maxConnections: number;
  /** JSON body limit of API routes (PIXGATE_BODY_LIMIT, default 1 MB). */
  bodyLimitBytes: number;
  /** Raw upload body limit of POST /files (PIXGATE_UPLOAD_LIMIT, default 50 MB). */
  uploadLimitBytes: number;
  /** Body limit of the unauthenticated PixVerse webhook route (PIXGATE_WEBHOOK_BODY_LIMIT, default 64 KB). */
  webhookBodyLimitBytes: number;
  /** Requests per second per API token, sustained (PIXGATE_RATE_LIMIT, default 200; 0 turns it off). */
  rateLimitPerSecond: number;
  /** Requests a token may burst above the sustained rate (PIXGATE_RATE_BURST, default 2 × rate). */
  rateLimitBurst: number;
  /** Share of the callback workers one tenant may hold at once, 0–1 (PIXGATE_CALLBACK_TENANT_SHARE, default 0.25). */
  callbackTenantShare: number;
  /** Shutdown deadline; a second signal exits at once (PIXGATE_SHUTDOWN_TIMEOUT, default 20s). */
  shutdownTimeoutMs: number;
}

/** Parses "64kb", "1mb", "50MB" or a plain byte count. */
export function parseByteSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?\s*$/i.exec(text);
  if (!match) throw new Error(`invalid size "${text}" (expected e.g. 64kb, 1mb, 50mb)`);
  const unit = (match[2] ?? 'b').toLowerCase()[0]!;
  const factor = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Math.round(Number(match[1]) * factor);
}

function numberFrom(
  text: string | undefined,
  fallback: number,
  name: string,
  check: (n: number) => boolean,
): number {
  if (text === undefined || text.trim() === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || !check(n)) throw new Error(`invalid ${name}: ${text}`);
  return n;
}

export function loadLimits(env: Env): Limits {
  const size = (name: string, fallback: string) => parseByteSize(pick(env[name]) ?? fallback);
  const rate = numberFrom(env['PIXGATE_RATE_LIMIT'], 200, 'PIXGATE_RATE_LIMIT', (n) => n >= 0);
  return {
    requestTimeoutMs: parseDuration(pick(env['PIXGATE_REQUEST_TIMEOUT']) ?? '30s'),
    headersTimeoutMs: parseDuration(pick(env['PIXGATE_HEADERS_TIMEOUT']) ?? '10s'),
    keepAliveTimeoutMs: parseDuration(pick(env['PIXGATE_KEEP_ALIVE_TIMEOUT']) ?? '5s'),
    maxConnections: numberFrom(
      env['PIXGATE_MAX_CONNECTIONS'],
      4096,
      'PIXGATE_MAX_CONNECTIONS',
      (n) => Number.isInteger(n) && n > 0,
    ),
    bodyLimitBytes: size('PIXGATE_BODY_LIMIT', '1mb'),
    uploadLimitBytes: size('PIXGATE_UPLOAD_LIMIT', '50mb'),
    webhookBodyLimitBytes: size('PIXGATE_WEBHOOK_BODY_LIMIT', '64kb'),
    rateLimitPerSecond: rate,
    rateLimitBurst: numberFrom(
      env['PIXGATE_RATE_BURST'],
      rate * 2,
      'PIXGATE_RATE_BURST',
      (n) => n >= 1 || rate === 0,
    ),
    callbackTenantShare: numberFrom(
      env['PIXGATE_CALLBACK_TENANT_SHARE'],
      0.25,
      'PIXGATE_CALLBACK_TENANT_SHARE',
      (n) => n > 0 && n <= 1,
    ),
    shutdownTimeoutMs: parseDuration(pick(env['PIXGATE_SHUTDOWN_TIMEOUT']) ?? '20s'),
  };
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
  const port = Number(
    pick(flags.port, env['PORT'], env['PIXGATE_PORT'], file.port as number | undefined) ?? 8080,
  );
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${String(port)}`);
  const timeout = pick(flags.jobTimeout, env['PIXGATE_JOB_TIMEOUT'], str('jobTimeoutMs'));
  const expected = pick(flags.expectedDuration, env['PIXGATE_EXPECTED_DURATION']);
  return {
    host: pick(flags.host, env['HOST'], env['PIXGATE_HOST'], str('host')) ?? '0.0.0.0',
    port,
    dataDir: resolve(pick(flags.dataDir, env['PIXGATE_DATA_DIR'], str('dataDir')) ?? './data'),
    databaseUrl:
      pick(flags.databaseUrl, env['DATABASE_URL'], env['PIXGATE_DATABASE_URL'], str('databaseUrl')) ?? null,
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
    callbackScheduleMs: parseDurationList(
      pick(env['PIXGATE_CALLBACK_SCHEDULE']) ?? DEFAULT_CALLBACK_SCHEDULE,
    ),
    callbackTimeoutMs: parseDuration(pick(env['PIXGATE_CALLBACK_TIMEOUT']) ?? '12s'),
    leaseMs: optionalDuration(env['PIXGATE_LEASE']),
    upstreamTimeoutMs: optionalDuration(env['PIXGATE_UPSTREAM_TIMEOUT']) ?? 30_000,
    staleSubmitMs: optionalDuration(env['PIXGATE_STALE_SUBMIT']),
    pollMinIntervalMs: optionalDuration(env['PIXGATE_POLL_MIN_INTERVAL']),
    idleWakeMs: optionalDuration(env['PIXGATE_IDLE_WAKE']),
    idempotencyTtlMs: optionalDuration(env['PIXGATE_IDEMPOTENCY_TTL']) ?? 24 * 60 * 60_000,
    limits: loadLimits(env),
    metricsToken: pick(env['PIXGATE_METRICS_TOKEN'], str('metricsToken')) ?? null,
    drainDelayMs: optionalDuration(env['PIXGATE_DRAIN_DELAY']) ?? 0,
  };
}
