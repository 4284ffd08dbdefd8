/**
 * Per-token rate limit: a token bucket per API token, refilled continuously at `perSecond` up to
 * `burst`. One process's view only: with N instances behind a balancer a token gets up to N times
 * the rate, which is what an operator sizing per instance expects; the limit exists so one
 * runaway client cannot starve the others, not as billing.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors.ts';

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<number, Bucket>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.perSecond > 0;
  }

  /** 0 when the request may go ahead, otherwise seconds until it would. */
  take(key: number): number {
    if (!this.enabled) return 0;
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    // Bounded memory: idle buckets are full anyway, so forgetting them changes nothing.
    if (this.buckets.size > 50_000) this.prune(now);
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond));
  }

  private prune(now: number): void {
    const fullAfterMs = (this.burst / this.perSecond) * 1000;
    for (const [key, bucket] of this.buckets) if (now - bucket.at > fullAfterMs) this.buckets.delete(key);
  }
}

/** onRequest hook after authentication: 429 with Retry-After once the caller's token is over its rate. */
export function rateLimitHook(limiter: RateLimiter) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.caller) return;
    const wait = limiter.take(request.caller.tokenId);
    if (wait > 0) return sendError(reply, 429, `Too many requests for this token; retry in ${wait} s`, wait);
  };
}
