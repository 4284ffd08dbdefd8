/** Simulator configuration: the public option shape, defaults and the duration-range parser. */
import { parseDuration } from '../../../domain/time.ts';
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
  /** Webhooks registered at start, as `POST /_sim/webhooks` registers them (see webhooks.ts). */
  webhooks?: WebhookConfig[];
  /**
   * How long a webhook receiver has to answer one attempt before it counts as failed. Default
   * 10 s × timeScale, but never under 1 s: a receiver under load must not look dead at small scales.
   */
  webhookTimeoutMs?: number;
  /** Called after every webhook attempt once its outcome is known (a bench traces deliveries with it). */
  onWebhook?: (event: WebhookEvent) => void;
}

/** A webhook as the console creates it (body of `POST /_sim/webhooks`). */
export interface WebhookConfig {
  url: string;
  /** The Secret Key deliveries are signed with; generated when absent. */
  secret?: string;
  /** A chosen id (letters, digits, `._:-`, or an integer); generated (decimal digits) when absent. */
  webhook_id?: string | number;
  /** Restricts the webhook to creates made with this API key, as a console webhook belongs to one account. */
  api_key?: string;
}

/** A registered webhook (answer of `POST /_sim/webhooks`, items of `GET /_sim/webhooks`). */
export interface Webhook {
  webhook_id: string;
  url: string;
  secret: string;
  api_key?: string;
}

/** One webhook attempt, as reported to `onWebhook`. */
export interface WebhookEvent {
  apiKey: string;
  webhookId: string;
  videoId: string;
  /** Job status the delivery reports: 1, 6, 7 or 8. */
  status: number;
  /** 1 for the first attempt, 2–9 for the retries. */
  attempt: number;
  /** The receiver answered HTTP 200 with the body `ok`. */
  ok: boolean;
  /** The receiver's HTTP status; null when none came (connection refused, timeout). */
  httpStatus: number | null;
  /** No further attempt follows: acknowledged, or the retries are used up. */
  final: boolean;
  /** performance.now() when the answer (or the failure) came. */
  at: number;
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
  webhooks: WebhookConfig[];
  webhookTimeoutMs: number;
  onWebhook: ((event: WebhookEvent) => void) | null;
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
    if (!(l.medianMs > 0) || !(l.p90Ms >= l.medianMs))
      throw new Error(`invalid latency for ${quality}: ${l.medianMs}/${l.p90Ms}`);
  }
  const maxConcurrent = options.maxConcurrent ?? 5;
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 0)
    throw new Error(`invalid maxConcurrent ${maxConcurrent}`);
  const webhookTimeoutMs = options.webhookTimeoutMs ?? Math.max(1000, Math.round(10_000 * timeScale));
  if (!(webhookTimeoutMs > 0) || !Number.isFinite(webhookTimeoutMs))
    throw new Error(`invalid webhookTimeoutMs ${webhookTimeoutMs}`);
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
    webhooks: [...(options.webhooks ?? [])],
    webhookTimeoutMs,
    onWebhook: options.onWebhook ?? null,
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

/** Webhook counters of the whole simulator (not reset by /_sim/reset-stats). */
export interface WebhookStats {
  /** Jobs created with a webhook_id. */
  scheduled: number;
  /** Requests sent to receivers, first attempts and retries. */
  attempts: number;
  /** Attempts acknowledged (HTTP 200, body `ok`). */
  delivered: number;
  /** Attempts not acknowledged (any other answer, a connection error, a timeout). */
  failed: number;
  /** Deliveries given up after the last retry. */
  abandoned: number;
  /** Deliveries never sent or cut short: #sim:webhook-drop, or the webhook was deleted meanwhile. */
  dropped: number;
  /** Deliveries not finished yet: waiting for their job to end, for a retry, or in flight. */
  pending: number;
}

export interface SimStats {
  keys: Record<string, KeyStats>;
  totals: KeyStats;
  webhooks: WebhookStats;
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
  /** Registers a webhook, as `POST /_sim/webhooks` does; throws on an invalid or taken id/url. */
  createWebhook(config: WebhookConfig): Webhook;
  listWebhooks(): Webhook[];
  /** Removes a webhook, as `DELETE /_sim/webhooks/<id>` does; false when there was none. */
  deleteWebhook(id: string): boolean;
}
