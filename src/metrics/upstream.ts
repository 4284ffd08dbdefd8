/**
 * An Upstream that counts and times every call to the provider, by operation and error class,
 * and counts status reads as polls by what they found. A decorator around the real client, so the
 * PixVerse adapter stays free of metrics.
 */
import type { JobType, UpstreamRequest } from '../domain/job.ts';
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
} from '../scheduler/provider.ts';
import type { GatewayMetrics } from './metrics.ts';

type Operation = 'submit' | 'status' | 'upload' | 'balance' | 'catalog';

export class MeteredUpstream implements Upstream {
  constructor(
    private readonly inner: Upstream,
    private readonly metrics: GatewayMetrics,
  ) {}

  private async timed<T>(operation: Operation, call: () => Promise<T>): Promise<T> {
    this.metrics.upstreamRequests.inc({ operation });
    const end = this.metrics.upstreamDuration.startTimer({ operation });
    try {
      return await call();
    } catch (err) {
      this.metrics.upstreamErrors.inc({
        operation,
        class: err instanceof UpstreamError ? err.errorClass : 'unknown',
      });
      throw err;
    } finally {
      end();
    }
  }

  submit(
    apiKey: string,
    request: UpstreamRequest,
    traceId: string,
    options?: SubmitOptions,
  ): Promise<SubmitResult> {
    return this.timed('submit', () => this.inner.submit(apiKey, request, traceId, options));
  }

  async status(apiKey: string, type: JobType, upstreamId: string): Promise<StatusResult> {
    try {
      const result = await this.timed('status', () => this.inner.status(apiKey, type, upstreamId));
      this.metrics.polls.inc({ type, result: result.state });
      return result;
    } catch (err) {
      this.metrics.polls.inc({ type, result: 'error' });
      throw err;
    }
  }

  upload(apiKey: string, body: Buffer, contentType: string, filename: string): Promise<UploadResult> {
    return this.timed('upload', () => this.inner.upload(apiKey, body, contentType, filename));
  }

  balance(apiKey: string): Promise<Balance> {
    return this.timed('balance', () => this.inner.balance(apiKey));
  }

  catalog(apiKey: string, kind: CatalogKind, page?: { num: number; size: number }): Promise<CatalogPage> {
    return this.timed('catalog', () => this.inner.catalog(apiKey, kind, page));
  }

  acceptsWebhook(op: string): boolean {
    return this.inner.acceptsWebhook(op);
  }

  readWebhook(header: (name: string) => string | undefined, rawBody: string): WebhookNotice {
    return this.inner.readWebhook(header, rawBody);
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}
