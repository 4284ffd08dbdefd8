/**
 * Instance liveness on PostgreSQL: a submit started by an instance that stopped beating is an
 * orphan seconds later, whatever its age; one started by a live instance is left alone until the
 * age rule. Two stores on one schema stand for two gateway processes (separate pools and ids).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/index.ts';
import type { EnqueueInput, ReserveInput } from '../../src/store/store.ts';

const DATABASE_URL = process.env.PIXGATE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const T0 = 1_700_000_000_000;
const AGE = T0 - 120_000; // the age rule's cut-off: nothing here is that old

function reserveInput(userId: number, now: number): ReserveInput {
  return {
    provider: 'pixverse',
    userId,
    tokenId: null,
    email: null,
    maxJobsOverride: null,
    type: 'video',
    traceId: `trace-${randomBytes(6).toString('hex')}`,
    upstream: { op: 'video.text', params: { prompt: 'a cat' } },
    request: { prompt: 'a cat' },
    replyUrl: null,
    replyRef: null,
    now,
  };
}

describe('PostgreSQL: in-doubt submits of a silent instance', () => {
  const schema = `pixgate_test_${randomBytes(6).toString('hex')}`;
  let dead: PostgresStore;
  let live: PostgresStore;
  let userId: number;

  before(async () => {
    dead = await openPostgresStore(DATABASE_URL, { schema, poolSize: 2 });
    await dead.migrate();
    live = await openPostgresStore(DATABASE_URL, { schema, poolSize: 2 });
    const user = await live.createUser('t', T0, 'whsec_dGVzdA==');
    userId = user.id;
    await live.upsertAccount({ userId, email: 'a@x.io', apiKeyEnc: 'enc', maxJobs: 10, now: T0 });
  });

  after(async () => {
    await dead.close();
    await live.close();
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    await client.end();
  });

  it('claims a silent instance’s reserved and dispatched submits, never a live one’s', async () => {
    await dead.beatInstance(T0);
    await live.beatInstance(T0);
    const reserved = await dead.reserve(reserveInput(userId, T0 + 100));
    assert.ok(reserved.ok);
    const queued: EnqueueInput = { ...reserveInput(userId, T0 + 150), priority: 0, queueRank: T0 + 150 };
    assert.ok((await dead.enqueue(queued, 100)).ok);
    const dispatched = await dead.dispatch(userId, T0 + 200);
    assert.ok(dispatched, 'the queued job was dispatched by the instance that will die');
    const liveJob = await live.reserve(reserveInput(userId, T0 + 300));
    assert.ok(liveJob.ok);

    // Both instances beat recently: nothing is an orphan (before the fix, nothing either).
    await live.beatInstance(T0 + 4000);
    await dead.beatInstance(T0 + 4000);
    assert.deepEqual(await live.claimStaleSubmitting('w', AGE, T0 + 6000, 30_000, 10, T0 + 1000), []);

    // `dead` stops beating; `live` goes on. Five seconds of silence later only dead's submits are claimed.
    await live.beatInstance(T0 + 9500);
    const claimed = await live.claimStaleSubmitting('w', AGE, T0 + 10_000, 30_000, 10, T0 + 5000);
    assert.deepEqual(
      claimed.map((j) => j.id).sort((a, b) => a - b),
      [reserved.job.id, dispatched.job.id].sort((a, b) => a - b),
    );
    // Claimed once: the claim re-stamps the submitter (the live reconciler), so a second sweep skips them.
    assert.deepEqual(await live.claimStaleSubmitting('w2', AGE, T0 + 10_500, 30_000, 10, T0 + 5500), []);

    // If the reconciler dies too, its claims come back once it has been silent (its lease does not pin them).
    const later = await dead.claimStaleSubmitting('w3', AGE, T0 + 20_000, 30_000, 10, T0 + 15_000);
    assert.deepEqual(
      later.map((j) => j.id).sort((a, b) => a - b),
      [reserved.job.id, dispatched.job.id, liveJob.job.id].sort((a, b) => a - b),
    );
  });

  it('a submit younger than the silence window is never an orphan, even with no beat yet', async () => {
    const fresh = await openPostgresStore(DATABASE_URL, { schema, poolSize: 1 });
    try {
      const job = await fresh.reserve(reserveInput(userId, T0 + 50_000));
      assert.ok(job.ok);
      const claimed = await live.claimStaleSubmitting('w', AGE, T0 + 52_000, 30_000, 10, T0 + 47_000);
      assert.ok(!claimed.some((j) => j.id === job.job.id));
      const afterSilence = await live.claimStaleSubmitting('w', AGE, T0 + 56_000, 30_000, 10, T0 + 51_000);
      assert.ok(afterSilence.some((j) => j.id === job.job.id));
    } finally {
      await fresh.close();
    }
  });
});
