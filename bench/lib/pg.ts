/**
 * PostgreSQL for the scale-out bench: a fresh schema per run on a loopback server (default the test
 * database, postgres://postgres@127.0.0.1:5432/test; override with PIXGATE_BENCH_DATABASE_URL),
 * dropped afterwards — also when the bench fails or is interrupted (children.ts onCleanup).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { onCleanup } from './children.ts';

export const BENCH_DATABASE_URL =
  process.env['PIXGATE_BENCH_DATABASE_URL'] ??
  process.env['PIXGATE_TEST_DATABASE_URL'] ??
  'postgres://postgres@127.0.0.1:5432/test';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Null when the server answers; otherwise why not (the bench then skips its PostgreSQL parts). */
export async function pgUnavailable(url = BENCH_DATABASE_URL): Promise<string | null> {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return `bad database URL ${url}`;
  }
  if (!LOOPBACK.has(host)) return `database host ${host} is not loopback (the bench only talks to 127.0.0.1)`;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return `PostgreSQL at ${url} not reachable: ${(err as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface BenchSchema {
  name: string;
  drop(): Promise<void>;
}

/** A schema name no other run uses; the gateway creates it, drop() removes it (idempotent). */
export function benchSchema(url = BENCH_DATABASE_URL): BenchSchema {
  const name = `pixgate_bench_${randomBytes(5).toString('hex')}`;
  let dropped: Promise<void> | null = null;
  const drop = () =>
    (dropped ??= (async () => {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
      try {
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(name)} CASCADE`);
      } finally {
        unregister();
        await client.end().catch(() => undefined);
      }
    })());
  const unregister = onCleanup(drop);
  return { name, drop };
}
