/** Failures a client of the gateway can act on, distinguished by class rather than by message. */

/** The gateway answered with its error envelope `{ error, code }` (or some other non-2xx). */
export class PixgateError extends Error {
  override readonly name = 'PixgateError';
  constructor(
    /** HTTP status of the answer. */
    readonly status: number,
    message: string,
    /** Seconds from `Retry-After`, when the gateway sent one (429, 503). */
    readonly retryAfterS: number | null,
    /** The parsed answer body, for extra fields beyond `error` and `code`. */
    readonly body: unknown,
  ) {
    super(message);
  }

  get isAuth(): boolean {
    return this.status === 401 || this.status === 403;
  }
  get isNotFound(): boolean {
    return this.status === 404;
  }
  /** No capacity now: busy (429) or an account out of credits (412). */
  get isBusy(): boolean {
    return this.status === 429 || this.status === 412 || this.status === 503;
  }
}

/** The gateway (or a download host) could not be reached at all: DNS, refused, reset, timeout. */
export class PixgateUnreachableError extends Error {
  override readonly name = 'PixgateUnreachableError';
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`cannot reach ${url}: ${describeCause(cause)}`, { cause });
  }
}

/** A job the caller waited for ended without a result. */
export class JobFailedError extends Error {
  override readonly name = 'JobFailedError';
  constructor(
    readonly jobId: string,
    /** Gateway state: failed, moderated, cancelled or timed_out. */
    readonly state: string,
    readonly reason: string | null,
  ) {
    super(`job ${jobId} ended ${state}${reason ? `: ${reason}` : ''}`);
  }
}

/** waitForJob gave up; the job itself keeps running. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
  constructor(
    readonly jobId: string,
    readonly state: string,
    readonly waitedMs: number,
  ) {
    super(`job ${jobId} is still ${state} after waiting ${Math.round(waitedMs / 1000)} s`);
  }
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  // fetch wraps the socket error ("fetch failed"); the inner one says what happened.
  const inner = cause.cause;
  if (inner instanceof Error) {
    const code = (inner as NodeJS.ErrnoException).code;
    return code ? `${code} ${inner.message}` : inner.message;
  }
  return cause.message;
}
