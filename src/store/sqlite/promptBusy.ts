/**
 * A serving process's SQLite store that does not stall while another process holds the write lock.
 *
 * better-sqlite3 is synchronous: its busy wait (busy_timeout) blocks the whole event loop, so with
 * the 5 s wait a lock held by another process (a backup, a maintenance script) froze every request
 * for 5 s per write and the gateway answered almost nothing, not even 503. Here the connection
 * waits only briefly in SQLite, and a busy write is retried asynchronously (the event loop keeps
 * serving reads, which WAL never blocks) for a bounded time; then the SQLITE_BUSY error goes to
 * the caller, which answers 503 with Retry-After on the request path and tries again later in the
 * background loops.
 *
 * A retry is safe because every Store method is one transaction or one statement, so a busy
 * failure changed nothing; `total_changes()` is checked anyway, and a call that did change rows
 * before failing is never repeated.
 */
import type { Db } from './database.ts';
import type { SqliteStore } from './store.ts';

export interface PromptBusyOptions {
  /** SQLite's own (blocking) wait per attempt. */
  busyTimeoutMs: number;
  /** How long a busy call is retried asynchronously before its error is returned. */
  retryForMs: number;
}

export const PROMPT_BUSY: PromptBusyOptions = { busyTimeoutMs: 20, retryForMs: 750 };

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)(_|$)/.test(code);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function promptBusyStore(store: SqliteStore, options: PromptBusyOptions = PROMPT_BUSY): SqliteStore {
  const db: Db = store.db;
  db.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
  const changes = db.prepare('SELECT total_changes() AS n').pluck();
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'close') return value;
      let fn = wrapped.get(property);
      if (!fn) {
        const method = value as (...args: unknown[]) => unknown;
        const retry = async (args: unknown[], before: number, err: unknown): Promise<unknown> => {
          const deadline = Date.now() + options.retryForMs;
          for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
            if (
              !isBusy(err) ||
              !db.open ||
              Date.now() + delay > deadline ||
              (changes.get() as number) !== before
            )
              throw err;
            await sleep(delay);
            before = changes.get() as number;
            try {
              return await method.apply(target, args);
            } catch (again) {
              err = again;
            }
          }
        };
        fn = (...args: unknown[]) => {
          const before = db.open ? (changes.get() as number) : 0;
          const result = method.apply(target, args);
          // Synchronous members (setOutboxBuilder) pass through untouched.
          if (!(result instanceof Promise)) return result;
          return result.catch((err: unknown) => retry(args, before, err));
        };
        wrapped.set(property, fn);
      }
      return fn;
    },
  });
}
