/**
 * Failures the services turn into engine outcomes: a provider refusal (by its error class) and a
 * store that cannot answer right now. The HTTP layer maps the outcomes (http/outcomes.ts).
 */
import { EngineError, type Outcome } from '../domain/outcomes.ts';
import { isStoreUnavailable, STORE_RETRY_AFTER_S } from '../store/unavailable.ts';
import { UpstreamError, type UpstreamErrorClass } from '../scheduler/provider.ts';

/** What a provider error class means for the request that met it. */
const PROVIDER_OUTCOMES: Readonly<Record<UpstreamErrorClass, Outcome>> = {
  concurrency_limit: 'concurrency_limit',
  rate_limit: 'rate_limit',
  out_of_credits: 'out_of_credits',
  moderation: 'moderation',
  bad_request: 'invalid',
  auth: 'account_error',
  not_found: 'not_found',
  transient: 'transient',
};

export const isProviderError = (err: unknown): err is UpstreamError => err instanceof UpstreamError;

/**
 * A provider refusal as an engine outcome with the caller's words for it; anything that is not a
 * provider error is returned as it is.
 */
export function providerRefusal(err: unknown, message: (err: UpstreamError) => string): unknown {
  if (!(err instanceof UpstreamError)) return err;
  return new EngineError(PROVIDER_OUTCOMES[err.errorClass], message(err));
}

/**
 * The store is restarting, unreachable or locked by another process: nothing was lost or done
 * half (every write is one transaction), so the client may retry the same request.
 */
export function storeRefusal(err: unknown): EngineError | null {
  if (!isStoreUnavailable(err)) return null;
  return new EngineError(
    'store_unavailable',
    'Service temporarily unavailable: the job store cannot be reached; retry shortly',
    STORE_RETRY_AFTER_S,
  );
}
