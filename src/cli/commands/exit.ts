/**
 * Exit codes of the client commands, stable so scripts can branch on them:
 * 0 ok · 1 usage or rejected input · 2 auth · 3 not found · 4 job failed/moderated/cancelled/
 * timed out · 5 busy (429, out of credits) · 6 gateway unreachable · 7 gateway error (5xx, 596)
 * or another failure (a download that broke off, a directory that cannot be written) ·
 * 8 --timeout passed while waiting (the job keeps running).
 */
import {
  JobFailedError,
  PixgateError,
  PixgateUnreachableError,
  WaitTimeoutError,
} from '../../client/errors.ts';

export const EXIT = {
  ok: 0,
  usage: 1,
  auth: 2,
  notFound: 3,
  jobFailed: 4,
  busy: 5,
  unreachable: 6,
  gateway: 7,
  waitTimeout: 8,
} as const;

/** Wrong or missing arguments found by the command itself (commander reports its own with 1). */
export class UsageError extends Error {}

export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof JobFailedError) return EXIT.jobFailed;
  if (err instanceof WaitTimeoutError) return EXIT.waitTimeout;
  if (err instanceof PixgateUnreachableError) return EXIT.unreachable;
  if (err instanceof PixgateError) {
    if (err.isAuth) return EXIT.auth;
    if (err.isNotFound) return EXIT.notFound;
    if (err.isBusy) return EXIT.busy;
    if (err.status === 422) return EXIT.jobFailed;
    if (err.status >= 400 && err.status < 500) return EXIT.usage;
    return EXIT.gateway;
  }
  return EXIT.gateway;
}

/**
 * Wraps a command action: an error prints as `pixgate: <message>` (the gateway's own message
 * for HTTP errors) and sets the exit code; exiting through process.exitCode lets stdout drain.
 */
export function run<A extends unknown[]>(
  action: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (err) {
      const status = err instanceof PixgateError ? ` (HTTP ${err.status})` : '';
      process.stderr.write(`pixgate: ${err instanceof Error ? err.message : String(err)}${status}\n`);
      process.exitCode = exitCodeOf(err);
    }
  };
}
