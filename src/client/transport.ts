/** One HTTP exchange with the gateway: bearer auth, JSON in and out, the error envelope, Retry-After. */
import { PixgateError, PixgateUnreachableError } from './errors.ts';

export interface TransportOptions {
  /** Gateway base URL, e.g. http://localhost:8080. */
  url: string;
  /** A tenant token (`user:…`) or the admin token. */
  token: string;
  /**
   * When > 0, a 429 or 503 answer with `Retry-After` is retried after the advertised delay, as
   * long as the total wait stays within this many milliseconds. Off by default: a script usually
   * wants to know it was turned away.
   */
  retryBusyForMs?: number;
  /** Called before each such retry (for logging or progress). */
  onRetry?: (error: PixgateError, attempt: number) => void;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
}

export interface RequestSpec {
  method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  path: string;
  query?: Record<string, string | undefined>;
  json?: unknown;
  raw?: { data: Uint8Array; contentType: string };
  headers?: Record<string, string>;
  /** Overrides the client's per-request timeout (uploads may be large). */
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Transport {
  readonly base: string;
  constructor(private readonly options: TransportOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  async send<T>(spec: RequestSpec): Promise<T> {
    const budget = this.options.retryBusyForMs ?? 0;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once<T>(spec);
      } catch (err) {
        if (!(err instanceof PixgateError) || err.retryAfterS === null || budget <= 0) throw err;
        if (err.status !== 429 && err.status !== 503) throw err;
        const waitMs = err.retryAfterS * 1000;
        if (Date.now() - started + waitMs > budget) throw err;
        this.options.onRetry?.(err, attempt);
        await sleep(waitMs);
      }
    }
  }

  private async once<T>(spec: RequestSpec): Promise<T> {
    const url = new URL(this.base + spec.path);
    for (const [key, value] of Object.entries(spec.query ?? {}))
      if (value !== undefined) url.searchParams.set(key, value);
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.token}`,
      accept: 'application/json',
      ...spec.headers,
    };
    let body: string | Blob | undefined;
    if (spec.raw) {
      // A fresh copy so the body is backed by a plain ArrayBuffer, as fetch's types require.
      body = new Blob([new Uint8Array(spec.raw.data)]);
      headers['content-type'] = spec.raw.contentType;
    } else if (spec.json !== undefined) {
      body = JSON.stringify(spec.json);
      headers['content-type'] = 'application/json';
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method: spec.method,
        headers,
        body,
        signal: AbortSignal.timeout(spec.timeoutMs ?? this.options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new PixgateUnreachableError(this.base, err);
    }
    const text = await response.text();
    const parsed = parseJson(text);
    if (response.ok) return (text === '' ? null : parsed) as T;
    throw errorOf(response, parsed, text);
  }
}

function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorOf(response: Response, parsed: unknown, text: string): PixgateError {
  const retry = Number(response.headers.get('retry-after'));
  const retryAfterS =
    response.headers.has('retry-after') && Number.isFinite(retry) && retry >= 0 ? retry : null;
  const envelope = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : null;
  const message =
    envelope && typeof envelope['error'] === 'string'
      ? envelope['error']
      : `HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
  return new PixgateError(response.status, message, retryAfterS, parsed);
}
