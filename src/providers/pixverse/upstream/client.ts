/**
 * PixVerse Platform API client (HTTP). Implements the provider-neutral Upstream contract.
 *
 * - Every call sends `API-KEY` and `Ai-trace-id`. `submit()` uses the caller's trace id (so a
 *   crash-recovery resubmit replays PixVerse's original answer); every other call uses a fresh one.
 * - Responses go through the envelope reader on every HTTP status (envelope.ts), lossless JSON
 *   (json.ts) and the readers of parse.ts. Transport, deadlines and `maybeSubmitted`: transport.ts.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'undici';
import type { JobType, UpstreamRequest } from '../../../domain/job.ts';
import {
  UpstreamError,
  type Balance,
  type CatalogKind,
  type CatalogPage,
  type StatusResult,
  type SubmitOptions,
  type SubmitResult,
  type Upstream,
  type UploadResult,
  type WebhookNotice,
} from '../../../scheduler/provider.ts';
import { readWebhook } from './webhook.ts';
import { stringifyLossless } from './json.ts';
import { CATALOGS, ID_FIELDS, OPERATIONS, RESULT_PATHS } from './operations.ts';
import { parseBalance, parseCatalog, parseImageUpload, parseMediaUpload, parseSubmit } from './parse.ts';
import { toStatusResult } from './status.ts';
import { API_PREFIX, Transport, describe, type TransportOptions } from './transport.ts';

export { API_PREFIX };
export type PixverseClientOptions = TransportOptions;

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

/** Catalogue page asked for when the caller gives none: the first 100 entries. */
const DEFAULT_CATALOG_PAGE = { num: 1, size: 100 };

export class PixverseClient implements Upstream {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  private readonly transport: Transport;
  /** The connection pool (tests hold a socket with it). */
  private readonly pool: Pool;

  constructor(opts: PixverseClientOptions) {
    this.transport = new Transport(opts);
    this.baseUrl = opts.baseUrl;
    this.timeoutMs = this.transport.timeoutMs;
    this.pool = this.transport.pool;
  }

  acceptsWebhook(op: string): boolean {
    return Object.hasOwn(OPERATIONS, op) && OPERATIONS[op]!.webhook === true;
  }

  readWebhook(header: (name: string) => string | undefined, rawBody: string): WebhookNotice {
    return readWebhook(header, rawBody);
  }

  async submit(
    apiKey: string,
    req: UpstreamRequest,
    traceId: string,
    options: SubmitOptions = {},
  ): Promise<SubmitResult> {
    const spec = Object.hasOwn(OPERATIONS, req.op) ? OPERATIONS[req.op] : undefined;
    if (!spec) throw new UpstreamError('bad_request', `unknown upstream operation: ${req.op}`);
    // The webhook belongs to the account, which a queued job only gets at dispatch, so it is added
    // here rather than stored with the request; a replay with the same trace id sends it again.
    const params =
      spec.webhook && options.webhookId ? { ...req.params, webhook_id: options.webhookId } : req.params;
    let body: string;
    try {
      body = stringifyLossless(params, ID_FIELDS);
    } catch (err) {
      throw new UpstreamError('bad_request', `cannot serialise request body: ${describe(err)}`);
    }
    const resp = await this.transport.call({
      method: 'POST',
      path: spec.path,
      apiKey,
      traceId,
      body,
      contentType: 'application/json',
      create: true,
    });
    return parseSubmit(resp, spec.type, spec.path);
  }

  async status(apiKey: string, type: JobType, upstreamId: string): Promise<StatusResult> {
    const base = Object.hasOwn(RESULT_PATHS, type) ? RESULT_PATHS[type] : undefined;
    if (!base) throw new UpstreamError('bad_request', `unknown job type: ${type}`);
    if (!/^\d+$/.test(upstreamId))
      throw new UpstreamError('bad_request', `invalid upstream id: ${upstreamId}`);
    const resp = await this.transport.call({
      method: 'GET',
      path: base + upstreamId,
      apiKey,
      traceId: randomUUID(),
      create: false,
    });
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
    const resp = await this.transport.call({
      method: 'POST',
      path: kind === 'image' ? '/image/upload' : '/media/upload',
      apiKey,
      traceId: randomUUID(),
      body: payload,
      contentType: multipartType,
      create: false,
    });
    return kind === 'image' ? parseImageUpload(resp) : parseMediaUpload(resp, kind);
  }

  async balance(apiKey: string): Promise<Balance> {
    const resp = await this.transport.call({
      method: 'GET',
      path: '/account/balance',
      apiKey,
      traceId: randomUUID(),
      create: false,
    });
    return parseBalance(resp);
  }

  /** voices → tts_list, restyles → restyle/list, effects → effects/templates/list (operations.ts). */
  async catalog(
    apiKey: string,
    kind: CatalogKind,
    page?: { num: number; size: number },
  ): Promise<CatalogPage> {
    const spec = Object.hasOwn(CATALOGS, kind) ? CATALOGS[kind] : undefined;
    if (!spec) throw new UpstreamError('bad_request', `unknown catalog: ${String(kind)}`);
    const { num, size } = page ?? DEFAULT_CATALOG_PAGE;
    if (!Number.isSafeInteger(num) || num < 1 || !Number.isSafeInteger(size) || size < 1) {
      throw new UpstreamError('bad_request', `invalid catalog page ${num}/${size}`);
    }
    const query = new URLSearchParams({ [spec.pageParam]: String(num), [spec.sizeParam]: String(size) });
    const path = `${spec.path}?${query.toString()}`;
    const resp = await this.transport.call({
      method: 'GET',
      path,
      apiKey,
      traceId: randomUUID(),
      create: false,
    });
    return parseCatalog(resp, spec.path);
  }

  /** Closes the connection pool (in-flight calls finish first). */
  async close(): Promise<void> {
    await this.transport.close();
  }
}

export function createPixverseClient(opts: PixverseClientOptions): PixverseClient {
  return new PixverseClient(opts);
}
