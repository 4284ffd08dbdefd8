/** Applies the numbered migrations of migrations.ts, safely when several instances start at once. */
import type pg from 'pg';
import { MIGRATIONS } from './migrations.ts';
import { withTransaction } from './pool.ts';

/**
 * Class id of the advisory lock that serialises migrations. The second key is the schema, so
 * instances migrating different schemas (tests, several deployments on one server) do not wait
 * for each other, while every instance of one deployment does.
 */
const MIGRATION_LOCK_CLASS = 0x70697867; // "pixg"

/**
 * Applies the missing migrations in one transaction under a transaction-scoped advisory lock.
 * When several instances start at once on an empty database, the first one to get the lock
 * creates everything; the others wait on the lock, then find every version recorded and do
 * nothing. Because the lock is taken before the bookkeeping table is even created, no two
 * sessions ever race on CREATE TABLE. If a migration fails the transaction rolls back whole.
 */
export async function migrate(pool: pg.Pool): Promise<void> {
  await withTransaction(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))", [
      MIGRATION_LOCK_CLASS,
    ]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS pixgate_migrations (
        version     INTEGER PRIMARY KEY,
        name        TEXT NOT NULL,
        applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
      )`);
    const done = await client.query<{ version: number }>('SELECT version FROM pixgate_migrations');
    const applied = new Set(done.rows.map((row) => row.version));
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO pixgate_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
    }
  });
}
