/**
 * Provider-neutral contract the scheduler uses to talk to a generation service: the API client
 * (`Upstream`) and the provider's rules the engine needs without knowing whose they are
 * (`Provider`). Each folder under src/providers/ implements both; docs/providers.md explains how.
 */
import type { JobType, Json, UpstreamRequest } from '../domain/job.ts';

/** How an upstream failure must be handled (design: "Accounts and health"). */
export type UpstreamErrorClass =
  | 'concurrency_limit' // every slot of the account is busy upstream: mis-counted or used elsewhere; back off, do not punish
  | 'rate_limit' // too many requests; cool the account down
  | 'out_of_credits' // balance or pack exhausted; park the account (412)
  | 'moderation' // content refused; 422 or terminal `moderated`
  | 'bad_request' // invalid request: the client's input, 400
  | 'auth' // rejected API key or banned account; account in error (596)
  | 'not_found' // the provider does not know the job or media
  | 'transient'; // 5xx, timeouts, unknown codes

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
  /** The provider's job id as text (never a JS number: some exceed 2^53), written as the public id's tail. */
  upstreamId: string;
  credits: number | null;
}

export type UpstreamState = 'pending' | 'completed' | 'failed' | 'moderated' | 'deleted';

export interface StatusResult {
  state: UpstreamState;
  /** The provider's raw status code, stored as the job's `upstreamStatus`. */
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
  /** The job's provider id, in the same form as SubmitResult.upstreamId. */
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
  /**
   * Starts a generation. `traceId` is the job's client request id (sent with the create when the
   * provider has one), so a retry after a crash can be recognised instead of billed twice.
   */
  submit(
    apiKey: string,
    request: UpstreamRequest,
    traceId: string,
    options?: SubmitOptions,
  ): Promise<SubmitResult>;
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

/** The part of a job a provider's run-time rules look at. */
export type RunTimeInput = { type: JobType; upstream: UpstreamRequest };

/** How the provider's webhook deliveries are told apart and refused (the reading is Upstream.readWebhook). */
export interface ProviderWebhook {
  /** Replay window either side of our clock; a delivery is remembered for twice this long. */
  toleranceMs: number;
  /** Lower-case request headers that, with the raw body, identify one delivery (its replay key). */
  deliveryHeaders: readonly string[];
  /** The client-facing reason for each refused verdict. */
  refusals: Record<Exclude<WebhookVerdict, 'ok'>, string>;
}

/**
 * A generation provider as the engine sees it. Everything here is pure (no I/O): the provider's
 * client is built separately with `connect`, so the gateway can wrap it (metrics) before the
 * scheduler gets it.
 */
export interface Provider {
  /** Lower-case name: the `<provider>` segment of public job ids and the `provider` column of accounts and jobs. */
  readonly id: string;
  /** The name used in messages to clients and operators. */
  readonly displayName: string;
  /** Builds the API client for one base URL. */
  connect(options: { baseUrl: string; timeoutMs: number }): Upstream;
  /**
   * The provider job id written in a public id's tail, in canonical form (as SubmitResult.upstreamId
   * gives it), or null when the text cannot be one of its ids. Must never accept the engine's own
   * tails (`pending-<n>`, `q<n>`).
   */
  parseIdTail(tail: string): string | null;
  /** Groups jobs whose run times are learned together (e.g. type and output quality). */
  runClass(job: RunTimeInput): string;
  /** Expected run time of a job before any of its class was seen to finish (ms). */
  defaultRunMs(job: RunTimeInput): number;
  /** How long a finished job ran by the provider's own timestamps in its status document, when it reports them. */
  reportedRunMs(status: StatusResult): number | null;
  /** Its webhook scheme, or null when the provider reports job ends only through polling. */
  readonly webhook: ProviderWebhook | null;
}
