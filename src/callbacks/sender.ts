/**
 * One HTTP attempt of one callback: POST the body with its signature headers through an undici
 * Agent whose connect-time DNS lookup is the SSRF guard, never following redirects, within a
 * timeout. Classifies the response into an AttemptOutcome (retry.ts decides what comes next).
 */
import { Agent, request } from 'undici';
import {
  BlockedTargetError,
  checkUrlShape,
  guardedLookup,
  UnresolvedHostError,
  type CallbackPolicy,
} from './ssrf.ts';
import { parseRetryAfter, type AttemptOutcome } from './retry.ts';

export const USER_AGENT = 'Pixgate-Webhooks/1.0';
/**
 * A delivery's lastError is shown to the tenant, so it holds the status and our own words only:
 * never the receiver's answer, its Location, or the address connected to. Echoing them turned
 * callbacks into a probe of internal services (answer bodies and resolved IPs came back).
 */

export interface SenderOptions {
  policy: CallbackPolicy;
  timeoutMs: number;
  /** Parallel connections per receiver origin. */
  connectionsPerOrigin?: number;
}

export class CallbackSender {
  private readonly agent: Agent;

  constructor(private readonly opts: SenderOptions) {
    this.agent = new Agent({
      connect: { lookup: guardedLookup(opts.policy), timeout: opts.timeoutMs },
      connections: opts.connectionsPerOrigin ?? 16,
      keepAliveTimeout: 4_000,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
  }

  async send(
    url: string,
    body: string,
    headers: Record<string, string>,
    nowMs: () => number = Date.now,
  ): Promise<AttemptOutcome> {
    try {
      // IP literals never reach the agent's lookup, so they are checked here on every attempt.
      checkUrlShape(url, this.opts.policy);
    } catch (err) {
      if (err instanceof BlockedTargetError)
        return { delivered: false, status: null, error: err.message, final: err.permanent };
      throw err;
    }
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.opts.timeoutMs);
    try {
      const res = await request(url, {
        dispatcher: this.agent,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...headers },
        body,
        signal: abort.signal,
      });
      const status = res.statusCode;
      if (status >= 200 && status < 300) {
        await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
        return { delivered: true, status };
      }
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      if (status >= 300 && status < 400)
        return { delivered: false, status, error: `HTTP ${status}: redirects are not followed` };
      if (status === 410)
        return {
          delivered: false,
          status,
          error: 'HTTP 410 Gone: the receiver asked for no more callbacks',
          final: true,
        };
      if (status === 429 || status === 503) {
        const retryAfterMs = parseRetryAfter(res.headers['retry-after'], nowMs());
        const honoured = retryAfterMs === null ? '' : ` (Retry-After ${Math.round(retryAfterMs / 1000)} s)`;
        return { delivered: false, status, error: `HTTP ${status}${honoured}`, retryAfterMs };
      }
      return { delivered: false, status, error: `HTTP ${status}` };
    } catch (err) {
      if (abort.signal.aborted)
        return { delivered: false, status: null, error: `timed out after ${this.opts.timeoutMs} ms` };
      return { delivered: false, status: null, ...describeFailure(err) };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function describeFailure(err: unknown): { error: string; final?: boolean } {
  const blocked = findCause(err, (e) => e instanceof BlockedTargetError) as BlockedTargetError | undefined;
  if (blocked instanceof UnresolvedHostError) return { error: blocked.message };
  if (blocked)
    return { error: `connection refused by the SSRF guard: ${blocked.message}`, final: blocked.permanent };
  const e = err as NodeJS.ErrnoException;
  const code =
    e?.code ??
    (
      findCause(err, (c) => typeof (c as NodeJS.ErrnoException)?.code === 'string') as
        | NodeJS.ErrnoException
        | undefined
    )?.code;
  if (
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT'
  ) {
    return { error: `timed out (${code})` };
  }
  // System errors name the address and port connected to (`connect ECONNREFUSED 10.0.0.5:80`):
  // keep the code only.
  if (code) return { error: `connection failed (${code})` };
  return { error: 'connection failed' };
}

function findCause(err: unknown, match: (e: unknown) => boolean): unknown {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++)
    if (match(e)) return e;
  return undefined;
}
