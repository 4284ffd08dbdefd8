/**
 * HTTP transport to the Platform API: one undici Pool per client (keep-alive, bounded connections),
 * `API-KEY` and `Ai-trace-id` on every call, a whole-call deadline, and the envelope reader on every
 * HTTP status. A call is never retried here; a failure after the request reached the socket is
 * reported with `maybeSubmitted` when the call was a create.
 */
import { Pool, request, type Dispatcher } from 'undici';
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

/** Per-call flag set when undici hands the request to a connected socket (headers about to be written). */
interface SendState {
  sent: boolean;
}

/**
 * Interceptor that records, per call, whether the request reached a socket. The call passes its
 * SendState as `opaque` (undici forwards it untouched).
 */
function trackSend(dispatch: Dispatcher.Dispatch): Dispatcher.Dispatch {
  return (opts, handler) => {
    // `request()` passes its whole options object through, `opaque` included (not in DispatchOptions' type).
    const state: unknown = (opts as { opaque?: unknown }).opaque;
    if (!isSendState(state)) return dispatch(opts, handler);
    const tracked: Dispatcher.DispatchHandler = {
      onRequestStart: (controller, context: unknown) => {
        handler.onRequestStart?.(controller, context);
        // A call aborted while it was queued is aborted right here and never written.
        if (!controller.aborted) state.sent = true;
      },
      onRequestUpgrade: (controller, statusCode, headers, socket) =>
        handler.onRequestUpgrade?.(controller, statusCode, headers, socket),
      onResponseStart: (controller, statusCode, headers, statusMessage) =>
        handler.onResponseStart?.(controller, statusCode, headers, statusMessage),
      onResponseData: (controller, chunk) => handler.onResponseData?.(controller, chunk),
      onResponseEnd: (controller, trailers) => handler.onResponseEnd?.(controller, trailers),
      onResponseError: (controller, error) => handler.onResponseError?.(controller, error),
    };
    return dispatch(opts, tracked);
  };
}

function isSendState(value: unknown): value is SendState {
  return typeof value === 'object' && value !== null && 'sent' in value && typeof value.sent === 'boolean';
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
  private readonly dispatcher: Dispatcher;
  /** Origin + any path prefix of baseUrl + /openapi/v2. */
  private readonly root: string;

  constructor(opts: TransportOptions) {
    const url = new URL(opts.baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`PixVerse baseUrl must be http(s): ${opts.baseUrl}`);
    }
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const connections = opts.connections ?? DEFAULT_CONNECTIONS;
    this.root = `${url.origin}${url.pathname.replace(/\/+$/, '')}${API_PREFIX}`;
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
    this.dispatcher = this.pool.compose(trackSend);
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
    const sendState: SendState = { sent: false };
    const controller = new AbortController();
    // Created only when the deadline passes: an Error captures a stack, too costly per call.
    let deadline: DeadlineError | null = null;
    let timer: NodeJS.Timeout | undefined;
    // undici only honours an abort once the request reaches a socket, so a call queued behind busy
    // connections would outlive its deadline: race it. The abort still stops it from ever being written.
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        deadline = new DeadlineError(this.timeoutMs);
        controller.abort(deadline);
        reject(deadline);
      }, this.timeoutMs);
    });
    const exchange = (async () => {
      const res = await request(this.root + spec.path, {
        dispatcher: this.dispatcher,
        method: spec.method,
        headers,
        body: spec.body ?? null,
        signal: controller.signal,
        opaque: sendState,
      });
      return { statusCode: res.statusCode, text: await res.body.text() };
    })();
    exchange.catch(() => undefined); // may settle after the deadline won the race
    let statusCode: number;
    let text: string;
    try {
      ({ statusCode, text } = await Promise.race([exchange, expired]));
    } catch (err) {
      // Refused before the request reached a socket: certainly not submitted. Otherwise ambiguous.
      const expiredNow = deadline !== null && (err === deadline || controller.signal.aborted);
      const timedOut = expiredNow || /TIMEOUT/.test(errorCode(err) ?? '');
      const reason = expiredNow ? deadline!.message : describe(err);
      const message = `${what}: ${timedOut ? 'timeout' : 'transport error'} (${reason})${
        sendState.sent ? '' : ' before the request was sent'
      }`;
      throw new UpstreamError('transient', message, null, null, sendState.sent);
    } finally {
      clearTimeout(timer);
    }
    return unwrapEnvelope(statusCode, text, spec.create);
  }
}
