/**
 * Migration numbering shared by SQLite and PostgreSQL, and the upgrade of databases migrated under the
 * numbering each dialect had before (SQLite 1–7, PostgreSQL 1–10): nothing re-runs (a re-run CREATE
 * TABLE would fail the migration), nothing is skipped (the later steps' objects exist and work).
 * Needs a real PostgreSQL for the second half (PIXGATE_TEST_DATABASE_URL).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { MIGRATIONS as PG_MIGRATIONS, openPostgresStore } from '../../src/store/postgres/index.ts';
import { MIGRATIONS as SQLITE_MIGRATIONS, openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { Store } from '../../src/store/store.ts';
import { TEST_DATABASE_URL, dropSchema, freshSchema } from '../helpers/processes.ts';

const T0 = 1_700_000_000_000;

/** SQLite's list as it was numbered before: [old version, old name, shared version]. */
const OLD_SQLITE: readonly [number, string, number][] = [
  [1, 'initial schema', 1],
  [2, 'queue, fairness, tenant settings, webhook secrets, callbacks outbox', 2],
  [3, 'queue rank (least laxity first), PixVerse account webhooks, expedited polls', 4],
  [4, 'idempotency keys', 5],
  [5, 'untracked jobs keep their result; deleted jobs leave lists and reads', 7],
  [6, 'recent failures of a tenant (dashboard)', 9],
  [7, 'PixVerse webhook receipts (replay guard)', 10],
];

/** The objects of the last steps work: a webhook receipt round trip and a failures read. */
async function laterStepsWork(store: Store): Promise<void> {
  await store.recordWebhookReceipt('r1', T0 + 1000, T0);
  assert.equal(await store.webhookReceiptSeen('r1', T0), true);
  const user = await store.createUser('t', T0, 'whsec_test');
  assert.deepEqual(await store.recentFailures(user.id, 0, 10), []);
  assert.equal(await store.pendingMigrations(), 0);
}

describe('migration numbering', () => {
  it('is the same in both dialects: version N names one change, numbered 1, 2, … without gaps', () => {
    const shape = (list: readonly { version: number; name: string }[]) =>
      list.map((m) => `${m.version} ${m.name}`);
    assert.deepEqual(shape(SQLITE_MIGRATIONS), shape(PG_MIGRATIONS));
    assert.deepEqual(
      SQLITE_MIGRATIONS.map((m) => m.version),
      SQLITE_MIGRATIONS.map((_, i) => i + 1),
    );
  });

  for (const upTo of [7, 5, 3]) {
    it(`upgrades a SQLite file migrated to old version ${upTo} by the old numbering`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'pixgate-mig-'));
      try {
        const path = join(dir, 'old.db');
        const old = new Database(path);
        old.exec(
          'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
        );
        for (const [version, name, shared] of OLD_SQLITE.filter(([v]) => v <= upTo)) {
          old.exec(SQLITE_MIGRATIONS.find((m) => m.version === shared)!.sql);
          old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(version, name, T0);
        }
        old.close();
        const store = await openSqliteStore(path);
        try {
          const rows = store.db
            .prepare('SELECT version, applied_at FROM schema_migrations ORDER BY version')
            .all() as { version: number; applied_at: number }[];
          assert.deepEqual(
            rows.map((r) => r.version),
            SQLITE_MIGRATIONS.map((m) => m.version),
          );
          // Steps that ran under the old numbering keep their record (moved, not re-applied).
          const kept = OLD_SQLITE.filter(([v]) => v <= upTo).map(([, , shared]) => shared);
          for (const r of rows)
            assert.equal(r.applied_at === T0, kept.includes(r.version), `version ${r.version}`);
          assert.equal(store.db.pragma('integrity_check', { simple: true }), 'ok');
          await laterStepsWork(store);
        } finally {
          await store.close();
        }
        // Opening again changes nothing.
        const again = await openSqliteStore(path);
        assert.equal(await again.pendingMigrations(), 0);
        await again.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  for (const upTo of [10, 8]) {
    it(`upgrades a PostgreSQL schema migrated to version ${upTo} by the old numbering`, async () => {
      const schema = freshSchema();
      const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await admin.connect();
      try {
        await admin.query(
          `CREATE SCHEMA ${pg.escapeIdentifier(schema)}; SET search_path TO ${pg.escapeIdentifier(schema)}`,
        );
        await admin.query(
          `CREATE TABLE pixgate_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
        );
        for (const m of PG_MIGRATIONS.filter((x) => x.version <= upTo)) {
          await admin.query(m.sql);
          await admin.query(
            `INSERT INTO pixgate_migrations (version, name, applied_at) VALUES ($1, $2, 'epoch')`,
            [m.version, m.name],
          );
        }
        const store = await openPostgresStore(TEST_DATABASE_URL, { schema });
        try {
          await store.migrate();
          const rows = (
            await admin.query<{ version: number; old: boolean }>(
              `SELECT version, applied_at = 'epoch' AS old FROM pixgate_migrations ORDER BY version`,
            )
          ).rows;
          assert.deepEqual(
            rows.map((r) => r.version),
            PG_MIGRATIONS.map((m) => m.version),
          );
          for (const r of rows) assert.equal(r.old, r.version <= upTo, `version ${r.version}`);
          await laterStepsWork(store);
        } finally {
          await store.close();
        }
      } finally {
        await admin.end();
        await dropSchema(schema);
      }
    });
  }
});
