/**
 * What the engine, a provider or an application service tells its caller when it refuses or
 * fails a request: an outcome by name, never an HTTP status. The HTTP layer owns the one table
 * that turns an outcome into a status, an envelope and a Retry-After (http/outcomes.ts), so a
 * rule such as "every 429 carries Retry-After" lives in one place.
 */
export type Outcome =
  /** The request itself is wrong (a field, a reference the provider does not know). */
  | 'invalid'
  /** The request names another tenant's object. */
  | 'forbidden'
  /** The object (account, job, delivery, tenant) does not exist. */
  | 'not_found'
  /** The object is in a state that does not allow the operation now. */
  | 'conflict'
  /** Every slot the request may use is taken. */
  | 'busy'
  /** The account cools down after an upstream back-off. */
  | 'cooling_down'
  /** The tenant's queue holds as many jobs as it may. */
  | 'queue_full'
  /** The provider reported its concurrency limit (a slot is used elsewhere). */
  | 'concurrency_limit'
  /** The provider is rate limiting the account. */
  | 'rate_limit'
  /** The account has no credits left. */
  | 'out_of_credits'
  /** The provider's moderation refused the request. */
  | 'moderation'
  /** The credentials a caller just supplied were rejected by the provider. */
  | 'bad_credentials'
  /** The account cannot be used until it is re-posted (rejected key, ban, undecryptable key). */
  | 'account_error'
  /** The provider failed or could not be reached. */
  | 'transient'
  /** The job store cannot answer right now; nothing was done half. */
  | 'store_unavailable';

export class EngineError extends Error {
  constructor(
    readonly outcome: Outcome,
    message: string,
    /** Seconds to wait before a retry, when the refusal knows better than the table's default. */
    readonly retryAfterS: number | null = null,
    /** Fields added to the error envelope (e.g. `queued` on a full queue). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'EngineError';
  }
}
