/**
 * The one table from engine outcomes to HTTP answers: status and default Retry-After. Every
 * route and the error handler answer through it; nothing else in the gateway picks a status
 * for an engine, provider or store failure.
 */
import { GatewayError } from '../domain/errors.ts';
import { EngineError, type Outcome } from '../domain/outcomes.ts';

export interface HttpAnswer {
  status: number;
  /** Sent as Retry-After when the refusal does not carry its own wait. */
  retryAfterS: number | null;
}

const answer = (status: number, retryAfterS: number | null = null): HttpAnswer => ({ status, retryAfterS });

export const OUTCOME_ANSWERS: Readonly<Record<Outcome, HttpAnswer>> = {
  invalid: answer(400),
  bad_credentials: answer(401),
  forbidden: answer(403),
  not_found: answer(404),
  conflict: answer(409),
  out_of_credits: answer(412),
  moderation: answer(422),
  // Every 429 carries Retry-After: these defaults apply when the refusal cannot estimate better.
  busy: answer(429, 5),
  cooling_down: answer(429, 5),
  queue_full: answer(429, 5),
  concurrency_limit: answer(429, 5),
  rate_limit: answer(429, 5),
  transient: answer(502),
  // The refusal carries the store's own wait (store/unavailable.ts); this is the fallback.
  store_unavailable: answer(503, 2),
  // useapi's status for an account in error state.
  account_error: answer(596),
};

export interface ErrorAnswer {
  status: number;
  message: string;
  retryAfterS: number | null;
  extra: Record<string, unknown>;
}

/** The HTTP answer for a known refusal, null for anything else (a bug: 500). */
export function answerFor(err: unknown): ErrorAnswer | null {
  if (err instanceof EngineError) {
    const { status, retryAfterS } = OUTCOME_ANSWERS[err.outcome];
    return { status, message: err.message, retryAfterS: err.retryAfterS ?? retryAfterS, extra: err.extra };
  }
  if (err instanceof GatewayError)
    return { status: err.status, message: err.message, retryAfterS: err.retryAfterS, extra: err.extra };
  return null;
}
