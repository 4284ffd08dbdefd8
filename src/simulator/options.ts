/** Simulator configuration: the public option shape, defaults and the duration-range parser. */
import { parseDuration } from '../domain/time.ts';
import { randomSeed } from './random.ts';

export interface SimulatorOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0 (ephemeral)
  maxConcurrent?: number; // default per-key concurrency limit, default 5
  keyLimits?: Record<string, number>; // per API key overrides
  durationMs?: { min: number; max: number }; // job duration range, default 20s..90s; uniform
  failRate?: number; // probability a job ends in status 8, default 0
  moderateRate?: number; // probability a job ends in status 7, default 0
  stuckReleaseMs?: number; // a stuck job's slot is auto-released (status 8) after this, default 600_000
  bigIds?: boolean; // generate 18-digit ids (> 2^53) instead of 15-digit, default false
  apiKeys?: string[]; // if set, only these keys are valid; otherwise any non-empty key is valid
  seed?: number; // deterministic PRNG seed for durations/rates
  logger?: (line: string) => void;
}

export interface ResolvedOptions {
  host: string;
  port: number;
  maxConcurrent: number;
  keyLimits: Record<string, number>;
  durationMs: { min: number; max: number };
  failRate: number;
  moderateRate: number;
  stuckReleaseMs: number;
  bigIds: boolean;
  apiKeys: Set<string> | null;
  seed: number;
  logger: ((line: string) => void) | null;
}

/** Starting balance of every key (reference §8 shows monthly credits in the millions). */
export const DEFAULT_CREDIT_MONTHLY = 1_000_000;
export const DEFAULT_CREDIT_PACKAGE = 0;

export function resolveOptions(options: SimulatorOptions = {}): ResolvedOptions {
  const durationMs = options.durationMs ?? { min: 20_000, max: 90_000 };
  if (!(durationMs.min >= 0) || !(durationMs.max >= durationMs.min)) {
    throw new Error(`invalid durationMs range ${durationMs.min}..${durationMs.max}`);
  }
  const maxConcurrent = options.maxConcurrent ?? 5;
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 0) throw new Error(`invalid maxConcurrent ${maxConcurrent}`);
  return {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    maxConcurrent,
    keyLimits: { ...(options.keyLimits ?? {}) },
    durationMs: { min: durationMs.min, max: durationMs.max },
    failRate: clampRate(options.failRate ?? 0),
    moderateRate: clampRate(options.moderateRate ?? 0),
    stuckReleaseMs: options.stuckReleaseMs ?? 600_000,
    bigIds: options.bigIds ?? false,
    apiKeys: options.apiKeys ? new Set(options.apiKeys) : null,
    seed: options.seed ?? randomSeed(),
    logger: options.logger ?? null,
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
}
