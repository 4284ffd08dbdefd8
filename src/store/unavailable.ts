/**
 * Recognises "the store cannot answer right now" among store errors, so callers answer 503 with
 * Retry-After (the request may simply be retried) instead of 500, and background loops know to
 * wait rather than report a bug. Anything not listed here is a real failure.
 */

/** SQLite: another connection (process) holds the lock past busy_timeout. */
const SQLITE_CODES = /^SQLITE_(BUSY|LOCKED)(_|$)/;

/** Node socket errors seen by pg when the server or the path to it is gone. */
const NET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL SQLSTATEs: class 08 (connection exception), 57P01–57P03 (admin/crash shutdown, cannot
 * connect now: the server is restarting), 53300 (too many connections).
 */
function isPgUnavailableState(code: string): boolean {
  return (
    code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300'
  );
}

/** pg's own messages for a connection that died or could not be opened in time (no code attached). */
const PG_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly|not queryable/i;

export function isStoreUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (SQLITE_CODES.test(code) || NET_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code) && isPgUnavailableState(code)) return true;
  }
  if (typeof message === 'string' && PG_MESSAGES.test(message)) return true;
  const cause = (err as { cause?: unknown }).cause;
  return cause !== undefined && cause !== err && isStoreUnavailable(cause);
}

/** Seconds a client should wait before retrying a request the store could not serve. */
export const STORE_RETRY_AFTER_S = 2;

/**
 * Runs `write` again while the store is unavailable (up to `giveUpMs`), for a write that records
 * something already done upstream — a submit the provider accepted — and so must not be dropped by
 * a brief outage: losing it would leave the job `submitting` until the age rule reconciles it.
 */
export async function retryWhileUnavailable<T>(
  write: () => Promise<T>,
  giveUpMs = 60_000,
  sleep = (ms: number) => new Promise((r) => setTimeout(r, ms)),
): Promise<T> {
  const deadline = Date.now() + giveUpMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    try {
      return await write();
    } catch (err) {
      if (!isStoreUnavailable(err) || Date.now() + delay > deadline) throw err;
      await sleep(delay);
    }
  }
}
