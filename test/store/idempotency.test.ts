/**
 * Idempotency-Key storage on both stores: the key commits with its job or not at all, a live key
 * cannot be claimed twice (concurrently either: several PostgreSQL pools race for one key), only
 * the holder records the answer, an expired key can be claimed again and is swept.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import type { EnqueueInput, IdempotencyClaim, ReserveInput, Store } from '../../src/store/store.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import { TEST_DATABASE_URL } from '../helpers/processes.ts';

const T0 = 1_700_000_000_000;
const SECRET = 'whsec_dGVzdC1zZWNyZXQ=';

interface Opened {
  stores: Store[];
  close(): Promise<void>;
}

/** `count` stores on one database: separate connections (PostgreSQL pools) like separate instances. */
async function openStores(dialect: 'sqlite' | 'postgres', count: number): Promise<Opened> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'pixgate-idem-'));
    const stores: Store[] = [];
    for (let i = 0; i < count; i++) stores.push(await openSqliteStore(join(dir, 'store.db')));
    return {
      stores,
      async close() {
        for (const s of stores) await s.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `pixgate_idem_${randomBytes(5).toString('hex')}`;
  const stores: Store[] = [];
  for (let i = 0; i < count; i++) {
    const store = await openPostgresStore(TEST_DATABASE_URL, { schema, poolSize: 8 });
    await store.migrate();
    stores.push(store);
  }
  return {
    stores,
    async close() {
      for (const s of stores) await s.close();
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      await client.end();
    },
  };
}

async function tenant(store: Store, maxJobs = 50): Promise<{ userId: number; tokenId: number }> {
  const user = await store.createUser('idem', T0, SECRET);
  const token = await store.addToken(user.id, randomBytes(16).toString('hex'), null, T0);
  await store.upsertAccount({ userId: user.id, email: 'a@example.com', apiKeyEnc: 'enc', maxJobs, now: T0 });
  return { userId: user.id, tokenId: token.id };
}

function reserveInput(
  userId: number,
  tokenId: number,
  idempotency: IdempotencyClaim | undefined,
  now = T0,
): ReserveInput {
  return {
    provider: 'pixverse',
    userId,
    tokenId,
    email: null,
    maxJobsOverride: null,
    type: 'video',
    traceId: randomBytes(8).toString('hex'),
    upstream: { op: 'text', params: { prompt: 'x' } },
    request: { prompt: 'x' },
    replyUrl: null,
    replyRef: null,
    now,
    idempotency,
  };
}

function enqueueInput(
  userId: number,
  tokenId: number,
  idempotency: IdempotencyClaim | undefined,
): EnqueueInput {
  return { ...reserveInput(userId, tokenId, idempotency), priority: 0, queueRank: T0 };
}

const claim = (key: string, expiresAt = T0 + 60_000): IdempotencyClaim => ({
  key,
  fingerprint: `fp-${key}`,
  expiresAt,
});

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`idempotency keys on ${dialect}`, () => {
    it('writes the key with a reserved job; a second claim inserts nothing', async () => {
      const db = await openStores(dialect, 1);
      try {
        const store = db.stores[0]!;
        const { userId, tokenId } = await tenant(store);
        const first = await store.reserve(reserveInput(userId, tokenId, claim('k1')));
        assert.ok(first.ok);
        const record = await store.getIdempotencyKey(tokenId, 'k1', T0);
        assert.deepEqual(
          record && {
            jobId: record.jobId,
            fingerprint: record.fingerprint,
            status: record.status,
            userId: record.userId,
          },
          { jobId: first.job.id, fingerprint: 'fp-k1', status: null, userId },
        );
        const second = await store.reserve(reserveInput(userId, tokenId, claim('k1')));
        assert.deepEqual(second, { ok: false, reason: 'key_taken' });
        assert.equal((await store.activeJobs(userId)).length, 1, 'the second job rolled back with its claim');
        // Another token's key space is its own.
        const other = await store.addToken(userId, randomBytes(16).toString('hex'), null, T0);
        assert.ok((await store.reserve(reserveInput(userId, other.id, claim('k1')))).ok);
        // Without a key nothing is written.
        assert.ok((await store.reserve(reserveInput(userId, tokenId, undefined))).ok);
        assert.equal((await store.activeJobs(userId)).length, 3);
      } finally {
        await db.close();
      }
    });

    it('writes the key with a queued job; a taken key rolls the queued job back', async () => {
      const db = await openStores(dialect, 1);
      try {
        const store = db.stores[0]!;
        const { userId, tokenId } = await tenant(store);
        const first = await store.enqueue(enqueueInput(userId, tokenId, claim('q1')), 100);
        assert.ok(first.ok);
        assert.equal((await store.getIdempotencyKey(tokenId, 'q1', T0))?.jobId, first.job.id);
        assert.deepEqual(await store.enqueue(enqueueInput(userId, tokenId, claim('q1')), 100), {
          ok: false,
          reason: 'key_taken',
        });
        assert.equal(await store.countQueued(userId), 1);
        // A refusal (queue full) claims nothing: the key stays free.
        assert.deepEqual(await store.enqueue(enqueueInput(userId, tokenId, claim('q2')), 1), {
          ok: false,
          reason: 'queue_full',
          queued: 1,
        });
        assert.equal(await store.getIdempotencyKey(tokenId, 'q2', T0), null);
      } finally {
        await db.close();
      }
    });

    it('moves the key to a retry job, records the answer only for its holder, once', async () => {
      const db = await openStores(dialect, 1);
      try {
        const store = db.stores[0]!;
        const { userId, tokenId } = await tenant(store);
        const first = await store.reserve(reserveInput(userId, tokenId, claim('m')));
        assert.ok(first.ok);
        const retry = await store.reserve(
          reserveInput(userId, tokenId, { ...claim('m'), replacesJobId: first.job.id }),
        );
        assert.ok(retry.ok);
        assert.equal((await store.getIdempotencyKey(tokenId, 'm', T0))?.jobId, retry.job.id);
        // A stale holder cannot move it again.
        assert.deepEqual(
          await store.reserve(reserveInput(userId, tokenId, { ...claim('m'), replacesJobId: first.job.id })),
          { ok: false, reason: 'key_taken' },
        );

        assert.equal(
          await store.recordIdempotentAnswer(
            tokenId,
            'm',
            first.job.id,
            { status: 200, body: '{"a":1}' },
            T0,
          ),
          false,
        );
        assert.equal(
          await store.recordIdempotentAnswer(
            tokenId,
            'm',
            retry.job.id,
            { status: 200, body: '{"b":2}' },
            T0,
          ),
          true,
        );
        assert.equal(
          await store.recordIdempotentAnswer(tokenId, 'm', retry.job.id, { status: 500, body: '{}' }, T0),
          false,
          'the first answer stays',
        );
        const record = await store.getIdempotencyKey(tokenId, 'm', T0);
        assert.deepEqual([record?.status, record?.body], [200, '{"b":2}']);
      } finally {
        await db.close();
      }
    });

    it('lets an expired key be claimed again and sweeps expired keys', async () => {
      const db = await openStores(dialect, 1);
      try {
        const store = db.stores[0]!;
        const { userId, tokenId } = await tenant(store);
        assert.ok((await store.reserve(reserveInput(userId, tokenId, claim('e1', T0 + 1000)))).ok);
        assert.ok((await store.reserve(reserveInput(userId, tokenId, claim('e2', T0 + 5000)))).ok);
        assert.equal(
          await store.getIdempotencyKey(tokenId, 'e1', T0 + 1000),
          null,
          'expired at its expiry time',
        );
        const again = await store.reserve(reserveInput(userId, tokenId, claim('e1', T0 + 9000), T0 + 2000));
        assert.ok(again.ok, 'an expired, unswept key is free');
        assert.equal((await store.getIdempotencyKey(tokenId, 'e1', T0 + 2000))?.jobId, again.job.id);
        assert.equal(await store.deleteExpiredIdempotencyKeys(T0 + 6000, 10), 1, 'e2 only');
        assert.equal(await store.getIdempotencyKey(tokenId, 'e2', T0), null);
        assert.ok(await store.getIdempotencyKey(tokenId, 'e1', T0 + 6000));
        assert.equal(await store.deleteExpiredIdempotencyKeys(T0 + 10_000, 10), 1);
        assert.equal(await store.deleteExpiredIdempotencyKeys(T0 + 10_000, 10), 0);
      } finally {
        await db.close();
      }
    });

    it('gives a key to exactly one of many concurrent claims from several connections', async () => {
      const db = await openStores(dialect, 3);
      try {
        const [first] = db.stores;
        const { userId, tokenId } = await tenant(first!);
        for (let round = 0; round < 5; round++) {
          const key = `race-${round}`;
          const results = await Promise.all(
            Array.from({ length: 12 }, (_, i) => {
              const store = db.stores[i % db.stores.length]!;
              return i % 2 === 0
                ? store.reserve(reserveInput(userId, tokenId, claim(key)))
                : store.enqueue(enqueueInput(userId, tokenId, claim(key)), 1000);
            }),
          );
          const winners = results.filter((r) => r.ok);
          assert.equal(winners.length, 1, JSON.stringify(results.map((r) => (r.ok ? 'ok' : r.reason))));
          assert.ok(results.every((r) => r.ok || r.reason === 'key_taken'));
          assert.equal(
            (await first!.getIdempotencyKey(tokenId, key, T0))?.jobId,
            winners[0]!.ok ? winners[0]!.job.id : -1,
          );
        }
        const jobs = (await first!.activeJobs(userId)).length + (await first!.countQueued(userId));
        assert.equal(jobs, 5, 'one job per key');
      } finally {
        await db.close();
      }
    });
  });
}
