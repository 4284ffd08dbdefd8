/**
 * Failures that are not PixVerse envelopes: HTTP 429 from a rate limiter, HTTP 502 from a proxy,
 * and a create that is never answered. Thrown by handlers and turned into replies by server.ts.
 *
 * Rate limiting is modelled as HTTP 429 "Too Many Requests" with `Retry-After: 1` and a plain-text
 * body (no envelope), as a front proxy or API gateway answers; the Platform documents no rate-limit
 * ErrCode, and an adapter classifies a bare 429 as a rate limit.
 */
import type { FrontRejection } from './markers.ts';
import type { ResolvedOptions } from './options.ts';
import type { Rng } from './random.ts';
import { ERR, SimError } from './envelope.ts';

/** A reply with a raw body and status (not an envelope). */
export class RawReply extends Error {
  constructor(
    readonly status: number,
    readonly contentType: string,
    readonly text: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
    this.name = 'RawReply';
  }
}

/** The request was handled (a job may exist) but is never answered. */
export class NoReply extends Error {
  constructor() {
    super('no reply (simulated timeout)');
    this.name = 'NoReply';
  }
}

/** The request was handled (its job exists) and then its connection is reset, unanswered. */
export class ResetReply extends Error {
  constructor() {
    super('connection reset (simulated)');
    this.name = 'ResetReply';
  }
}

export function rateLimited(): RawReply {
  return new RawReply(429, 'text/plain; charset=utf-8', 'Too Many Requests', { 'retry-after': '1' });
}

export function badGateway(): RawReply {
  return new RawReply(
    502,
    'text/html; charset=utf-8',
    '<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>',
  );
}

/** A front-door marker as the refusal it stands for. */
export function frontRefusal(front: FrontRejection): Error {
  if (front === 'rate-limit') return rateLimited();
  if (front === 'http502') return badGateway();
  return new SimError(ERR.invalidAccount, 'invalid account (simulated)');
}

/** The random front-door failures (`rateLimitRate`, `transientRate`) for one API request, if any. */
export function randomFrontFailure(options: ResolvedOptions, rng: Rng): RawReply | null {
  if (options.rateLimitRate > 0 && rng() < options.rateLimitRate) return rateLimited();
  if (options.transientRate > 0 && rng() < options.transientRate) return badGateway();
  return null;
}
