/**
 * Provider-neutral contract the scheduler uses to talk to a generation service.
 * providers/pixverse/upstream/ implements it for PixVerse's Platform API.
 */
import type { JobType, Json, UpstreamRequest } from '../domain/job.ts';

/** How an upstream failure must be handled (design: "Accounts and health"). */
export type UpstreamErrorClass =
  | 'concurrency_limit' // 500044: slot mis-counted or account used elsewhere; back off, do not punish
  | 'rate_limit' // too many requests; cool the account down
  | 'out_of_credits' // 500043 / 500090; park the account (412)
  | 'moderation' // 500054 / 500063 …; 422 or terminal `moderated`
  | 'bad_request' // 4000xx and friends; the client's input, 400
  | 'auth' // rejected API key / banned; account in error (596)
  | 'not_found' // 500008 / 500064
  | 'transient'; // 5xx, timeouts, 500069, 500100, unknown

export class UpstreamError extends Error {
  constructor(
    readonly errorClass: UpstreamErrorClass,
    message: string,
    readonly errCode: number | null = null,
    readonly httpStatus: number | null = null,
    /** True when the request may have reached the provider (ambiguous: timeout after send). */
    readonly maybeSubmitted = false,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

export interface SubmitResult {
  /** Provider id as decimal string (lossless int64). */
  upstreamId: string;
  credits: number | null;
}

export type UpstreamState = 'pending' | 'completed' | 'failed' | 'moderated' | 'deleted';

export interface StatusResult {
  state: UpstreamState;
  /** Raw provider status code (PixVerse: 1, 5, 6, 7, 8). */
  code: number;
  url: string | null;
  /** The provider's result document with ids as strings. */
  raw: { [key: string]: Json };
}

export interface UploadResult {
  /** Provider id of the uploaded media (img_id or media_id), decimal string. */
  id: string;
  url: string;
  mediaType: 'image' | 'video' | 'audio';
}

export interface Balance {
  accountId: string;
  creditMonthly: number;
  creditPackage: number;
}

export type CatalogKind = 'effects' | 'voices' | 'restyles';

export interface CatalogPage {
  items: { [key: string]: Json }[];
  total: number | null;
}

export interface SubmitOptions {
  /**
   * The account's provider webhook: attached when the operation supports one (acceptsWebhook), so
   * the provider reports the job's end at once instead of waiting to be polled.
   */
  webhookId?: string | null;
}

/** A provider's notice that a job changed state, read from a webhook delivery. */
export interface WebhookNotice {
  /** The job's provider id as a decimal string. */
  upstreamId: string;
  /** The provider status in the notice; the gateway confirms it with a status read. */
  status: number | null;
  /** Checks the delivery against one account's webhook secret at time `now` (epoch ms). */
  verify(secret: string, now: number): WebhookVerdict;
}

export type WebhookVerdict = 'ok' | 'bad_signature' | 'stale' | 'unsigned';

/** A webhook delivery that cannot be read; the message names what is wrong. */
export class WebhookFormatError extends Error {}

export interface Upstream {
  /** Starts a generation. `traceId` is the Ai-trace-id: reusing it replays the original answer. */
  submit(apiKey: string, request: UpstreamRequest, traceId: string, options?: SubmitOptions): Promise<SubmitResult>;
  /** Whether jobs of operation `op` report their end through the provider's webhook. */
  acceptsWebhook(op: string): boolean;
  /** Reads a webhook delivery (`header` looks a request header up by lower-case name); throws WebhookFormatError. */
  readWebhook(header: (name: string) => string | undefined, rawBody: string): WebhookNotice;
  /** Reads the state of a job. Uses a fresh trace id per call. */
  status(apiKey: string, type: JobType, upstreamId: string): Promise<StatusResult>;
  upload(apiKey: string, body: Buffer, contentType: string, filename: string): Promise<UploadResult>;
  balance(apiKey: string): Promise<Balance>;
  /** A provider catalogue (effect templates, TTS voices, restyle presets), ids as strings. */
  catalog(apiKey: string, kind: CatalogKind, page?: { num: number; size: number }): Promise<CatalogPage>;
  /** Closes pooled connections (shutdown, tests). */
  close?(): Promise<void>;
}
