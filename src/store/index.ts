/**
 * Store factory: picks the dialect from the configured URL.
 *   postgres://… | postgresql://…   → PostgreSQL (several gateway instances on one database)
 *   sqlite:<path> | file:<path|URL> → SQLite at that path ('sqlite::memory:' for an in-memory store)
 *   undefined | ''                  → SQLite at <dataDir>/pixgate.db
 * The returned store is always migrated. A SQLite store waits for another process's lock only
 * briefly and without blocking the event loop (503 rather than a frozen process).
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Store } from './store.ts';
import { openSqliteStore } from './sqlite/index.ts';
import { promptBusyStore } from './sqlite/promptBusy.ts';
import { secureDatabaseFile } from '../security/fileModes.ts';

export type { Store } from './store.ts';

interface PostgresModule {
  openPostgresStore(url: string, opts?: { schema?: string }): Promise<Store>;
}

export async function openStore(
  url: string | undefined,
  dataDir: string,
  opts: { schema?: string | null } = {},
): Promise<Store> {
  const target = url?.trim() ?? '';
  if (/^postgres(ql)?:\/\//i.test(target)) {
    // Loaded lazily so SQLite-only deployments never load the pg driver.
    const pg: PostgresModule = await import('./postgres/index.ts');
    const store = await pg.openPostgresStore(target, opts.schema ? { schema: opts.schema } : {});
    await store.migrate();
    return store;
  }
  const path = target === '' ? join(dataDir, 'pixgate.db') : sqlitePath(target);
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    secureDatabaseFile(path);
  }
  const store = await openSqliteStore(path);
  await store.migrate();
  // Migrated under the long busy wait (another process may be opening the same file); from here on
  // a lock held elsewhere must not freeze the process (see promptBusy.ts).
  return promptBusyStore(store);
}

/** Turns a `sqlite:` or `file:` URL into a filesystem path (or ':memory:'). */
export function sqlitePath(url: string): string {
  if (/^file:\/\//i.test(url)) return fileURLToPath(url);
  const match = /^(sqlite|file):(.*)$/i.exec(url);
  if (!match)
    throw new Error(`unsupported store url: ${url} (expected postgres://, postgresql://, sqlite: or file:)`);
  let rest = match[2]!;
  // sqlite:///abs/path → /abs/path ; sqlite://rel/path → rel/path
  if (rest.startsWith('//')) rest = rest.slice(2);
  if (rest === '') throw new Error(`store url has no path: ${url}`);
  return rest;
}
