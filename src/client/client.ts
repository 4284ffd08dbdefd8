/**
 * A typed client of the Pixgate HTTP API (tenant and admin routes), used by the `pixgate` CLI.
 *
 *   const client = new PixgateClient({ url: 'http://localhost:8080', token });
 *   const id = await client.createVideo({ prompt: 'a lighthouse in a storm' });
 *   const done = await client.waitForJob(id);   // throws JobFailedError unless it completed
 */
import { randomUUID } from 'node:crypto';
import { parseJobId } from '../domain/ids.ts';
import { JobFailedError, PixgateError, WaitTimeoutError } from './errors.ts';
import { idKeyOf, jobStatus, type JobStatus } from './jobStatus.ts';
import { Transport, type TransportOptions } from './transport.ts';
import type {
  Account,
  AccountInput,
  AccountRemoval,
  Available,
  ExecutingJob,
  ImageTemplateBody,
  JobDocument,
  JobType,
  NewTenant,
  NewToken,
  Tenant,
  Token,
  UploadedFile,
  VideoCreateBody,
} from './types.ts';

export type ClientOptions = TransportOptions;

export interface CreateOptions {
  /**
   * Idempotency-Key sent with the create; a random UUID when omitted, so a retried request is
   * never a second paid job. Pass `null` to send none.
   */
  idempotencyKey?: string | null;
}

export interface WaitOptions {
  /** Time between status reads (default 2 s). */
  intervalMs?: number;
  /** Give up after this long (default: never). */
  timeoutMs?: number;
  /** Called after every read, e.g. to draw progress. */
  onUpdate?: (status: JobStatus) => void;
  signal?: AbortSignal;
}

const PV = '/v2/pixverse';
const enc = encodeURIComponent;

export class PixgateClient {
  private readonly http: Transport;

  constructor(options: ClientOptions) {
    this.http = new Transport(options);
  }

  get url(): string {
    return this.http.base;
  }

  // ── admin (admin token) ─────────────────────────────────────────────
  createTenant(name?: string): Promise<NewTenant> {
    return this.http.send({ method: 'POST', path: '/admin/users', json: name === undefined ? {} : { name } });
  }
  listTenants(): Promise<Tenant[]> {
    return this.http.send({ method: 'GET', path: '/admin/users' });
  }
  getTenant(userId: number): Promise<Tenant> {
    return this.http.send({ method: 'GET', path: `/admin/users/${userId}` });
  }
  createToken(userId: number, label?: string): Promise<NewToken> {
    return this.http.send({
      method: 'POST',
      path: `/admin/users/${userId}/tokens`,
      json: label === undefined ? {} : { label },
    });
  }
  listTokens(userId: number): Promise<Token[]> {
    return this.http.send({ method: 'GET', path: `/admin/users/${userId}/tokens` });
  }
  async revokeToken(userId: number, tokenId: number): Promise<void> {
    await this.http.send({ method: 'DELETE', path: `/admin/users/${userId}/tokens/${tokenId}` });
  }

  // ── accounts ────────────────────────────────────────────────────────
  putAccount(email: string, input: AccountInput): Promise<Account> {
    return this.http.send({ method: 'POST', path: `${PV}/accounts/${enc(email)}`, json: input });
  }
  /** Every account of the tenant; empty when none is configured (the route's 404 then). */
  async listAccounts(): Promise<Account[]> {
    try {
      return Object.values(
        await this.http.send<Record<string, Account>>({ method: 'GET', path: `${PV}/accounts` }),
      );
    } catch (err) {
      if (
        err instanceof PixgateError &&
        err.status === 404 &&
        err.message.startsWith('Configuration not found')
      )
        return [];
      throw err;
    }
  }
  getAccount(email: string): Promise<Account> {
    return this.http.send({ method: 'GET', path: `${PV}/accounts/${enc(email)}` });
  }
  deleteAccount(email: string): Promise<AccountRemoval> {
    return this.http.send({ method: 'DELETE', path: `${PV}/accounts/${enc(email)}` });
  }

  // ── files and jobs ──────────────────────────────────────────────────
  /** Uploads a file to one of the tenant's accounts (`email` is needed when there are several). */
  async uploadFile(data: Uint8Array, contentType: string, email?: string): Promise<UploadedFile> {
    const answer = await this.http.send<Record<string, unknown>>({
      method: 'POST',
      path: `${PV}/files`,
      query: { email },
      raw: { data, contentType },
      timeoutMs: 300_000,
    });
    // Images answer useapi's `result[0]`; videos and audio a flat `{ path, url }`.
    const first = Array.isArray(answer['result'])
      ? (answer['result'][0] as Record<string, unknown> | undefined)
      : answer;
    const path = first?.['path'];
    if (typeof path !== 'string')
      throw new PixgateError(502, 'the upload answer carries no file path', null, answer);
    return { path, url: typeof first?.['url'] === 'string' ? first['url'] : null };
  }

  createVideo(body: VideoCreateBody, options: CreateOptions = {}): Promise<string> {
    return this.create('video', '/videos/create', body, options);
  }
  /** An image from an image effect template and an uploaded frame (answered with `image_id`). */
  createImage(body: ImageTemplateBody, options: CreateOptions = {}): Promise<string> {
    return this.create('image', '/videos/create', body, options);
  }

  private async create(type: JobType, path: string, body: object, options: CreateOptions): Promise<string> {
    const key = options.idempotencyKey === undefined ? randomUUID() : options.idempotencyKey;
    const answer = await this.http.send<Record<string, string>>({
      method: 'POST',
      path: PV + path,
      json: body,
      headers: key === null ? {} : { 'idempotency-key': key },
    });
    const id = answer[idKeyOf(type)];
    if (typeof id !== 'string')
      throw new PixgateError(502, `the create answer carries no ${idKeyOf(type)}`, null, answer);
    return id;
  }

  /** The job's document and the fields read from it. The type comes from the id itself. */
  async getJob(id: string): Promise<{ status: JobStatus; document: JobDocument }> {
    const type = jobTypeOf(id);
    const segment = type === 'music' ? 'music' : `${type}s`;
    const document = await this.http.send<JobDocument>({
      method: 'GET',
      path: `${PV}/${segment}/${enc(id)}`,
    });
    return { status: jobStatus(type, document), document };
  }

  /** Reads the job until it is final; resolves when it completed, throws JobFailedError otherwise. */
  async waitForJob(id: string, options: WaitOptions = {}): Promise<JobStatus> {
    const interval = options.intervalMs ?? 2000;
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      options.signal?.throwIfAborted();
      const { status } = await this.getJob(id);
      options.onUpdate?.(status);
      if (status.final) {
        if (status.state === 'completed') return status;
        throw new JobFailedError(id, status.state, status.error);
      }
      if (Date.now() + interval > deadline)
        throw new WaitTimeoutError(id, status.state, options.timeoutMs ?? 0);
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  }

  // ── scheduler ───────────────────────────────────────────────────────
  available(): Promise<Available> {
    return this.http.send({ method: 'GET', path: `${PV}/scheduler/available` });
  }
  /** Jobs holding a slot now (submitting or generating). */
  running(): Promise<ExecutingJob[]> {
    return this.http.send({ method: 'GET', path: `${PV}/scheduler` });
  }
  /** Cancels a running or waiting job and frees its slot. */
  async cancel(id: string): Promise<void> {
    await this.http.send({ method: 'DELETE', path: `${PV}/scheduler/${enc(id)}` });
  }
}

/** The job type named in a public job id; a 400-class error when the text is not one. */
export function jobTypeOf(id: string): JobType {
  const ref = parseJobId(id);
  if (!ref)
    throw new PixgateError(
      400,
      `"${id}" is not a job id (expected user:<n>-pixverse:<email>-<type>:<id>)`,
      null,
      null,
    );
  return ref.type;
}
