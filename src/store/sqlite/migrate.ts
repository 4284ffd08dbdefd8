/** Applies the numbered migrations of migrations.ts, safely when several processes open one file at once. */
import { immediate, type Db } from './database.ts';
import { LEGACY_VERSION_3, MIGRATIONS } from './migrations.ts';

/**
 * Before the numbering was shared with PostgreSQL, SQLite numbered the same changes 1–7 (it had no
 * entries for PostgreSQL's 3, 6 and 8). Such a file is recognised by the name it recorded at version 3
 * (migrations run in order, so any file past old version 2 has that row) and its versions are moved
 * to the shared numbers, highest first so no moved row meets one not yet moved. The statement-less
 * steps it lacks are then simply recorded by the loop below: nothing re-runs, nothing is skipped.
 */
const LEGACY_RENUMBERING: readonly (readonly [number, number])[] = [
  [7, 10],
  [6, 9],
  [5, 7],
  [4, 5],
  [3, 4],
];

function renumberLegacy(db: Db): void {
  const third = db.prepare('SELECT name FROM schema_migrations WHERE version = 3').get() as
    | { name: string }
    | undefined;
  if (third?.name !== LEGACY_VERSION_3) return;
  const move = db.prepare('UPDATE schema_migrations SET version = ? WHERE version = ?');
  for (const [from, to] of LEGACY_RENUMBERING) move.run(to, from);
}

/**
 * Applies every pending migration inside one BEGIN IMMEDIATE transaction. Two processes opening
 * the same file at once serialize on the write lock: the second waits (busy_timeout), then reads
 * `schema_migrations` after the first committed and finds nothing left to do.
 * Returns the versions applied by this call.
 */
export function migrate(db: Db, now: number = Date.now()): number[] {
  const run = immediate(db, () => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    renumberLegacy(db);
    const done = new Set(
      (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
        (r) => r.version,
      ),
    );
    const applied: number[] = [];
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      if (m.sql !== '') db.exec(m.sql);
      record.run(m.version, m.name, now);
      applied.push(m.version);
    }
    return applied;
  });
  return run();
}
