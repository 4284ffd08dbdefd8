/**
 * The PostgreSQL tests' fixture: a fresh schema per test (warmed in the background), kept when the
 * test failed, and the inputs the PostgreSQL-only tests share.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, it, type TestContext } from 'node:test';
import pg from 'pg';
import type { Job } from '../../src/domain/job.ts';
import type { EnqueueInput, OutboxBuilder, ReserveInput } from '../../src/store/store.ts';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/index.ts';

export const DATABASE_URL =
  process.env.PIXGATE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const T0 = 1_700_000_000_000;
export const SECRET = 'whsec_dGVzdC1zZWNyZXQ=';

export function freshSchemaName(): string {
  return `pixgate_test_${randomBytes(6).toString('hex')}`;
}

/** One-off admin connection (schema drops, checks that must bypass the store). */
export async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await admin((c) => c.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`));
}

/**
 * Schema drops run in the background (a DROP … CASCADE costs a few hundred ms on a busy machine,
 * and nothing waits on it); the suite's after() hook awaits them all, so a failed drop still fails
 * the run and no schema outlives it.
 */
export const pendingDrops: Promise<void>[] = [];

export let warmSchema: Promise<string> | null = null;

export async function prepareSchema(): Promise<string> {
  const schema = freshSchemaName();
  const store = await openPostgresStore(DATABASE_URL, { schema, poolSize: 1 });
  try {
    await store.migrate();
  } finally {
    await store.close();
  }
  return schema;
}

// The schema prepared for a test that never came is dropped with the others.
after(async () => {
  if (warmSchema) pendingDrops.push(warmSchema.then(dropSchema));
  await Promise.all(pendingDrops);
});

/** A fresh schema shared by every store the test opens; closed and dropped afterwards, kept on failure. */
export class Fixture {
  private readonly stores: PostgresStore[] = [];

  constructor(readonly schema = freshSchemaName()) {}

  /**
   * A fixture whose schema is already created and migrated. The next one is prepared in the
   * background while the current test runs, which takes the per-test schema set-up (the bulk of a
   * short test's time) off the critical path.
   */
  static async warmed(): Promise<Fixture> {
    const ready = warmSchema ?? prepareSchema();
    warmSchema = prepareSchema();
    warmSchema.catch(() => {}); // reported when taken (or at the end of the run)
    return new Fixture(await ready);
  }

  async open(opts: { migrate?: boolean; poolSize?: number } = {}): Promise<PostgresStore> {
    const store = await openPostgresStore(DATABASE_URL, { schema: this.schema, poolSize: opts.poolSize });
    this.stores.push(store);
    if (opts.migrate !== false) await store.migrate();
    return store;
  }

  /** SQL against the test schema through a separate connection (an independent observer). */
  async sql<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    return admin(async (c) => {
      await c.query(`SET search_path TO ${pg.escapeIdentifier(this.schema)}`);
      return (await c.query<R>(text, values)).rows;
    });
  }

  async cleanup(failed: boolean): Promise<void> {
    await Promise.all(this.stores.map((s) => s.close()));
    if (failed) {
      console.error(`[postgres.test] test failed; schema kept for inspection: ${this.schema}`);
      return;
    }
    pendingDrops.push(dropSchema(this.schema));
  }
}

/** `emptySchema`: the test builds its schema itself; otherwise it starts from a migrated one. */
export function pgTest(
  title: string,
  body: (fx: Fixture, t: TestContext) => Promise<void>,
  opts: { timeout?: number; emptySchema?: boolean } = {},
): void {
  it(title, { timeout: opts.timeout ?? 20_000 }, async (t) => {
    const fx = opts.emptySchema ? new Fixture() : await Fixture.warmed();
    let failed = true;
    try {
      await body(fx, t);
      failed = false;
    } finally {
      await fx.cleanup(failed);
    }
  });
}

export function reserveInput(userId: number, over: Partial<ReserveInput> = {}): ReserveInput {
  return {
    userId,
    provider: 'pixverse',
    tokenId: null,
    email: null,
    maxJobsOverride: null,
    type: 'video',
    traceId: `trace-${randomBytes(6).toString('hex')}`,
    upstream: { op: 'video.text', params: { prompt: 'p' } },
    request: { prompt: 'p' },
    replyUrl: null,
    replyRef: null,
    now: T0,
    ...over,
  };
}

export function enqueueInput(userId: number, over: Partial<EnqueueInput> = {}): EnqueueInput {
  const now = over.now ?? T0;
  return {
    userId,
    provider: 'pixverse',
    tokenId: null,
    email: null,
    maxJobsOverride: null,
    type: 'video',
    traceId: `trace-${randomBytes(6).toString('hex')}`,
    upstream: { op: 'video.text', params: { prompt: 'q' } },
    request: { prompt: 'q' },
    replyUrl: null,
    replyRef: null,
    priority: 0,
    now,
    queueRank: now,
    ...over,
  };
}

export async function enqueueOk(
  store: PostgresStore,
  userId: number,
  over: Partial<EnqueueInput> = {},
): Promise<Job> {
  const res = await store.enqueue(enqueueInput(userId, over), 100_000);
  if (!res.ok) assert.fail(`enqueue refused: ${res.reason}`);
  return res.job;
}

/** Writes `{id, state, event}` for every transition. */
export const simpleBuilder: OutboxBuilder = (job, event) => ({
  url: `https://hook.example/${job.id}`,
  body: JSON.stringify({ id: job.id, state: job.state, event }),
});

export async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
