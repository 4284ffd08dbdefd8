/**
 * Runs the shared operations (../sql/op.ts) on PostgreSQL: `read` on the pool (each statement
 * autocommits on whichever connection is free), `write` in one READ COMMITTED transaction on one
 * client (pool.ts withTransaction: locks held until COMMIT, rerun on deadlock). A NOTIFY is sent
 * inside the transaction, so listeners hear of a change exactly when (and only if) it commits.
 */
import type pg from 'pg';
import { postgresDialect } from '../sql/dialect.ts';
import type { Exec, Op } from '../sql/op.ts';
import type { Channels } from './notify.ts';
import { withTransaction, type Queryable } from './pool.ts';

/** Drives `op` on `db` (the pool, or a client inside the caller's transaction). */
export async function runOn<T>(db: Queryable, channels: Channels, op: Op<T>): Promise<T> {
  let step = op.next();
  while (!step.done) {
    const s = step.value;
    let answer: unknown;
    if (s.kind === 'notify')
      await db.query('SELECT pg_notify($1, $2)', [channels[s.channel], JSON.stringify(s.payload)]);
    else {
      const res = await db.query(s.sql, s.params as unknown[]);
      answer = s.kind === 'all' ? res.rows : (res.rowCount ?? 0);
    }
    step = op.next(answer);
  }
  return step.value;
}

export class PostgresExec implements Exec {
  readonly d = postgresDialect;

  constructor(
    private readonly pool: pg.Pool,
    private readonly channels: Channels,
  ) {}

  read<T>(op: () => Op<T>): Promise<T> {
    return runOn(this.pool, this.channels, op());
  }

  write<T>(op: () => Op<T>): Promise<T> {
    return withTransaction(this.pool, (client) => runOn(client, this.channels, op()));
  }

  writeAlone<T>(op: () => Op<T>): Promise<T> {
    return this.read(op);
  }
}
