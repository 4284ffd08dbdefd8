/**
 * Statements written once for both dialects. An operation is a generator that yields the SQL it
 * wants run and receives the answer: the SQLite driver runs it synchronously inside one
 * better-sqlite3 call (so nothing else on the connection can interleave with a transaction),
 * the PostgreSQL driver runs it with awaits on one client. The statements themselves are written
 * with `$1`-style parameters, which both engines accept (SQLite reads `$1` as a named parameter).
 */
import type { Dialect } from './dialect.ts';

/** A wake-up for other instances (PostgreSQL NOTIFY, sent at commit); SQLite has nobody to wake. */
export type ChannelKind = 'slots' | 'jobs' | 'queue' | 'deliveries';

export type Step =
  | { kind: 'all'; sql: string; params: readonly unknown[] }
  | { kind: 'run'; sql: string; params: readonly unknown[] }
  | { kind: 'notify'; channel: ChannelKind; payload: Record<string, unknown> };

export type Op<T> = Generator<Step, T, unknown>;

/** Rows of a statement (SELECT, or a write with RETURNING). */
export function* all<R>(sql: string, params: readonly unknown[] = []): Op<R[]> {
  return (yield { kind: 'all', sql, params }) as R[];
}

/** First row of a statement, or undefined. */
export function* one<R>(sql: string, params: readonly unknown[] = []): Op<R | undefined> {
  const rows = yield* all<R>(sql, params);
  return rows[0];
}

/** A write without RETURNING; answers the number of rows changed. */
export function* run(sql: string, params: readonly unknown[] = []): Op<number> {
  return (yield { kind: 'run', sql, params }) as number;
}

export function* notify(channel: ChannelKind, payload: Record<string, unknown>): Op<void> {
  yield { kind: 'notify', channel, payload };
}

/**
 * Runs operations. `read` runs an operation's statements as they come (autocommit: a single
 * statement is atomic on its own, and reads never wait for writers); `write` runs the whole
 * operation in one write transaction (SQLite `BEGIN IMMEDIATE`; PostgreSQL `BEGIN`, with the row
 * locks the statements take themselves). `d` is the dialect the statements are built for.
 */
export interface Exec {
  readonly d: Dialect;
  read<T>(op: () => Op<T>): Promise<T>;
  /** Takes a factory: PostgreSQL reruns the whole transaction after a deadlock. */
  write<T>(op: () => Op<T>): Promise<T>;
  /**
   * A write whose statements are each atomic on their own (one fenced UPDATE, say) and need no
   * transaction around them. PostgreSQL runs them as `read` does (no BEGIN/COMMIT round trips);
   * SQLite lets them share the next group commit instead of committing each alone (a poll's
   * reschedule was one commit per poll: on bench/creates.ts, commits per job, shared COMMITs and
   * autocommits together, went from 1.16 to 0.61).
   */
  writeAlone<T>(op: () => Op<T>): Promise<T>;
}
