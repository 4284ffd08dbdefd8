/**
 * Errors with the status and message a client sees, in useapi's envelope
 * `{ "error": "...", "code": <status> }`. 429s carry a Retry-After in seconds.
 */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterS: number | null = null,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

export const badRequest = (message: string) => new GatewayError(400, message);
export const notFound = (message: string) => new GatewayError(404, message);
