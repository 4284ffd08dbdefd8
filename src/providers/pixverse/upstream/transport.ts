/**
 * HTTP transport to the Platform API: one undici Pool per client (keep-alive, bounded connections),
 * `API-KEY` and `Ai-trace-id` on every call, a whole-call deadline, and the envelope reader on every
 * HTTP status. A call is never retried here; a failure after the request reached the socket is
 * reported with `maybeSubmitted` when the call was a create.
 */
import { Pool, type Dispatcher } from 'undici';
import { UpstreamError } from '../../../scheduler/provider.ts';
import { unwrapEnvelope } from './envelope.ts';
import type { JsonObject } from './json.ts';

export const API_PREFIX = '/openapi/v2';
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_CONNECTIONS = 64;
const MAX_CONNECT_TIMEOUT_MS = 10_000;
/** PixVerse answers are small JSON documents; a huge body means a wrong baseUrl or a broken proxy. */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export interface TransportOptions {
  /** Host root, e.g. `https://app-api.pixverse.ai` or `http://127.0.0.1:PORT`. */
  baseUrl: string;
  /** Whole-call deadline (connect + send + response), ms. Default 30000. */
  timeoutMs?: number;
  /** Max sockets to the host. Default 64. */
  connections?: number;
}

export interface CallSpec {
  method: 'GET' | 'POST';
  /** Path under API_PREFIX, e.g. `/video/text/generate` (may carry a query string). */
  path: string;
  apiKey: string;
  traceId: string;
  body?: string | Buffer;
  contentType?: string;
  /** True for billable creates: an ambiguous failure is reported with maybeSubmitted. */
  create: boolean;
}

class DeadlineError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

function errorCode(err: unknown): string | null {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return null;
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = errorCode(err);
    const cause = err.cause instanceof Error ? `; ${err.cause.message}` : '';
    return `${code ? `${code}: ` : ''}${err.message}${cause}`;
  }
  return String(err);
}

export class Transport {
  readonly timeoutMs: number;
  readonly pool: Pool;
  /** Any path prefix of baseUrl + /openapi/v2. */
  private readonly root: string;

  constructor(opts: TransportOptions) {
    const url = new URL(opts.baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`PixVerse baseUrl must be http(s): ${opts.baseUrl}`);
    }
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const connections = opts.connections ?? DEFAULT_CONNECTIONS;
    this.root = `${url.pathname.replace(/\/+$/, '')}${API_PREFIX}`;
    this.pool = new Pool(url.origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 60_000,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      connect: { timeout: Math.min(this.timeoutMs, MAX_CONNECT_TIMEOUT_MS) },
      maxResponseSize: MAX_RESPONSE_BYTES,
    });
  }

  /** Closes the connection pool (in-flight calls finish first). */
  close(): Promise<void> {
    return this.pool.close();
  }

  /** Sends one call and returns `Resp` of a successful envelope, or throws the classified UpstreamError. */
  async call(spec: CallSpec): Promise<JsonObject> {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what a header value must not carry
    if (!spec.apiKey || /[\u0000-\u001f\u007f]/.test(spec.apiKey)) {
      throw new UpstreamError('auth', 'API key is empty or contains control characters');
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what a header value must not carry
    if (!spec.traceId || /[\u0000-\u001f\u007f]/.test(spec.traceId)) {
      throw new UpstreamError('bad_request', 'Ai-trace-id is empty or contains control characters');
    }
    const headers: Record<string, string> = {
      'API-KEY': spec.apiKey,
      'Ai-trace-id': spec.traceId,
      accept: 'application/json',
    };
    if (spec.contentType) headers['content-type'] = spec.contentType;

    const what = `PixVerse ${spec.method} ${spec.path}`;
    const exchange = new Exchange(this.timeoutMs);
    try {
      this.pool.dispatch(
        { path: this.root + spec.path, method: spec.method, headers, body: spec.body ?? null },
        exchange,
      );
    } catch (err) {
      exchange.onResponseError(null, err as Error);
    }
    let statusCode: number;
    let text: string;
    try {
      ({ statusCode, text } = await exchange.done);
    } catch (err) {
      // Refused before the request reached a socket: certainly not submitted. Otherwise ambiguous.
      const expired = err instanceof DeadlineError;
      const timedOut = expired || /TIMEOUT/.test(errorCode(err) ?? '');
      const reason = expired ? err.message : describe(err);
      const message = `${what}: ${timedOut ? 'timeout' : 'transport error'} (${reason})${
        exchange.sent ? '' : ' before the request was sent'
      }`;
      throw new UpstreamError('transient', message, null, null, exchange.sent);
    }
    return unwrapEnvelope(statusCode, text, spec.create);
  }
}

/**
 * One call as an undici dispatch handler: collects the answer's bytes and settles `done` once, with
 * the whole-call deadline. undici's request() wraps the same dispatch in an abort signal, a Node
 * Readable for the body and a second promise for the deadline race: against a loopback server in
 * the same process, a call cost ~74 µs of CPU through request() and ~45 µs through this handler,
 * and a create costs one submit and a few polls.
 *
 * `sent` turns true when undici hands the request to a connected socket (its headers are about to be
 * written): from then on a failed create may have reached PixVerse. A call still queued behind busy
 * connections when the deadline passes is aborted the moment it would start, so it is never written.
 */
class Exchange implements Dispatcher.DispatchHandler {
  sent = false;
  readonly done: Promise<{ statusCode: number; text: string }>;
  private resolve!: (answer: { statusCode: number; text: string }) => void;
  private reject!: (err: unknown) => void;
  private controller: Dispatcher.DispatchController | null = null;
  private expired: DeadlineError | null = null;
  private readonly timer: NodeJS.Timeout;
  private statusCode = 0;
  private readonly chunks: Buffer[] = [];

  constructor(timeoutMs: number) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.timer = setTimeout(() => {
      // Created only when the deadline passes: an Error captures a stack, too costly per call.
      this.expired = new DeadlineError(timeoutMs);
      this.controller?.abort(this.expired);
      this.reject(this.expired);
    }, timeoutMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.expired) controller.abort(this.expired);
    else this.sent = true;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.statusCode = statusCode;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    clearTimeout(this.timer);
    this.resolve({ statusCode: this.statusCode, text: Buffer.concat(this.chunks).toString('utf8') });
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    clearTimeout(this.timer);
    // After the deadline the abort lands here too; `done` already carries the deadline.
    this.reject(this.expired ?? error);
  }
}
