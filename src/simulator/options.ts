/** Simulator configuration: the public option shape, defaults and the duration-range parser. */
import { parseDuration } from '../domain/time.ts';
import { DEFAULT_LATENCY, type Latency } from './latency.ts';
import { randomSeed } from './random.ts';

export interface SimulatorOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0 (ephemeral)
  maxConcurrent?: number; // default per-key concurrency limit, default 5
  keyLimits?: Record<string, number>; // per API key overrides
  /**
   * Job duration range, uniform, taken literally. When unset, durations follow the model-based
   * lognormal of latency.ts (per quality, length, audio …) multiplied by `timeScale`.
   */
  durationMs?: { min: number; max: number };
  /** Multiplier of model-based durations (and of the default stuckReleaseMs), default 1; e.g. 0.01. */
  timeScale?: number;
  /** Per-quality median/p90 overrides of the model-based durations (reference §10 table). */
  latency?: Record<string, Latency>;
  failRate?: number; // probability a job ends in status 8, default 0
  moderateRate?: number; // probability a job ends in status 7, default 0
  /** Probability an API request is answered HTTP 429 "Too Many Requests" (no envelope), default 0. */
  rateLimitRate?: number;
  /** Probability a valid create is refused with ErrCode 500069 (overloaded), default 0. */
  overloadRate?: number;
  /** Probability an API request is answered HTTP 502 with an HTML body (proxy failure), default 0. */
  transientRate?: number;
  /**
   * A job still generating after this long is released: it ends in status 8 and frees its slot.
   * Default 600_000 × timeScale (the official 10 minutes).
   */
  stuckReleaseMs?: number;
  bigIds?: boolean; // generate 18-digit ids (> 2^53) instead of 15-digit, default false
  apiKeys?: string[]; // if set, only these keys are valid; otherwise any non-empty key is valid
  seed?: number; // deterministic PRNG seed for durations/rates
  logger?: (line: string) => void;
  /** Called with every authenticated /openapi/v2 request once its body is read (tests assert on it). */
  onRequest?: (request: SeenRequest) => void;
}

/** An API request as the simulator received it. */
export interface SeenRequest {
  method: string;
  /** Path under /openapi/v2, without the query string. */
  path: string;
  query: Record<string, string>;
  apiKey: string;
  traceId: string;
  contentType: string | undefined;
  /** The raw body text (JSON with int64 ids as written on the wire). */
  body: string;
}

export interface ResolvedOptions {
  host: string;
  port: number;
  maxConcurrent: number;
  keyLimits: Record<string, number>;
  durationMs: { min: number; max: number } | null;
  timeScale: number;
  latency: Record<string, Latency>;
  failRate: number;
  moderateRate: number;
  rateLimitRate: number;
  overloadRate: number;
  transientRate: number;
  stuckReleaseMs: number;
  bigIds: boolean;
  apiKeys: Set<string> | null;
  seed: number;
  logger: ((line: string) => void) | null;
  onRequest: ((request: SeenRequest) => void) | null;
}

/** Starting balance of every key (reference §8 shows monthly credits in the millions). */
export const DEFAULT_CREDIT_MONTHLY = 1_000_000;
export const DEFAULT_CREDIT_PACKAGE = 0;

export function resolveOptions(options: SimulatorOptions = {}): ResolvedOptions {
  const durationMs = options.durationMs ?? null;
  if (durationMs && (!(durationMs.min >= 0) || !(durationMs.max >= durationMs.min))) {
    throw new Error(`invalid durationMs range ${durationMs.min}..${durationMs.max}`);
  }
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0) || !Number.isFinite(timeScale)) throw new Error(`invalid timeScale ${timeScale}`);
  const latency = { ...DEFAULT_LATENCY, ...(options.latency ?? {}) };
  for (const [quality, l] of Object.entries(latency)) {
    if (!(l.medianMs > 0) || !(l.p90Ms >= l.medianMs)) throw new Error(`invalid latency for ${quality}: ${l.medianMs}/${l.p90Ms}`);
  }
  const maxConcurrent = options.maxConcurrent ?? 5;
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 0) throw new Error(`invalid maxConcurrent ${maxConcurrent}`);
  return {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    maxConcurrent,
    keyLimits: { ...(options.keyLimits ?? {}) },
    durationMs: durationMs ? { min: durationMs.min, max: durationMs.max } : null,
    timeScale,
    latency,
    failRate: clampRate(options.failRate ?? 0),
    moderateRate: clampRate(options.moderateRate ?? 0),
    rateLimitRate: clampRate(options.rateLimitRate ?? 0),
    overloadRate: clampRate(options.overloadRate ?? 0),
    transientRate: clampRate(options.transientRate ?? 0),
    stuckReleaseMs: options.stuckReleaseMs ?? Math.max(1, Math.round(600_000 * timeScale)),
    bigIds: options.bigIds ?? false,
    apiKeys: options.apiKeys ? new Set(options.apiKeys) : null,
    seed: options.seed ?? randomSeed(),
    logger: options.logger ?? null,
    onRequest: options.onRequest ?? null,
  };
}

function clampRate(rate: number): number {
  return Number.isFinite(rate) ? Math.min(1, Math.max(0, rate)) : 0;
}

/**
 * "20s..90s" → uniform range; "5s" → fixed duration. Each side accepts what parseDuration does
 * (250ms, 20s, 2m, bare milliseconds). Used by the CLI's `--duration` flag.
 */
export function parseDurationRange(text: string): { min: number; max: number } {
  const parts = text.split('..');
  if (parts.length > 2) throw new Error(`invalid duration range "${text}" (use e.g. 20s..90s or 5s)`);
  const min = parseDuration(parts[0]!);
  const max = parts.length === 2 ? parseDuration(parts[1]!) : min;
  if (max < min) throw new Error(`invalid duration range "${text}": ${max}ms is below ${min}ms`);
  return { min, max };
}

export interface KeyStats {
  limit: number;
  peak: number;
  violations: number;
  created: number;
  completed: number;
  failed: number;
  moderated: number;
  active: number;
}

export interface SimStats {
  keys: Record<string, KeyStats>;
  totals: KeyStats;
}

export interface RunningSimulator {
  /** Origin, e.g. http://127.0.0.1:43123; the Platform API lives under `${url}/openapi/v2`. */
  url: string;
  port: number;
  close(): Promise<void>;
  stats(): SimStats;
  setKeyLimit(key: string, limit: number): void;
  /** Marks a job deleted (status 6 from now on), as `POST /_sim/videos/<id>/delete` does. */
  deleteJob(id: string): boolean;
}
