/**
 * PixVerse Platform API client (HTTP). Implements the provider-neutral Upstream contract.
 *
 * - Every call sends `API-KEY` and `Ai-trace-id`. `submit()` uses the caller's trace id (so a
 *   crash-recovery resubmit replays PixVerse's original answer); every other call uses a fresh one.
 * - Responses go through the envelope reader on every HTTP status (envelope.ts) and lossless JSON (json.ts).
 * - Transport: one undici Pool per client (keep-alive, bounded connections). A create is never
 *   retried here; a failure after the request reached the socket is reported with `maybeSubmitted`.
 */
import { randomUUID } from 'node:crypto';
import { Pool, request, type Dispatcher } from 'undici';
import type { JobType, Json, UpstreamRequest } from '../../domain/job.ts';
import {
  UpstreamError,
  type Balance,
  type StatusResult,
  type SubmitResult,
  type Upstream,
  type UploadResult,
} from '../upstream.ts';
import { unwrapEnvelope } from './envelope.ts';
import { stringifyLossless, type JsonObject } from './json.ts';
import { ID_FIELDS, OPERATIONS, RESULT_PATHS } from './operations.ts';
import { toStatusResult } from './status.ts';

export interface PixverseClientOptions {
  /** Host root, e.g. `https://app-api.pixverse.ai` or `http://127.0.0.1:PORT`. */
  baseUrl: string;
  /** Whole-call deadline (connect + send + response), ms. Default 30000. */
  timeoutMs?: number;
  /** Max sockets to the host. Default 64. */
  connections?: number;
}

export const API_PREFIX = '/openapi/v2';
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_CONNECTIONS = 64;
const MAX_CONNECT_TIMEOUT_MS = 10_000;
/** PixVerse answers are small JSON documents; a huge body means a wrong baseUrl or a broken proxy. */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

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
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return null;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = errorCode(err);
    const cause = err.cause instanceof Error ? `; ${err.cause.message}` : '';
    return `${code ? `${code}: ` : ''}${err.message}${cause}`;
  }
  return String(err);
}

/** Decimal id of a response field (ids are strings after lossless parsing; tolerate numbers). */
function idOf(value: Json | undefined): string | null {
  if (typeof value === 'string' && value.trim() !== '') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return null;
}

function numberOf(value: Json | undefined): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return null;
}

type MediaKind = 'image' | 'video' | 'audio';

const EXTENSION_KINDS: Record<string, MediaKind> = {
  png: 'image',
  jpg: 'image',
  jpeg: 'image',
  webp: 'image',
  mp4: 'video',
  mov: 'video',
  webm: 'video',
  mp3: 'audio',
  wav: 'audio',
  m4a: 'audio',
  aac: 'audio',
};

/** Media kind from the content type, falling back to the file extension (e.g. application/octet-stream). */
export function mediaKind(contentType: string, filename: string): MediaKind | null {
  const major = contentType.split('/')[0]?.trim().toLowerCase();
  if (major === 'image' || major === 'video' || major === 'audio') return major;
  const ext = filename.split('.').pop()?.toLowerCase() ?? '';
  return EXTENSION_KINDS[ext] ?? null;
}

interface CallSpec {
  method: 'GET' | 'POST';
  /** Path under API_PREFIX, e.g. `/video/text/generate`. */
  path: string;
  apiKey: string;
  traceId: string;
  body?: string | Buffer;
  contentType?: string;
  /** True for billable creates: an ambiguous failure is reported with maybeSubmitted. */
  create: boolean;
}

export class PixverseClient implements Upstream {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  private readonly pool: Pool;
  private readonly dispatcher: Dispatcher;
  /** Origin + any path prefix of baseUrl + /openapi/v2. */
  private readonly root: string;

  constructor(opts: PixverseClientOptions) {
    const url = new URL(opts.baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`PixVerse baseUrl must be http(s): ${opts.baseUrl}`);
    }
    this.baseUrl = opts.baseUrl;
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

  async submit(apiKey: string, req: UpstreamRequest, traceId: string): Promise<SubmitResult> {
    const spec = Object.hasOwn(OPERATIONS, req.op) ? OPERATIONS[req.op] : undefined;
    if (!spec) throw new UpstreamError('bad_request', `unknown upstream operation: ${req.op}`);
    let body: string;
    try {
      body = stringifyLossless(req.params, ID_FIELDS);
    } catch (err) {
      throw new UpstreamError('bad_request', `cannot serialise request body: ${describe(err)}`);
    }
    const resp = await this.call({
      method: 'POST',
      path: spec.path,
      apiKey,
      traceId,
      body,
      contentType: 'application/json',
      create: true,
    });
    const upstreamId = idOf(resp.video_id) ?? idOf(resp.image_id) ?? idOf(resp.audio_id) ?? idOf(resp.id);
    if (upstreamId === null) {
      // PixVerse said success, so the create may well be running and billed: do not let it be resubmitted blindly.
      throw new UpstreamError('transient', `PixVerse ${spec.path} succeeded without an id`, 0, null, true);
    }
    return { upstreamId, credits: numberOf(resp.credits) ?? numberOf(resp.credit) };
  }

  async status(apiKey: string, type: JobType, upstreamId: string): Promise<StatusResult> {
    const base = Object.hasOwn(RESULT_PATHS, type) ? RESULT_PATHS[type] : undefined;
    if (!base) throw new UpstreamError('bad_request', `unknown job type: ${type}`);
    if (!/^\d+$/.test(upstreamId)) throw new UpstreamError('bad_request', `invalid upstream id: ${upstreamId}`);
    const resp = await this.call({ method: 'GET', path: base + upstreamId, apiKey, traceId: randomUUID(), create: false });
    return toStatusResult(resp);
  }

  async upload(apiKey: string, body: Buffer, contentType: string, filename: string): Promise<UploadResult> {
    const kind = mediaKind(contentType, filename);
    if (kind === null) throw new UpstreamError('bad_request', `unsupported media type: ${contentType}`);
    const form = new FormData();
    // Buffers from a pool are views on a larger ArrayBuffer: pass exactly this view, without copying.
    const bytes = new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength);
    const blob = new Blob([bytes], { type: contentType });
    form.append(kind === 'image' ? 'image' : 'file', blob, filename);
    // Serialise the form up front: a fixed Content-Length is friendlier to proxies than chunked multipart.
    const encoded = new Response(form);
    const multipartType = encoded.headers.get('content-type');
    if (!multipartType) throw new UpstreamError('bad_request', 'could not encode multipart body');
    const payload = Buffer.from(await encoded.arrayBuffer());
    const resp = await this.call({
      method: 'POST',
      path: kind === 'image' ? '/image/upload' : '/media/upload',
      apiKey,
      traceId: randomUUID(),
      body: payload,
      contentType: multipartType,
      create: false,
    });
    if (kind === 'image') {
      const id = idOf(resp.img_id);
      const url = resp.img_url;
      if (id === null || typeof url !== 'string') {
        throw new UpstreamError('transient', 'PixVerse /image/upload answered without img_id/img_url');
      }
      return { id, url, mediaType: 'image' };
    }
    const id = idOf(resp.media_id);
    const url = resp.url;
    if (id === null || typeof url !== 'string') {
      throw new UpstreamError('transient', 'PixVerse /media/upload answered without media_id/url');
    }
    const mt = resp.media_type;
    return { id, url, mediaType: mt === 'video' || mt === 'audio' ? mt : kind };
  }

  async balance(apiKey: string): Promise<Balance> {
    const resp = await this.call({ method: 'GET', path: '/account/balance', apiKey, traceId: randomUUID(), create: false });
    return {
      accountId: idOf(resp.account_id) ?? '',
      creditMonthly: numberOf(resp.credit_monthly) ?? 0,
      creditPackage: numberOf(resp.credit_package) ?? 0,
    };
  }

  /** Closes the connection pool (in-flight calls finish first). */
  async close(): Promise<void> {
    await this.pool.close();
  }

  private async call(spec: CallSpec): Promise<JsonObject> {
    if (!spec.apiKey || /[\u0000-\u001f\u007f]/.test(spec.apiKey)) {
      throw new UpstreamError('auth', 'API key is empty or contains control characters');
    }
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
    const deadline = new DeadlineError(this.timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    // undici only honours an abort once the request reaches a socket, so a call queued behind busy
    // connections would outlive its deadline: race it. The abort still stops it from ever being written.
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
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
      const timedOut = err === deadline || controller.signal.aborted || /TIMEOUT/.test(errorCode(err) ?? '');
      const reason = err === deadline || controller.signal.aborted ? deadline.message : describe(err);
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

export function createPixverseClient(opts: PixverseClientOptions): PixverseClient {
  return new PixverseClient(opts);
}
