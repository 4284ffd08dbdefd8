/**
 * The queue order the databases return is the policy's (domain/policy/queueOrder.ts), on SQLite and
 * on PostgreSQL: on random queues — several tenants, tokens of different weights, priorities, equal
 * and fractional ranks, equal created times — a tenant's queued jobs come back from SQL in
 * compareQueued's order, and the dispatches, from stored passes left by some earlier turns, come in
 * dispatchOrder's order (which exercises the dispatch statements' own ORDER BYs and the stride rule).
 * A vacuity floor checks the generated queues really had ties, several tenants and several tokens.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { compareQueued, dispatchOrder } from '../../src/domain/policy/queueOrder.ts';
import type { Job } from '../../src/domain/job.ts';
import type { Store } from '../../src/store/store.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import { TEST_DATABASE_URL } from '../helpers/processes.ts';

const T0 = 1_700_000_000_000;
const SECRET = 'whsec_c2VjcmV0LW9uZS1zZWNyZXQtb25lLTMyYnl0ZXM=';
const RUNS = 30;

interface JobSpec {
  tenant: number;
  /** Index into the tenant's tokens, or null for a job without token. */
  token: number | null;
  priority: number;
  rank: number;
  created: number;
}

interface QueueSpec {
  weights: number[][];
  jobs: JobSpec[];
  /** Dispatches made before the prediction, so the stored passes differ. */
  warmTurns: number;
}

const queueSpec: fc.Arbitrary<QueueSpec> = fc
  .array(fc.array(fc.constantFrom(0.5, 1, 2, 3), { maxLength: 3 }), { minLength: 1, maxLength: 3 })
  .chain((weights) =>
    fc.record({
      weights: fc.constant(weights),
      jobs: fc.array(
        fc.integer({ min: 0, max: weights.length - 1 }).chain((tenant) =>
          fc.record({
            tenant: fc.constant(tenant),
            token:
              weights[tenant]!.length === 0
                ? fc.constant(null)
                : fc.option(fc.integer({ min: 0, max: weights[tenant]!.length - 1 }), { freq: 3 }),
            priority: fc.integer({ min: -1, max: 1 }),
            // Few distinct values: ties on rank are common; fractions must keep their order too.
            rank: fc.constantFrom(-60_000, -0.25, 0, 0.5, 1, 40_000),
            created: fc.constantFrom(0, 0, 10, 500),
          }),
        ),
        { minLength: 1, maxLength: 24 },
      ),
      warmTurns: fc.integer({ min: 0, max: 6 }),
    }),
  );

const seen = { runs: 0, multiTenant: 0, multiToken: 0, rankTies: 0, priorities: 0, passesDiffer: 0 };

async function dispatchAll(store: Store, userId: number, max: number): Promise<Job[]> {
  const out: Job[] = [];
  for (let i = 0; i < max; i++) {
    const d = await store.dispatch(userId, T0 + 1000);
    if (!d) break;
    out.push(d.job);
  }
  return out;
}

async function checkQueue(store: Store, spec: QueueSpec): Promise<void> {
  const users: number[] = [];
  const tokens: number[][] = [];
  for (const weights of spec.weights) {
    const user = await store.createUser('tenant', T0, SECRET);
    // 4 × 8 slots: every job of a 24-job queue fits, so the dispatch order is the queue's alone.
    for (const email of ['a@x.io', 'b@x.io', 'c@x.io', 'd@x.io'])
      await store.upsertAccount({ userId: user.id, email, apiKeyEnc: `enc:${email}`, maxJobs: 8, now: T0 });
    const mine: number[] = [];
    for (const weight of weights) {
      const token = await store.addToken(user.id, randomBytes(32).toString('hex'), null, T0);
      assert.equal(await store.setTokenWeight(user.id, token.id, weight), true);
      mine.push(token.id);
    }
    users.push(user.id);
    tokens.push(mine);
  }
  const queued: Job[] = [];
  for (const job of spec.jobs) {
    const res = await store.enqueue(
      {
        userId: users[job.tenant]!,
        provider: 'pixverse',
        tokenId: job.token === null ? null : tokens[job.tenant]![job.token]!,
        email: null,
        maxJobsOverride: null,
        type: 'video',
        traceId: randomBytes(8).toString('hex'),
        upstream: { op: 'video.text', params: { prompt: 'p' } },
        request: { prompt: 'p' },
        replyUrl: null,
        replyRef: null,
        priority: job.priority,
        now: T0 + job.created,
        queueRank: T0 + job.rank,
      },
      1000,
    );
    assert.ok(res.ok, 'enqueued');
    queued.push(res.job);
  }

  seen.runs++;
  if (new Set(spec.jobs.map((j) => j.tenant)).size > 1) seen.multiTenant++;
  if (
    spec.jobs.some((a, i) =>
      spec.jobs.some((b, k) => k !== i && a.tenant === b.tenant && a.token !== b.token),
    )
  )
    seen.multiToken++;
  if (
    spec.jobs.some((a, i) =>
      spec.jobs.some(
        (b, k) =>
          k > i &&
          a.tenant === b.tenant &&
          a.token === b.token &&
          a.priority === b.priority &&
          a.rank === b.rank,
      ),
    )
  )
    seen.rankTies++;
  if (new Set(spec.jobs.map((j) => j.priority)).size > 1) seen.priorities++;

  for (const [index, userId] of users.entries()) {
    const mine = queued.filter((j) => j.userId === userId);
    const fromSql = (await store.queuedJobs(userId, 1000)).map((j) => j.id);
    assert.deepEqual(
      fromSql,
      [...mine].sort(compareQueued).map((j) => j.id),
      `tenant ${index}: SQL order = compareQueued`,
    );

    const warm = await dispatchAll(store, userId, Math.min(spec.warmTurns, mine.length));
    const turns = await store.queueTurns(userId);
    if (warm.length > 0 && new Set(turns.map((t) => t.pass)).size > 1) seen.passesDiffer++;
    const rest = await store.queuedJobs(userId, 1000);
    const predicted = dispatchOrder(rest, turns).map((j) => j.id);
    const actual = (await dispatchAll(store, userId, 1000)).map((j) => j.id);
    assert.deepEqual(
      actual,
      predicted,
      `tenant ${index}: dispatch order = dispatchOrder from the stored passes`,
    );
  }
}

function vacuityFloor(): void {
  assert.equal(seen.runs, RUNS);
  // Floors well under what the generator yields, so the check itself is not flaky.
  assert.ok(seen.multiTenant >= RUNS / 4, `several tenants in ${seen.multiTenant}/${RUNS} runs`);
  assert.ok(seen.multiToken >= RUNS / 4, `several tokens of one tenant in ${seen.multiToken}/${RUNS} runs`);
  assert.ok(
    seen.rankTies >= RUNS / 4,
    `equal priority and rank within a token in ${seen.rankTies}/${RUNS} runs`,
  );
  assert.ok(seen.priorities >= RUNS / 4, `several priorities in ${seen.priorities}/${RUNS} runs`);
  assert.ok(
    seen.passesDiffer >= 3,
    `stored passes differed before a prediction in ${seen.passesDiffer} tenants`,
  );
}

async function property(store: Store): Promise<void> {
  for (const key of Object.keys(seen) as (keyof typeof seen)[]) seen[key] = 0;
  await fc.assert(
    fc.asyncProperty(queueSpec, (spec) => checkQueue(store, spec)),
    { numRuns: RUNS, seed: 13 },
  );
  vacuityFloor();
}

describe('queue order: SQL = policy', () => {
  it('on SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pixgate-order-'));
    const store = await openSqliteStore(join(dir, 'order.db'));
    try {
      await property(store);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const schemas: string[] = [];
  after(async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      for (const schema of schemas)
        await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    } finally {
      await client.end();
    }
  });

  it('on PostgreSQL', async () => {
    const schema = `pixgate_test_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    const store = await openPostgresStore(TEST_DATABASE_URL, { schema, poolSize: 2 });
    try {
      await store.migrate();
      await property(store);
    } finally {
      await store.close();
    }
  });
});
