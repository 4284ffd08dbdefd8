/**
 * Runs the shared operations (../sql/op.ts) on one better-sqlite3 connection, synchronously: an
 * operation's statements run back to back inside one call, so no other caller's statement can land
 * between them, and `write` wraps them in `BEGIN IMMEDIATE` (see database.ts `immediate`).
 */
import { sqliteDialect } from '../sql/dialect.ts';
import type { Exec, Op } from '../sql/op.ts';
import { immediate, type Db, type StatementCache } from './database.ts';
import type { GroupCommit } from './groupCommit.ts';

/** `$1`, `$2`, … are SQLite named parameters; better-sqlite3 binds them from an object keyed 1, 2, … */
function named(params: readonly unknown[]): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  params.forEach((value, i) => {
    out[i + 1] = value;
  });
  return out;
}

export class SqliteExec implements Exec {
  readonly d = sqliteDialect;
  private readonly tx: <T>(op: () => Op<T>) => T;

  constructor(
    db: Db,
    private readonly sql: StatementCache,
    /** When given, writes share transactions with the others of the same event-loop turn. */
    private readonly group: GroupCommit | null = null,
  ) {
    const inTx = immediate(db, (op: () => Op<unknown>) => this.runSync(op()));
    this.tx = <T>(op: () => Op<T>) => inTx(op) as T;
  }

  /** Drives `op` to its end now; inside a transaction when the caller is in one. */
  runSync<T>(op: Op<T>): T {
    let step = op.next();
    while (!step.done) {
      const s = step.value;
      let answer: unknown;
      if (s.kind === 'all')
        answer = s.params.length === 0 ? this.sql.get(s.sql).all() : this.sql.get(s.sql).all(named(s.params));
      else if (s.kind === 'run')
        answer = (
          s.params.length === 0 ? this.sql.get(s.sql).run() : this.sql.get(s.sql).run(named(s.params))
        ).changes;
      step = op.next(answer);
    }
    return step.value;
  }

  async read<T>(op: () => Op<T>): Promise<T> {
    return this.runSync(op());
  }

  async write<T>(op: () => Op<T>): Promise<T> {
    return this.group ? this.group.run(() => this.tx(op)) : this.tx(op);
  }

  async writeAlone<T>(op: () => Op<T>): Promise<T> {
    return this.group ? this.group.run(() => this.tx(op)) : this.runSync(op());
  }
}
