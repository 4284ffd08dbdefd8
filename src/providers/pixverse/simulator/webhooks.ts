/**
 * PixVerse webhooks (reference "Webhooks"): the console's registry of webhooks and the delivery of
 * a job's end to the webhook named by the create's `webhook_id` (text/img generations only).
 *
 * A delivery is one signed JSON POST per job, for the first terminal status the job reaches (1, 7,
 * 8, or 6 when deleted while still generating; a stuck job reports the 8 it is released with). The
 * receiver acknowledges with HTTP 200 and the body `ok`; anything else is retried after 2 s, 10 s,
 * 30 s, 1 min, 5 min, 15 min, 1 h and 4 h (× timeScale), then given up. Retries resend the same
 * payload with a fresh timestamp, nonce and signature.
 *
 * The engine has no timer per job (engine.ts), but a webhook must leave when the job ends, not at
 * the next poll: each job with a webhook gets its own unref'd timer at its end. Jobs without one
 * cost nothing extra. close() clears every timer and aborts requests in flight.
 */
import { createHmac, randomInt } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { statusAt, type Job } from './account.ts';
import type { Markers } from './markers.ts';
import type { ResolvedOptions, Webhook, WebhookConfig, WebhookEvent, WebhookStats } from './options.ts';
import { videoResult } from './results.ts';
import { checkConfig, WebhookConfigError } from './webhookConfig.ts';

export { WebhookConfigError } from './webhookConfig.ts';
import type { VideoSpec } from './validate/index.ts';

/** Waits before retries 1–8, counted from the failed attempt's outcome, before timeScale. */
export const WEBHOOK_RETRY_MS: readonly number[] = [
  2_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000, 14_400_000,
];

/** The body of a delivery; the key order is the documented one. */
export interface WebhookPayload {
  id: string;
  status: number;
  url: string;
  size: number;
  has_audio: boolean;
  credits: number;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** setTimeout fires at once beyond this; a longer wait is re-armed (job ends) or capped (retries). */
const MAX_TIMER_MS = 2_147_483_647;
/** An acknowledgement is two bytes; more than this is certainly not one and is not kept. */
const MAX_ANSWER_BYTES = 64;

/** Crypto-random, not the seeded PRNG: nonces and secrets must not shift the job draws. */
function alnum(length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += ALNUM[randomInt(ALNUM.length)];
  return text;
}

/**
 * The string signed for a payload: its top-level fields as `key=value` pairs, keys sorted, encoded
 * as application/x-www-form-urlencoded (URLSearchParams: space → `+`), booleans as true/false.
 *
 * The official samples disagree here: the Go and Java ones sort the keys, the Python and Node ones
 * keep the body's order. Sorting is the choice a receiver can reproduce without caring how the body
 * was serialised, so the simulator signs sorted pairs. `sort()` compares UTF-16 code units, which
 * is byte order for these ASCII keys, as Go's sort.Strings.
 */
export function webhookSignedForm(payload: Readonly<Record<string, string | number | boolean>>): string {
  const pairs = Object.keys(payload)
    .sort()
    .map((key): [string, string] => [key, String(payload[key])]);
  return new URLSearchParams(pairs).toString();
}

/** `Webhook-Signature`: Base64(HMAC-SHA256(secret, "{timestamp}\n{nonce}\n{signed form}")). */
export function webhookSignature(
  secret: string,
  timestamp: string,
  nonce: string,
  payload: Readonly<Record<string, string | number | boolean>>,
): string {
  return createHmac('sha256', secret)
    .update(`${timestamp}\n${nonce}\n${webhookSignedForm(payload)}`)
    .digest('base64');
}

/** The same values GET /video/result reports at `now`, so a webhook and a poll never disagree. */
function payloadOf(job: Job, now: number, media: string): WebhookPayload {
  const doc = videoResult(job, job.spec as VideoSpec, now, media);
  return {
    id: job.id,
    status: doc.status as number,
    url: doc.url as string,
    size: doc.size as number,
    has_audio: doc.has_audio as boolean,
    credits: doc.credits as number,
  };
}

/** One job's notification, from the create until it is acknowledged or given up. */
interface Delivery {
  apiKey: string;
  webhookId: string;
  traceId: string;
  job: Job;
  /** #sim:webhook-late: extra wait before the first attempt, unscaled. */
  lateMs: number;
  /** Fixed when the job ends; every attempt sends it again. */
  payload: WebhookPayload | null;
  attempt: number;
  timer: NodeJS.Timeout | null;
}

interface Answer {
  ok: boolean;
  httpStatus: number | null;
  at: number;
}

export class Webhooks {
  private readonly hooks = new Map<string, Webhook>();
  private nextId = 100_001;
  /** Deliveries whose job is still generating, by job id: a deletion ends them early. */
  private readonly waiting = new Map<string, Delivery>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<http.ClientRequest>();
  private readonly counts: WebhookStats = {
    scheduled: 0,
    attempts: 0,
    delivered: 0,
    failed: 0,
    abandoned: 0,
    dropped: 0,
    pending: 0,
  };
  private closed = false;
  /** Base URL of result files (Engine.mediaBase), set once the simulator listens. */
  mediaBase = 'http://127.0.0.1';

  constructor(private readonly options: ResolvedOptions) {
    for (const config of options.webhooks) this.create(config);
  }

  create(input: WebhookConfig): Webhook {
    const config = checkConfig(input);
    let id = config.id;
    if (id !== null && this.hooks.has(id))
      throw new WebhookConfigError(`webhook_id ${id} already exists`, 409);
    while (id === null || this.hooks.has(id)) id = String(this.nextId++);
    const hook: Webhook = {
      webhook_id: id,
      url: config.url,
      secret: config.secret ?? alnum(32),
      ...(config.apiKey !== null ? { api_key: config.apiKey } : {}),
    };
    this.hooks.set(id, hook);
    return { ...hook };
  }

  list(): Webhook[] {
    return [...this.hooks.values()].map((hook) => ({ ...hook }));
  }

  get(id: string): Webhook | undefined {
    const hook = this.hooks.get(id);
    return hook ? { ...hook } : undefined;
  }

  /** Pending deliveries to a removed webhook are dropped at their next attempt. */
  remove(id: string): boolean {
    return this.hooks.delete(id);
  }

  /** Whether a create made with `apiKey` may name this webhook. */
  usable(id: string, apiKey: string): boolean {
    const hook = this.hooks.get(id);
    return hook !== undefined && (hook.api_key === undefined || hook.api_key === apiKey);
  }

  /** Called by the engine for each job created with a webhook_id. */
  track(apiKey: string, job: Job, traceId: string, webhookId: string, markers: Markers): void {
    this.counts.scheduled++;
    if (markers.webhookDrop) {
      this.counts.dropped++;
      return;
    }
    const delivery: Delivery = {
      apiKey,
      webhookId,
      traceId,
      job,
      lateMs: markers.webhookLateMs ?? 0,
      payload: null,
      attempt: 0,
      timer: null,
    };
    this.counts.pending++;
    this.waiting.set(job.id, delivery);
    this.waitForEnd(delivery);
  }

  /** The job was marked deleted: if it was still generating, it has ended now, in status 6. */
  deleted(jobId: string): void {
    const delivery = this.waiting.get(jobId);
    if (!delivery) return;
    this.cancel(delivery.timer);
    this.ended(delivery);
  }

  stats(): WebhookStats {
    return { ...this.counts };
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.waiting.clear();
    for (const req of this.inFlight) req.destroy();
    this.inFlight.clear();
  }

  private waitForEnd(delivery: Delivery): void {
    delivery.timer = this.after(delivery.job.endAt - Date.now(), () => this.ended(delivery));
  }

  private ended(delivery: Delivery): void {
    const now = Date.now();
    // Timers run on a monotonic clock and may fire just before Date.now() reaches endAt.
    if (statusAt(delivery.job, now) === 5) {
      this.waitForEnd(delivery);
      return;
    }
    this.waiting.delete(delivery.job.id);
    delivery.payload = payloadOf(delivery.job, now, this.mediaBase);
    if (delivery.lateMs > 0) delivery.timer = this.after(delivery.lateMs, () => this.send(delivery));
    else this.send(delivery);
  }

  private send(delivery: Delivery): void {
    delivery.timer = null;
    if (this.closed) return;
    const hook = this.hooks.get(delivery.webhookId);
    if (!hook) {
      // Deleted from the console meanwhile: there is nowhere to send to.
      this.counts.dropped++;
      this.counts.pending--;
      return;
    }
    const payload = delivery.payload!;
    delivery.attempt++;
    this.counts.attempts++;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = alnum(32);
    const headers = {
      'Content-Type': 'application/json',
      'Webhook-Timestamp': timestamp,
      'Webhook-Nonce': nonce,
      'Webhook-Signature': webhookSignature(hook.secret, timestamp, nonce, { ...payload }),
      'Ai-Trace-Id': delivery.traceId,
    };
    void this.post(hook.url, headers, JSON.stringify(payload)).then((answer) =>
      this.answered(delivery, answer),
    );
  }

  private answered(delivery: Delivery, answer: Answer): void {
    // close() aborted the request: nothing more is counted, reported or retried.
    if (this.closed) return;
    const retry = answer.ok ? undefined : WEBHOOK_RETRY_MS[delivery.attempt - 1];
    const final = retry === undefined;
    if (answer.ok) this.counts.delivered++;
    else this.counts.failed++;
    if (final) {
      this.counts.pending--;
      if (!answer.ok) this.counts.abandoned++;
    } else {
      delivery.timer = this.after(retry * this.options.timeScale, () => this.send(delivery));
    }
    this.report({
      apiKey: delivery.apiKey,
      webhookId: delivery.webhookId,
      videoId: delivery.job.id,
      status: delivery.payload!.status,
      attempt: delivery.attempt,
      ok: answer.ok,
      httpStatus: answer.httpStatus,
      final,
      at: answer.at,
    });
  }

  private report(event: WebhookEvent): void {
    const { onWebhook, logger } = this.options;
    if (logger) {
      const outcome = event.ok ? 'ok' : event.httpStatus === null ? 'no answer' : `HTTP ${event.httpStatus}`;
      logger(
        `webhook ${event.webhookId} video ${event.videoId} status ${event.status} attempt ${event.attempt}: ${outcome}`,
      );
    }
    try {
      onWebhook?.(event);
    } catch {
      // An observer's bug must not stop deliveries.
    }
  }

  /** One attempt; never rejects. Any failure (refused, reset, timeout, bad answer) is `ok: false`. */
  private post(url: string, headers: Record<string, string>, body: string): Promise<Answer> {
    return new Promise((resolve) => {
      let req: http.ClientRequest;
      let deadline: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = (ok: boolean, httpStatus: number | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        this.inFlight.delete(req);
        resolve({ ok, httpStatus, at: performance.now() });
      };
      try {
        const target = new URL(url);
        const client = target.protocol === 'https:' ? https : http;
        // A fresh connection per attempt (agent: false): a pooled socket the receiver has just
        // closed would turn into a spurious failed attempt.
        req = client.request(target, {
          method: 'POST',
          agent: false,
          headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
        });
      } catch {
        resolve({ ok: false, httpStatus: null, at: performance.now() });
        return;
      }
      this.inFlight.add(req);
      deadline = setTimeout(
        () => req.destroy(new Error('webhook receiver timed out')),
        this.options.webhookTimeoutMs,
      );
      deadline.unref();
      req.on('response', (res) => {
        const status = res.statusCode ?? null;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
        });
        res.on('end', () =>
          finish(
            status === 200 && size <= MAX_ANSWER_BYTES && Buffer.concat(chunks).toString('utf8') === 'ok',
            status,
          ),
        );
        res.on('error', () => finish(false, status));
        // Closed before the end (reset mid-body, timeout): not an acknowledgement.
        res.on('close', () => finish(false, status));
      });
      req.on('error', () => finish(false, null));
      req.end(body);
    });
  }

  private after(ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        try {
          run();
        } catch (err) {
          // A bug here must cost one delivery, never the process.
          this.options.logger?.(`webhook error: ${err instanceof Error ? err.message : String(err)}`);
        }
      },
      Math.min(MAX_TIMER_MS, Math.max(0, ms)),
    );
    timer.unref();
    this.timers.add(timer);
    return timer;
  }

  private cancel(timer: NodeJS.Timeout | null): void {
    if (timer === null) return;
    clearTimeout(timer);
    this.timers.delete(timer);
  }
}
