/**
 * The Store conformance suite: one set of behaviours every dialect must show, exercised only
 * through the Store contract (no SQL). Not a test file itself — sqlite.test.ts and
 * postgres.test.ts call runStoreConformance() with a factory that yields a fresh store per test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Job } from '../../src/domain/job.ts';
import { dispatchOrder } from '../../src/scheduler/queueEstimate.ts';
import { runRecordsConformance } from './conformance-records.ts';
import {
  DEFAULT_TENANT_SETTINGS,
  type Delivery,
  type Dispatched,
  type EnqueueInput,
  type OutboxBuilder,
  type OutboxEvent,
  type ReserveInput,
  type ReserveResult,
  type Store,
  type User,
} from '../../src/store/store.ts';

export interface StoreHandle {
  store: Store;
  /** `failed` is true when the test failed, so a dialect may keep its data for inspection. */
  cleanup: (failed: boolean) => Promise<void>;
}

const T0 = 1_700_000_000_000;
/** Larger than 2^53: must survive the store as an exact decimal string. */
const BIG_UPSTREAM_ID = '384751234567890123456';
/** A Standard Webhooks secret as the caller would generate it. */
const SECRET = 'whsec_c2VjcmV0LW9uZS1zZWNyZXQtb25lLTMyYnl0ZXM=';

type Body = (store: Store) => Promise<void>;

function reserveInput(userId: number, over: Partial<ReserveInput> = {}): ReserveInput {
  return {
    provider: 'pixverse',
    userId,
    tokenId: null,
    email: null,
    maxJobsOverride: null,
    type: 'video',
    traceId: `trace-${Math.random().toString(36).slice(2)}`,
    upstream: { op: 'video.text', params: { prompt: 'a cat', seed: 7 } },
    request: { prompt: 'a cat' },
    replyUrl: null,
    replyRef: null,
    now: T0,
    ...over,
  };
}

async function userWithAccounts(store: Store, limits: Record<string, number>, now = T0): Promise<User> {
  const user = await store.createUser('tenant', now, SECRET);
  for (const [email, maxJobs] of Object.entries(limits)) {
    await store.upsertAccount({ userId: user.id, email, apiKeyEnc: `enc:${email}`, maxJobs, now });
  }
  return user;
}

function ok(result: ReserveResult): Extract<ReserveResult, { ok: true }> {
  if (!result.ok) assert.fail(`expected a reservation, got ${result.reason}`);
  return result;
}

async function reserveOk(store: Store, userId: number, over: Partial<ReserveInput> = {}): Promise<Job> {
  return ok(await store.reserve(reserveInput(userId, over))).job;
}

/** A running job (reserved + markRunning) whose next poll is due at `nextPollAt`. */
async function runningJob(store: Store, userId: number, email: string, nextPollAt: number, upstreamId?: string): Promise<Job> {
  const job = await reserveOk(store, userId, { email });
  assert.equal(await store.markRunning(job.id, upstreamId ?? String(1000 + job.id), nextPollAt, T0), true);
  return (await store.getJob(job.id))!;
}

async function loadsByEmail(store: Store, userId: number): Promise<Map<string, number>> {
  return new Map((await store.accountLoads(userId)).map((l) => [l.account.email, l.executing]));
}

/** queueRank defaults to `now`: as if every job expected the same run time, so rank order is queueing order. */
function enqueueInput(userId: number, over: Partial<EnqueueInput> = {}): EnqueueInput {
  const now = over.now ?? T0;
  return {
    provider: 'pixverse',
    userId,
    tokenId: null,
    email: null,
    maxJobsOverride: null,
    type: 'video',
    traceId: `trace-${Math.random().toString(36).slice(2)}`,
    upstream: { op: 'video.text', params: { prompt: 'a dog' } },
    request: { prompt: 'a dog' },
    replyUrl: null,
    replyRef: null,
    priority: 0,
    now,
    queueRank: now,
    ...over,
  };
}

async function enqueueOk(store: Store, userId: number, over: Partial<EnqueueInput> = {}, maxQueueLength = 100_000): Promise<Job> {
  const res = await store.enqueue(enqueueInput(userId, over), maxQueueLength);
  if (!res.ok) assert.fail(`expected enqueue to succeed, got ${res.reason}`);
  return res.job;
}

/** `count` enqueues in order (ids increase with the order given). */
async function enqueueMany(store: Store, userId: number, count: number, over: Partial<EnqueueInput> = {}): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let i = 0; i < count; i++) jobs.push(await enqueueOk(store, userId, over));
  return jobs;
}

/** Dispatches until nothing fits (or `max` dispatches), in order. */
async function dispatchAll(store: Store, userId: number, now = T0, max = 1000): Promise<Dispatched[]> {
  const out: Dispatched[] = [];
  for (let i = 0; i < max; i++) {
    const d = await store.dispatch(userId, now);
    if (!d) break;
    out.push(d);
  }
  return out;
}

/** The token ids of the next `n` dispatches (null for token-less jobs). */
async function dispatchTokens(store: Store, userId: number, n: number): Promise<(number | null)[]> {
  const out: (number | null)[] = [];
  for (let i = 0; i < n; i++) {
    const d = await store.dispatch(userId, T0);
    assert.ok(d, `dispatch ${i + 1} of ${n} found nothing`);
    out.push(d.job.tokenId);
  }
  return out;
}

const countOf = <T>(items: readonly T[], value: T) => items.filter((x) => x === value).length;

/** An outbox builder that records its calls and writes `{id, state, event}` as the body. */
function recordingBuilder(opts: { skip?: OutboxEvent } = {}) {
  const calls: { job: Job; event: OutboxEvent }[] = [];
  const builder: OutboxBuilder = (job, event) => {
    calls.push({ job, event });
    if (event === opts.skip) return null;
    return { url: `https://hook.example/${job.id}`, body: JSON.stringify({ id: job.id, state: job.state, event }) };
  };
  return { calls, builder };
}

const throwingBuilder: OutboxBuilder = () => {
  throw new Error('builder exploded');
};

async function deliveriesOf(store: Store, userId: number, jobId: number): Promise<Delivery[]> {
  return (await store.listDeliveries(userId, { jobId, limit: 100 })).sort((a, b) => a.seq - b.seq);
}

const bodyOf = (d: Delivery) => JSON.parse(d.body) as { id: number; state: string; event: string };

/** A deterministic uniform [0,1) source (mulberry32): two copies with one seed draw the same numbers. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A tenant set up the same way on two stores, for comparing batches with single dispatches. */
interface BatchScenario {
  /** maxJobs per account (acc0@…, acc1@…, …). */
  limits: number[];
  /** Per account (extra entries ignored): 'cooldown' ends at T0 + 500. */
  health: ('ok' | 'error' | 'cooldown')[];
  /** Slots held by reserved jobs per account (capped at its limit), taken before the health is set. */
  held: number[];
  /** Weights of the tenant's tokens. */
  weights: number[];
  /**
   * token / pin are indexes (modulo the number of tokens / accounts); null for none. rank: the job's
   * expected run time in seconds (its queue rank is its queueing time minus that; default 0).
   */
  jobs: { token: number | null; pin: number | null; override: number | null; priority: number; rank?: number }[];
}

interface BuiltScenario {
  userId: number;
  /** Every job of the tenant in creation order: the index is how two stores' jobs are compared. */
  jobs: Job[];
}

async function buildScenario(store: Store, sc: BatchScenario): Promise<BuiltScenario> {
  const emails = sc.limits.map((_, i) => `acc${i}@x.io`);
  const user = await userWithAccounts(store, Object.fromEntries(emails.map((e, i) => [e, sc.limits[i]!])));
  const jobs: Job[] = [];
  for (let i = 0; i < emails.length; i++) {
    for (let k = 0; k < Math.min(sc.held[i] ?? 0, sc.limits[i]!); k++) jobs.push(await reserveOk(store, user.id, { email: emails[i]! }));
  }
  for (let i = 0; i < emails.length; i++) {
    const health = sc.health[i] ?? 'ok';
    if (health === 'ok') continue;
    await store.setAccountHealth(user.id, emails[i]!, {
      state: health, reason: health, cooldownUntil: health === 'cooldown' ? T0 + 500 : null, now: T0,
    });
  }
  const tokens: number[] = [];
  for (let i = 0; i < sc.weights.length; i++) {
    const token = await store.addToken(user.id, `${user.id}-${i}-${'e'.repeat(58)}`, null, T0);
    assert.equal(await store.setTokenWeight(user.id, token.id, sc.weights[i]!), true);
    tokens.push(token.id);
  }
  for (const [i, spec] of sc.jobs.entries()) {
    jobs.push(
      await enqueueOk(store, user.id, {
        tokenId: spec.token === null || tokens.length === 0 ? null : tokens[spec.token % tokens.length]!,
        email: spec.pin === null ? null : emails[spec.pin % emails.length]!,
        maxJobsOverride: spec.override,
        priority: spec.priority,
        now: T0 + i,
        queueRank: T0 + i - (spec.rank ?? 0) * 1000,
      }),
    );
  }
  return { userId: user.id, jobs };
}

/** A dispatch as position-independent facts: which job (by creation index), where, in what state, since when. */
function dispatchFacts(built: BuiltScenario, dispatched: readonly Dispatched[]): (string | number | null)[][] {
  const index = new Map(built.jobs.map((j, i) => [j.id, i]));
  return dispatched.map((d) => [index.get(d.job.id) ?? -1, d.account.email, d.job.email, d.job.state, d.job.startedAt]);
}

/** The tenant's live jobs as creation indexes: [slot holders with their account, queued]. */
async function liveFacts(store: Store, built: BuiltScenario): Promise<unknown> {
  const index = new Map(built.jobs.map((j, i) => [j.id, i]));
  const active = (await store.activeJobs(built.userId)).map((j) => [index.get(j.id), j.email]).sort();
  const queued = (await store.queuedJobs(built.userId, 10_000)).map((j) => index.get(j.id)).sort();
  return { active, queued };
}

interface BatchPhase {
  /** dispatchBatch limit on one store; as many single dispatches on the other. */
  batch: number;
  /** Slot holders to finish afterwards (indexes into activeJobs, modulo its length). */
  finish: number[];
  /** Advance the clock past the cool-downs before this phase. */
  later: boolean;
}

/**
 * Runs the same scenario on two fresh stores: `batched` dispatches with dispatchBatch, `single` with
 * as many dispatch() calls, each with its own copy of one seeded random source. Every batch must be
 * exactly the singles' sequence (so it also stops exactly where they find nothing), and the stores
 * must end in the same state — including the fairness state, which the last round of single
 * dispatches on both stores exercises.
 */
async function compareBatchWithSingles(batched: Store, single: Store, sc: BatchScenario, phases: readonly BatchPhase[], seed: number): Promise<void> {
  const a = await buildScenario(batched, sc);
  const b = await buildScenario(single, sc);
  assert.deepEqual(await liveFacts(batched, a), await liveFacts(single, b), 'identical set-ups');
  const rndA = seeded(seed);
  const rndB = seeded(seed);
  let now = T0 + 100;
  for (const [p, phase] of phases.entries()) {
    if (phase.later) now = Math.max(now, T0 + 1000);
    now++;
    const got = await batched.dispatchBatch(a.userId, now, phase.batch, rndA);
    assert.ok(got.length <= phase.batch, `phase ${p}: ${got.length} > limit ${phase.batch}`);
    const singles: Dispatched[] = [];
    for (let i = 0; i < phase.batch; i++) {
      const d = await single.dispatch(b.userId, now, rndB);
      if (!d) break;
      singles.push(d);
    }
    assert.deepEqual(dispatchFacts(a, got), dispatchFacts(b, singles), `phase ${p}: batch of ${phase.batch} vs single dispatches`);
    for (const d of got) assert.deepEqual(await batched.getJob(d.job.id), d.job, 'the returned job is the stored one');
    const activeA = (await batched.activeJobs(a.userId)).sort((x, y) => x.id - y.id);
    const activeB = (await single.activeJobs(b.userId)).sort((x, y) => x.id - y.id);
    for (const pick of phase.finish) {
      if (activeA.length === 0) break;
      const k = pick % activeA.length;
      assert.ok(await batched.finish(activeA.splice(k, 1)[0]!.id, { state: 'completed' }, now));
      assert.ok(await single.finish(activeB.splice(k, 1)[0]!.id, { state: 'completed' }, now));
    }
    assert.deepEqual(await liveFacts(batched, a), await liveFacts(single, b), `phase ${p}: same state afterwards`);
  }
  // The passes and vtime written by the batches equal those written by the singles: from here on,
  // with more jobs queued by every token, both stores keep dispatching identically.
  now = Math.max(now, T0 + 1000) + 1;
  for (const built of [a, b]) {
    const store = built === a ? batched : single;
    for (const j of await store.activeJobs(built.userId)) await store.finish(j.id, { state: 'completed' }, now);
    for (let i = 0; i < 6; i++) {
      built.jobs.push(await enqueueOk(store, built.userId, { tokenId: built.jobs.find((j) => j.tokenId !== null)?.tokenId ?? null, now }));
      built.jobs.push(await enqueueOk(store, built.userId, { now }));
    }
  }
  const rest = Math.min(100, sc.limits.reduce((x, y) => x + y, 0));
  const tailA: Dispatched[] = [];
  const tailB: Dispatched[] = [];
  for (let i = 0; i < rest; i++) {
    const da = await batched.dispatch(a.userId, now, rndA);
    const db = await single.dispatch(b.userId, now, rndB);
    if (da) tailA.push(da);
    if (db) tailB.push(db);
    if (!da && !db) break;
  }
  assert.deepEqual(dispatchFacts(a, tailA), dispatchFacts(b, tailB), 'the fairness state left behind is the same');
}

export function runStoreConformance(name: string, makeStore: () => Promise<StoreHandle>): void {
  const test = (title: string, body: Body) =>
    it(title, async () => {
      const { store, cleanup } = await makeStore();
      let failed = true;
      try {
        await body(store);
        failed = false;
      } finally {
        await cleanup(failed);
      }
    });
  /** Two fresh stores of this dialect. */
  const pairTest = (title: string, body: (a: Store, b: Store) => Promise<void>) =>
    it(title, async () => {
      const first = await makeStore();
      let second: StoreHandle | null = null;
      let failed = true;
      try {
        second = await makeStore();
        await body(first.store, second.store);
        failed = false;
      } finally {
        await first.cleanup(failed);
        if (second) await second.cleanup(failed);
      }
    });

  describe(`Store conformance: ${name}`, () => {
    runRecordsConformance(makeStore);

    describe('users and tokens', () => {
      test('creates, reads and updates users', async (store) => {
        const a = await store.createUser('alice', T0, SECRET);
        const b = await store.createUser(null, T0 + 1, 'whsec_b');
        assert.notEqual(a.id, b.id);
        const defaults = {
          ...DEFAULT_TENANT_SETTINGS,
          webhookSecretPrev: null,
          webhookSecretPrevUntil: null,
        };
        assert.deepEqual(a, { id: a.id, name: 'alice', replyUrl: null, createdAt: T0, ...defaults, webhookSecret: SECRET });
        assert.deepEqual(await store.getUser(b.id), {
          id: b.id, name: null, replyUrl: null, createdAt: T0 + 1, ...defaults, webhookSecret: 'whsec_b',
        });
        assert.equal(await store.getUser(a.id + b.id + 1000), null);
        assert.deepEqual((await store.listUsers()).map((u) => [u.id, u.name]), [[a.id, 'alice'], [b.id, null]]);

        await store.setUserReplyUrl(a.id, 'https://example.com/hook');
        assert.equal((await store.getUser(a.id))!.replyUrl, 'https://example.com/hook');
        assert.equal((await store.getUser(b.id))!.replyUrl, null, 'other users untouched');
        await store.setUserReplyUrl(a.id, null);
        assert.equal((await store.getUser(a.id))!.replyUrl, null);
      });

      test('token lifecycle: add, list, revoke once, scoped per user', async (store) => {
        const u = await store.createUser('u', T0, SECRET);
        const other = await store.createUser('other', T0, SECRET);
        const t1 = await store.addToken(u.id, 'a'.repeat(64), 'ci', T0);
        const t2 = await store.addToken(u.id, 'b'.repeat(64), null, T0 + 1);
        assert.deepEqual(t1, { id: t1.id, userId: u.id, hash: 'a'.repeat(64), label: 'ci', createdAt: T0, revokedAt: null, weight: 1 });
        assert.deepEqual((await store.activeTokens(u.id)).map((t) => t.id).sort(), [t1.id, t2.id].sort());
        assert.deepEqual(await store.activeTokens(other.id), []);

        assert.equal(await store.revokeToken(other.id, t1.id, T0 + 5), false, 'another tenant cannot revoke it');
        assert.equal(await store.revokeToken(u.id, t1.id, T0 + 5), true);
        assert.equal(await store.revokeToken(u.id, t1.id, T0 + 6), false, 'already revoked');
        assert.equal(await store.revokeToken(u.id, t2.id + t1.id + 1000, T0 + 6), false, 'unknown token');

        assert.deepEqual((await store.activeTokens(u.id)).map((t) => t.id), [t2.id]);
        const all = await store.listTokens(u.id);
        assert.deepEqual(all.map((t) => t.id).sort(), [t1.id, t2.id].sort());
        assert.equal(all.find((t) => t.id === t1.id)!.revokedAt, T0 + 5);
      });

      test('token hashes are unique', async (store) => {
        const u = await store.createUser('u', T0, SECRET);
        await store.addToken(u.id, 'c'.repeat(64), null, T0);
        await assert.rejects(store.addToken(u.id, 'c'.repeat(64), null, T0));
      });
    });

    describe('dashboard reads', () => {
      test('listUsers lists every tenant by id', async (store) => {
        assert.deepEqual(await store.listUsers(), []);
        const b = await store.createUser('beta', T0, SECRET);
        const a = await store.createUser(null, T0 + 1, SECRET);
        assert.deepEqual((await store.listUsers()).map((u) => [u.id, u.name]), [[b.id, 'beta'], [a.id, null]]);
      });

      test('recentFailures: failed, moderated and timed_out since a time, latest first, per tenant', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 8 });
        const other = await userWithAccounts(store, { 'b@x.io': 8 });
        const end = async (userId: number, state: 'failed' | 'moderated' | 'timed_out' | 'completed' | 'cancelled', at: number) => {
          const job = await reserveOk(store, userId);
          assert.ok(await store.finish(job.id, { state, error: `${state} at ${at}` }, at));
          return job.id;
        };
        await end(u.id, 'failed', T0 + 100); // before `since`
        const failed = await end(u.id, 'failed', T0 + 2000);
        await end(u.id, 'completed', T0 + 2500);
        await end(u.id, 'cancelled', T0 + 2600);
        const moderated = await end(u.id, 'moderated', T0 + 3000);
        const timedOut = await end(u.id, 'timed_out', T0 + 4000);
        await end(other.id, 'failed', T0 + 5000);
        const running = await reserveOk(store, u.id);

        const recent = await store.recentFailures(u.id, T0 + 1000, 10);
        assert.deepEqual(recent.map((j) => j.id), [timedOut, moderated, failed]);
        assert.deepEqual(recent.map((j) => j.error), [`timed_out at ${T0 + 4000}`, `moderated at ${T0 + 3000}`, `failed at ${T0 + 2000}`]);
        assert.deepEqual((await store.recentFailures(u.id, T0 + 1000, 2)).map((j) => j.id), [timedOut, moderated], 'limit keeps the latest');
        assert.ok(!recent.some((j) => j.id === running.id));
        assert.deepEqual(await store.recentFailures(u.id, T0 + 4001, 10), []);
      });
    });

    describe('accounts', () => {
      test('accounts and jobs carry their provider; a re-post keeps the account\'s', async (store) => {
        const u = await store.createUser('u', T0, SECRET);
        const made = await store.upsertAccount({ userId: u.id, provider: 'other', email: 'o@x.io', apiKeyEnc: 'k', maxJobs: 2, now: T0 });
        assert.equal(made.account.provider, 'other');
        const again = await store.upsertAccount({ userId: u.id, provider: 'third', email: 'o@x.io', apiKeyEnc: 'k2', maxJobs: 2, now: T0 + 1 });
        assert.equal(again.account.provider, 'other');
        assert.equal((await store.getAccount(u.id, 'o@x.io'))?.provider, 'other');
        const reserved = ok(await store.reserve(reserveInput(u.id, { provider: 'other' })));
        assert.equal(reserved.job.provider, 'other');
        assert.equal((await store.getJob(reserved.job.id))?.provider, 'other');
        const queued = await store.enqueue({ ...reserveInput(u.id, { provider: 'other' }), priority: 0, queueRank: T0 }, 10);
        assert.ok(queued.ok);
        assert.equal((await store.getJob(queued.job.id))?.provider, 'other');
      });

      test('upsert creates, then replaces while keeping created_at and clearing health', async (store) => {
        const u = await store.createUser('u', T0, SECRET);
        const first = await store.upsertAccount({ userId: u.id, email: 'a@x.io', apiKeyEnc: 'k1', maxJobs: 3, now: T0 });
        assert.equal(first.created, true);
        assert.deepEqual(first.account, {
          userId: u.id, provider: 'pixverse', email: 'a@x.io', apiKeyEnc: 'k1', maxJobs: 3, state: 'ok',
          reason: null, cooldownUntil: null, webhookId: null, webhookSecretEnc: null, createdAt: T0, updatedAt: T0,
        });

        await store.setAccountHealth(u.id, 'a@x.io', { state: 'error', reason: 'bad key', cooldownUntil: T0 + 99, now: T0 + 5 });
        const second = await store.upsertAccount({ userId: u.id, email: 'a@x.io', apiKeyEnc: 'k2', maxJobs: 5, now: T0 + 10 });
        assert.equal(second.created, false);
        assert.deepEqual(second.account, {
          userId: u.id, provider: 'pixverse', email: 'a@x.io', apiKeyEnc: 'k2', maxJobs: 5, state: 'ok',
          reason: null, cooldownUntil: null, webhookId: null, webhookSecretEnc: null, createdAt: T0, updatedAt: T0 + 10,
        });
        assert.deepEqual(await store.getAccount(u.id, 'a@x.io'), second.account);
        assert.equal((await store.listAccounts(u.id)).length, 1);
      });

      test('upsert: the PixVerse webhook is set, kept when omitted, replaced, and removed by null', async (store) => {
        const u = await store.createUser('u', T0, SECRET);
        const base = { userId: u.id, email: 'a@x.io', apiKeyEnc: 'k1', maxJobs: 3 };
        const created = await store.upsertAccount({ ...base, webhook: { id: 'wh-1', secretEnc: 'enc:s1' }, now: T0 });
        assert.equal(created.created, true);
        assert.deepEqual([created.account.webhookId, created.account.webhookSecretEnc], ['wh-1', 'enc:s1']);

        // Re-posting without webhook fields (a new key, or to clear an error) keeps it.
        await store.setAccountHealth(u.id, 'a@x.io', { state: 'error', reason: 'bad key', cooldownUntil: null, now: T0 + 1 });
        const kept = await store.upsertAccount({ ...base, apiKeyEnc: 'k2', now: T0 + 2 });
        assert.equal(kept.created, false);
        assert.deepEqual(kept.account, { ...created.account, apiKeyEnc: 'k2', updatedAt: T0 + 2 });
        // Every read that builds accounts carries it, the accounts a reservation or a dispatch binds included.
        assert.deepEqual(await store.getAccount(u.id, 'a@x.io'), kept.account);
        assert.deepEqual(await store.listAccounts(u.id), [kept.account]);
        assert.deepEqual((await store.accountLoads(u.id))[0]!.account, kept.account);
        assert.deepEqual(ok(await store.reserve(reserveInput(u.id, { email: 'a@x.io' }))).account, kept.account);
        assert.deepEqual(ok(await store.reserve(reserveInput(u.id))).account, kept.account);
        await enqueueOk(store, u.id);
        assert.deepEqual((await store.dispatch(u.id, T0 + 3))!.account, kept.account);

        const replaced = await store.upsertAccount({ ...base, webhook: { id: 'wh-2', secretEnc: 'enc:s2' }, now: T0 + 4 });
        assert.deepEqual([replaced.account.webhookId, replaced.account.webhookSecretEnc], ['wh-2', 'enc:s2']);
        const removed = await store.upsertAccount({ ...base, webhook: null, now: T0 + 5 });
        assert.deepEqual([removed.account.webhookId, removed.account.webhookSecretEnc], [null, null]);
        const stillNone = await store.upsertAccount({ ...base, now: T0 + 6 });
        assert.deepEqual([stillNone.account.webhookId, stillNone.account.webhookSecretEnc], [null, null]);
        assert.deepEqual(await store.getAccount(u.id, 'a@x.io'), stillNone.account);

        // A new account without the field, or with null, has none.
        for (const [email, webhook] of [['b@x.io', undefined], ['c@x.io', null]] as const) {
          const fresh = await store.upsertAccount({ ...base, email, webhook, now: T0 });
          assert.equal(fresh.created, true);
          assert.deepEqual([fresh.account.webhookId, fresh.account.webhookSecretEnc], [null, null]);
        }
        // Deleting and re-adding starts from the input, not from the deleted row.
        await store.upsertAccount({ ...base, email: 'd@x.io', webhook: { id: 'wh-d', secretEnc: 'enc:d' }, now: T0 });
        assert.ok(await store.deleteAccount(u.id, 'd@x.io', T0 + 7));
        const readded = await store.upsertAccount({ ...base, email: 'd@x.io', now: T0 + 8 });
        assert.deepEqual([readded.created, readded.account.webhookId, readded.account.webhookSecretEnc], [true, null, null]);
      });

      test('accounts are per tenant and emails compare exactly', async (store) => {
        const u = await userWithAccounts(store, { 'b@x.io': 1, 'a@x.io': 2, 'A@x.io': 3 });
        const other = await userWithAccounts(store, { 'a@x.io': 8 });
        assert.deepEqual((await store.listAccounts(u.id)).map((a) => a.email).sort(), ['A@x.io', 'a@x.io', 'b@x.io']);
        assert.equal((await store.getAccount(u.id, 'A@x.io'))!.maxJobs, 3);
        assert.equal((await store.getAccount(u.id, 'a@x.io'))!.maxJobs, 2);
        assert.equal((await store.getAccount(other.id, 'a@x.io'))!.maxJobs, 8);
        assert.equal(await store.getAccount(other.id, 'b@x.io'), null);
        assert.equal(await store.getAccount(u.id, 'nobody@x.io'), null);
      });

      test('setAccountHealth records state, reason and cool-down; unknown account is a no-op', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 1 });
        await store.setAccountHealth(u.id, 'a@x.io', { state: 'cooldown', reason: 'rate limited', cooldownUntil: T0 + 60_000, now: T0 + 1 });
        const a = (await store.getAccount(u.id, 'a@x.io'))!;
        assert.equal(a.state, 'cooldown');
        assert.equal(a.reason, 'rate limited');
        assert.equal(a.cooldownUntil, T0 + 60_000);
        assert.equal(a.updatedAt, T0 + 1);
        await store.setAccountHealth(u.id, 'ghost@x.io', { state: 'error', reason: 'x', cooldownUntil: null, now: T0 });
        assert.equal(await store.getAccount(u.id, 'ghost@x.io'), null);
      });

      test('deleteAccount cancels exactly its slot-holding jobs and frees their slots', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 3, 'b@x.io': 1 });
        const submitting = await reserveOk(store, u.id, { email: 'a@x.io', now: T0 });
        const running = await runningJob(store, u.id, 'a@x.io', T0 + 1000);
        const done = await reserveOk(store, u.id, { email: 'a@x.io' });
        await store.finish(done.id, { state: 'completed', resultUrl: 'https://cdn/x.mp4' }, T0 + 2);
        const elsewhere = await reserveOk(store, u.id, { email: 'b@x.io' });

        assert.equal(await store.deleteAccount(u.id, 'ghost@x.io', T0), null);
        const result = await store.deleteAccount(u.id, 'a@x.io', T0 + 50);
        assert.ok(result);
        assert.deepEqual(result.cancelled.map((j) => j.id).sort(), [submitting.id, running.id].sort());
        for (const job of result.cancelled) {
          assert.equal(job.state, 'cancelled');
          assert.equal(job.error, 'account deleted');
          assert.equal(job.finishedAt, T0 + 50);
        }
        assert.equal(await store.getAccount(u.id, 'a@x.io'), null);
        assert.equal((await store.getJob(done.id))!.state, 'completed', 'finished jobs keep their outcome');
        assert.equal((await store.getJob(elsewhere.id))!.state, 'submitting', 'other accounts untouched');
        assert.deepEqual((await store.activeJobs(u.id)).map((j) => j.id), [elsewhere.id]);
        assert.equal(await store.finish(running.id, { state: 'failed' }, T0 + 60), null, 'a cancelled job cannot finish again');

        // Re-adding the account starts from empty slots: the cancelled jobs no longer count.
        await store.upsertAccount({ userId: u.id, email: 'a@x.io', apiKeyEnc: 'k', maxJobs: 2, now: T0 + 70 });
        assert.equal((await loadsByEmail(store, u.id)).get('a@x.io'), 0);
        await reserveOk(store, u.id, { email: 'a@x.io' });
        await reserveOk(store, u.id, { email: 'a@x.io' });
      });
    });

    describe('reserve', () => {
      test('inserts a submitting job carrying the request', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 2 });
        const token = await store.addToken(u.id, 'd'.repeat(64), null, T0);
        const input = reserveInput(u.id, {
          tokenId: token.id,
          type: 'image',
          traceId: 'trace-123',
          upstream: { op: 'image.text', params: { prompt: 'héllo ✓', img_id: '9007199254740993', n: [1, 2] } },
          request: { prompt: 'héllo ✓', nested: { a: true, b: null } },
          replyUrl: 'https://hook.example/cb',
          replyRef: 'ref-1',
          now: T0 + 42,
        });
        const res = ok(await store.reserve(input));
        assert.equal(res.account.email, 'a@x.io');
        assert.equal(res.account.maxJobs, 2);
        const expected: Job = {
          provider: 'pixverse',
          id: res.job.id, userId: u.id, tokenId: token.id, email: 'a@x.io', pinnedEmail: null, type: 'image', state: 'submitting',
          upstreamId: null, traceId: 'trace-123', upstream: input.upstream, request: input.request,
          replyUrl: 'https://hook.example/cb', replyRef: 'ref-1', priority: 0, queueRank: null, maxJobsOverride: null,
          createdAt: T0 + 42, queuedAt: null, startedAt: T0 + 42,
          finishedAt: null, resultUrl: null, error: null, upstreamStatus: null, result: null, pollCount: 0,
          nextPollAt: null, leaseToken: null, leaseExpiresAt: null, untrackedAt: null, untrackCallback: false, deletedAt: null,
        };
        assert.deepEqual(res.job, expected);
        assert.deepEqual(await store.getJob(res.job.id), expected);
        const second = await reserveOk(store, u.id);
        assert.ok(second.id > res.job.id, 'job ids increase');
        // A pinned reservation records the pin and the per-request limit it was admitted under.
        const pinned = await reserveOk(store, u.id, { email: 'a@x.io', maxJobsOverride: 5 });
        assert.equal(pinned.pinnedEmail, 'a@x.io');
        assert.equal(pinned.maxJobsOverride, 5);
        assert.deepEqual(await store.getJob(pinned.id), pinned);
      });

      test('reports no_accounts, unknown_account, account_full and none_free', async (store) => {
        const empty = await store.createUser('empty', T0, SECRET);
        assert.deepEqual(await store.reserve(reserveInput(empty.id)), { ok: false, reason: 'no_accounts' });
        assert.deepEqual(await store.reserve(reserveInput(empty.id, { email: 'a@x.io' })), { ok: false, reason: 'unknown_account' });

        const u = await userWithAccounts(store, { 'a@x.io': 1, 'b@x.io': 1 });
        assert.deepEqual(await store.reserve(reserveInput(u.id, { email: 'A@x.io' })), { ok: false, reason: 'unknown_account' });
        await reserveOk(store, u.id, { email: 'a@x.io' });
        const full = await store.reserve(reserveInput(u.id, { email: 'a@x.io' }));
        assert.equal(full.ok, false);
        assert.equal(!full.ok && full.reason, 'account_full');
        assert.equal(!full.ok && 'account' in full && full.account.email, 'a@x.io');

        assert.equal(ok(await store.reserve(reserveInput(u.id))).account.email, 'b@x.io', 'unpinned finds the free one');
        assert.deepEqual(await store.reserve(reserveInput(u.id)), { ok: false, reason: 'none_free' });
        assert.equal((await store.activeJobs(u.id)).length, 2, 'refusals insert nothing');
      });

      test('health: error and live cool-down refuse; an elapsed cool-down admits', async (store) => {
        const u = await userWithAccounts(store, { 'err@x.io': 4, 'cool@x.io': 4, 'ok@x.io': 1 });
        await store.setAccountHealth(u.id, 'err@x.io', { state: 'error', reason: 'banned', cooldownUntil: null, now: T0 });
        await store.setAccountHealth(u.id, 'cool@x.io', { state: 'cooldown', reason: 'rate', cooldownUntil: T0 + 1000, now: T0 });

        const err = await store.reserve(reserveInput(u.id, { email: 'err@x.io' }));
        assert.equal(!err.ok && err.reason, 'account_unhealthy');
        assert.equal(!err.ok && 'account' in err && err.account.reason, 'banned');
        const cool = await store.reserve(reserveInput(u.id, { email: 'cool@x.io', now: T0 + 999 }));
        assert.equal(!cool.ok && cool.reason, 'account_unhealthy');

        // Unpinned: only the healthy account is eligible, so after it fills nothing is free.
        assert.equal(ok(await store.reserve(reserveInput(u.id, { now: T0 + 999 }))).account.email, 'ok@x.io');
        assert.deepEqual(await store.reserve(reserveInput(u.id, { now: T0 + 999, random: () => 0.99 })), { ok: false, reason: 'none_free' });

        // At cooldownUntil the account is eligible again, pinned and unpinned.
        assert.equal(ok(await store.reserve(reserveInput(u.id, { email: 'cool@x.io', now: T0 + 1000 }))).account.email, 'cool@x.io');
        assert.equal(ok(await store.reserve(reserveInput(u.id, { now: T0 + 1000, random: () => 0 }))).account.email, 'cool@x.io');
        // An unhealthy account that is also full reports unhealthy (the more useful answer).
        await store.setAccountHealth(u.id, 'ok@x.io', { state: 'error', reason: 'x', cooldownUntil: null, now: T0 });
        const both = await store.reserve(reserveInput(u.id, { email: 'ok@x.io' }));
        assert.equal(!both.ok && both.reason, 'account_unhealthy');
      });

      test('maxJobsOverride replaces the account limit for that admission', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 3 });
        await reserveOk(store, u.id, { maxJobsOverride: 1 });
        const lower = await store.reserve(reserveInput(u.id, { email: 'a@x.io', maxJobsOverride: 1 }));
        assert.equal(!lower.ok && lower.reason, 'account_full');
        assert.deepEqual(await store.reserve(reserveInput(u.id, { maxJobsOverride: 1 })), { ok: false, reason: 'none_free' });
        await reserveOk(store, u.id);
        await reserveOk(store, u.id);
        const atLimit = await store.reserve(reserveInput(u.id, { email: 'a@x.io' }));
        assert.equal(!atLimit.ok && atLimit.reason, 'account_full');
        // useapi semantics: the per-request value is the limit used, even above the account's.
        await reserveOk(store, u.id, { email: 'a@x.io', maxJobsOverride: 4 });
        assert.equal((await loadsByEmail(store, u.id)).get('a@x.io'), 4);
      });

      test('unpinned choice is driven by `random` and only ever lands on free, healthy accounts', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 1, 'b@x.io': 2, 'c@x.io': 2, 'd@x.io': 2, 'e@x.io': 5 });
        await reserveOk(store, u.id, { email: 'a@x.io' }); // a is full
        await store.setAccountHealth(u.id, 'e@x.io', { state: 'error', reason: 'x', cooldownUntil: null, now: T0 });
        const free = ['b@x.io', 'c@x.io', 'd@x.io'];
        const seen = new Set<string>();
        // r = (i + 0.5) / n hits each of the n candidates once, whatever order the store lists them in.
        for (let i = 0; i < free.length; i++) {
          const res = ok(await store.reserve(reserveInput(u.id, { random: () => (i + 0.5) / free.length })));
          seen.add(res.account.email);
          assert.equal(res.job.email, res.account.email);
          await store.finish(res.job.id, { state: 'cancelled' }, T0 + 1);
        }
        assert.deepEqual([...seen].sort(), free);
        for (const r of [0, 0.999999]) {
          const res = ok(await store.reserve(reserveInput(u.id, { random: () => r })));
          assert.ok(free.includes(res.account.email));
          await store.finish(res.job.id, { state: 'cancelled' }, T0 + 1);
        }
      });
    });

    describe('transitions', () => {
      test('markRunning is a compare-and-swap from submitting and keeps big upstream ids exact', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 2 });
        const job = await reserveOk(store, u.id, { type: 'music' });
        assert.equal(await store.markRunning(job.id, BIG_UPSTREAM_ID, T0 + 5000, T0 + 10), true);
        const running = (await store.getJob(job.id))!;
        assert.equal(running.state, 'running');
        assert.equal(running.upstreamId, BIG_UPSTREAM_ID);
        assert.equal(running.nextPollAt, T0 + 5000);
        assert.equal(running.startedAt, T0, 'the slot clock keeps running from the reservation');
        assert.equal(await store.markRunning(job.id, '1', T0, T0), false, 'not submitting any more');
        assert.equal((await store.getJob(job.id))!.upstreamId, BIG_UPSTREAM_ID);

        assert.equal((await store.findJob(u.id, 'a@x.io', 'music', BIG_UPSTREAM_ID))!.id, job.id);
        assert.equal(await store.findJob(u.id, 'a@x.io', 'video', BIG_UPSTREAM_ID), null);
        assert.equal(await store.findJob(u.id, 'b@x.io', 'music', BIG_UPSTREAM_ID), null);
        assert.equal(await store.findJob(u.id + 1000, 'a@x.io', 'music', BIG_UPSTREAM_ID), null);
        assert.equal(await store.findJob(u.id, 'a@x.io', 'music', '384751234567890123457'), null);

        const other = await reserveOk(store, u.id);
        await store.finish(other.id, { state: 'failed', error: 'submit error' }, T0);
        assert.equal(await store.markRunning(other.id, '5', T0, T0), false, 'terminal jobs stay terminal');
        assert.equal(await store.getJob(other.id + job.id + 1000), null);
      });

      test('finish writes the outcome once and frees the slot', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 1 });
        const job = await runningJob(store, u.id, 'a@x.io', T0 + 10);
        const done = await store.finish(
          job.id,
          { state: 'completed', resultUrl: 'https://cdn/v.mp4', upstreamStatus: 1, result: { url: 'https://cdn/v.mp4', id: BIG_UPSTREAM_ID } },
          T0 + 500,
        );
        assert.ok(done);
        assert.equal(done.state, 'completed');
        assert.equal(done.resultUrl, 'https://cdn/v.mp4');
        assert.equal(done.upstreamStatus, 1);
        assert.deepEqual(done.result, { url: 'https://cdn/v.mp4', id: BIG_UPSTREAM_ID });
        assert.equal(done.finishedAt, T0 + 500);
        assert.equal(done.error, null);
        assert.deepEqual(await store.getJob(job.id), done);
        assert.equal(await store.finish(job.id, { state: 'failed', error: 'late' }, T0 + 600), null);
        assert.equal((await store.getJob(job.id))!.state, 'completed');
        assert.deepEqual(await store.activeJobs(u.id), []);
        await reserveOk(store, u.id, { email: 'a@x.io' }); // the single slot is free again
      });

      test('finish keeps fields the outcome omits and clears ones it sets to null', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 2 });
        const job = await runningJob(store, u.id, 'a@x.io', T0);
        const [claimed] = await store.claimDuePolls('w', T0, 1000, 10);
        assert.equal(claimed!.id, job.id);
        assert.equal(await store.reschedulePoll(job.id, claimed!.leaseToken!, T0 + 100, 5, T0), true);
        const cancelled = await store.finish(job.id, { state: 'cancelled' }, T0 + 1);
        assert.equal(cancelled!.upstreamStatus, 5, 'omitted upstreamStatus keeps the last one seen');
        assert.equal(cancelled!.error, null);

        const job2 = await runningJob(store, u.id, 'a@x.io', T0);
        const [c2] = await store.claimDuePolls('w', T0, 1000, 10);
        await store.reschedulePoll(job2.id, c2!.leaseToken!, T0 + 100, 5, T0);
        const failed = await store.finish(job2.id, { state: 'failed', upstreamStatus: null, error: 'boom' }, T0 + 1);
        assert.equal(failed!.upstreamStatus, null);
        assert.equal(failed!.error, 'boom');
      });

      test('finish honours `from`', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 2 });
        const job = await runningJob(store, u.id, 'a@x.io', T0);
        assert.equal(await store.finish(job.id, { state: 'failed', error: 'submit error' }, T0, { from: ['submitting'] }), null);
        assert.equal((await store.getJob(job.id))!.state, 'running');
        assert.equal(await store.finish(job.id, { state: 'failed' }, T0, { from: [] }), null);
        const won = await store.finish(job.id, { state: 'timed_out', error: 't' }, T0, { from: ['submitting', 'running'] });
        assert.equal(won!.state, 'timed_out');
        const sub = await reserveOk(store, u.id);
        assert.equal((await store.finish(sub.id, { state: 'failed', error: 'submit' }, T0, { from: ['submitting'] }))!.state, 'failed');
      });

      test('concurrent finish calls: exactly one winner, whose outcome is stored', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 8 });
        for (let round = 0; round < 5; round++) {
          const job = await runningJob(store, u.id, 'a@x.io', T0);
          const outcomes = [
            { state: 'completed' as const, resultUrl: 'https://cdn/1' },
            { state: 'failed' as const, error: 'upstream failed' },
            { state: 'cancelled' as const, error: 'deleted' },
            { state: 'moderated' as const, error: 'moderated' },
            { state: 'timed_out' as const, error: 'timeout' },
            { state: 'completed' as const, resultUrl: 'https://cdn/2' },
          ];
          const results = await Promise.all(outcomes.map((o, i) => store.finish(job.id, o, T0 + i)));
          const winners = results.filter((r) => r !== null);
          assert.equal(winners.length, 1, `round ${round}: exactly one winner`);
          const stored = (await store.getJob(job.id))!;
          assert.deepEqual(stored, winners[0]);
        }
        assert.deepEqual(await store.activeJobs(u.id), []);
      });

      test('activeJobs and accountLoads count submitting + running only', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 3, 'b@x.io': 2, 'c@x.io': 1 });
        const other = await userWithAccounts(store, { 'a@x.io': 3 });
        const j1 = await reserveOk(store, u.id, { email: 'a@x.io', now: T0 + 3 });
        const j2 = await runningJob(store, u.id, 'a@x.io', T0);
        const j3 = await reserveOk(store, u.id, { email: 'b@x.io', now: T0 + 1 });
        const j4 = await reserveOk(store, u.id, { email: 'b@x.io', now: T0 + 2 });
        await store.finish(j4.id, { state: 'completed' }, T0 + 9);
        await reserveOk(store, other.id, { email: 'a@x.io' });

        // Oldest slot first (j2 and its predecessor share T0; ties by insertion).
        assert.deepEqual((await store.activeJobs(u.id)).map((j) => j.id), [j2.id, j3.id, j1.id]);
        const loads = await store.accountLoads(u.id);
        assert.deepEqual(
          loads.map((l) => [l.account.email, l.executing, l.account.maxJobs]).sort(),
          [['a@x.io', 2, 3], ['b@x.io', 1, 2], ['c@x.io', 0, 1]],
        );
        assert.deepEqual(await store.accountLoads(u.id + other.id + 1000), []);
      });
    });

    describe('tracking leases', () => {
      test('claimDuePolls: due running jobs only, oldest due first, limited, each with its own token', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 8 });
        const late = await runningJob(store, u.id, 'a@x.io', T0 + 300);
        const early = await runningJob(store, u.id, 'a@x.io', T0 + 100);
        const mid = await runningJob(store, u.id, 'a@x.io', T0 + 200);
        const future = await runningJob(store, u.id, 'a@x.io', T0 + 10_000);
        await reserveOk(store, u.id, { email: 'a@x.io' }); // submitting: never polled
        const done = await runningJob(store, u.id, 'a@x.io', T0);
        await store.finish(done.id, { state: 'completed' }, T0);

        const first = await store.claimDuePolls('w1', T0 + 1000, 30_000, 2);
        assert.deepEqual(first.map((j) => j.id), [early.id, mid.id]);
        for (const j of first) {
          assert.equal(j.leaseExpiresAt, T0 + 31_000);
          assert.ok(j.leaseToken);
          assert.deepEqual((await store.getJob(j.id))!.leaseToken, j.leaseToken);
        }
        assert.notEqual(first[0]!.leaseToken, first[1]!.leaseToken);
        const second = await store.claimDuePolls('w2', T0 + 1000, 30_000, 10);
        assert.deepEqual(second.map((j) => j.id), [late.id], 'live leases are skipped, future polls not due');
        assert.deepEqual(await store.claimDuePolls('w3', T0 + 1000, 30_000, 10), []);
        assert.deepEqual(await store.claimDuePolls('w3', T0 + 10_000, 30_000, 0), [], 'limit 0 claims nothing');
        assert.deepEqual((await store.claimDuePolls('w3', T0 + 10_000, 30_000, 10)).map((j) => j.id), [future.id]);
      });

      test('a live lease is never handed to two owners; an expired one is, and the old token is fenced', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 2 });
        const job = await runningJob(store, u.id, 'a@x.io', T0);
        const [mine] = await store.claimDuePolls('w1', T0, 1000, 10);
        const racing = await Promise.all([1, 2, 3, 4].map((i) => store.claimDuePolls(`r${i}`, T0 + 999, 1000, 10)));
        assert.deepEqual(racing.flat(), [], 'lease live until T0+1000');

        const takeovers = await Promise.all([1, 2, 3, 4].map((i) => store.claimDuePolls(`r${i}`, T0 + 1000, 1000, 10)));
        const taken = takeovers.flat();
        assert.equal(taken.length, 1, 'expired lease goes to exactly one new owner');
        const theirs = taken[0]!;
        assert.equal(theirs.id, job.id);
        assert.notEqual(theirs.leaseToken, mine!.leaseToken);

        assert.equal(await store.reschedulePoll(job.id, mine!.leaseToken!, T0 + 5000, 5, T0 + 1001), false);
        assert.equal(await store.finish(job.id, { state: 'completed' }, T0 + 1001, { leaseToken: mine!.leaseToken! }), null);
        assert.deepEqual(await store.renewLeases('w1', [job.id], T0 + 1001, 1000), []);
        assert.equal((await store.getJob(job.id))!.state, 'running');

        const fin = await store.finish(job.id, { state: 'completed', resultUrl: 'u' }, T0 + 1002, { leaseToken: theirs.leaseToken! });
        assert.equal(fin!.state, 'completed');
        assert.equal(fin!.leaseToken, null, 'terminal jobs hold no lease');
      });

      test('reschedulePoll records the poll, releases the lease and makes the job due later', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 2 });
        const job = await runningJob(store, u.id, 'a@x.io', T0);
        const [claimed] = await store.claimDuePolls('w1', T0, 30_000, 10);
        assert.equal(await store.reschedulePoll(job.id, 'not-the-token', T0 + 5000, 5, T0), false);
        assert.equal(await store.reschedulePoll(job.id, claimed!.leaseToken!, T0 + 5000, 5, T0 + 1), true);
        const after = (await store.getJob(job.id))!;
        assert.equal(after.pollCount, 1);
        assert.equal(after.upstreamStatus, 5);
        assert.equal(after.nextPollAt, T0 + 5000);
        assert.equal(after.leaseToken, null);
        assert.equal(after.leaseExpiresAt, null);
        assert.equal(await store.reschedulePoll(job.id, claimed!.leaseToken!, T0 + 9000, 5, T0 + 2), false, 'token is spent');

        assert.deepEqual(await store.claimDuePolls('w2', T0 + 4999, 30_000, 10), [], 'not due yet');
        const [again] = await store.claimDuePolls('w2', T0 + 5000, 30_000, 10);
        assert.equal(again!.id, job.id, 'released at once: no wait for the old lease to expire');
        assert.equal(await store.reschedulePoll(job.id, again!.leaseToken!, T0 + 9000, 10, T0 + 5001), true);
        assert.equal((await store.getJob(job.id))!.pollCount, 2);

        await store.finish(job.id, { state: 'completed' }, T0 + 6000);
        assert.deepEqual(await store.claimDuePolls('w3', T0 + 9000, 1000, 10), [], 'finished jobs are never claimed');
      });

      test('renewLeases extends only leases the owner still holds', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 4 });
        const j1 = await runningJob(store, u.id, 'a@x.io', T0);
        const j2 = await runningJob(store, u.id, 'a@x.io', T0);
        const j3 = await runningJob(store, u.id, 'a@x.io', T0);
        const claimed = await store.claimDuePolls('w1', T0, 1000, 2);
        assert.deepEqual(claimed.map((j) => j.id), [j1.id, j2.id]);
        await store.claimDuePolls('w2', T0, 1000, 10); // w2 holds j3

        assert.deepEqual(await store.renewLeases('w1', [], T0 + 500, 1000), []);
        const held = await store.renewLeases('w1', [j1.id, j2.id, j3.id, j3.id + 1000], T0 + 500, 1000);
        assert.deepEqual([...held].sort((a, b) => a - b), [j1.id, j2.id]);
        assert.equal((await store.getJob(j1.id))!.leaseExpiresAt, T0 + 1500);
        assert.equal((await store.getJob(j3.id))!.leaseExpiresAt, T0 + 1000, "w2's lease untouched");
        assert.equal((await store.getJob(j1.id))!.leaseToken, claimed[0]!.leaseToken, 'renewal keeps the token');

        // At T0+1200 the original lease would have expired; the renewed one holds.
        const stolen = await store.claimDuePolls('w3', T0 + 1200, 1000, 10);
        assert.deepEqual(stolen.map((j) => j.id), [j3.id]);
        assert.deepEqual(await store.renewLeases('w2', [j3.id], T0 + 1200, 1000), [], 'w2 lost j3 to w3');
        await store.finish(j2.id, { state: 'completed' }, T0 + 1300, { leaseToken: claimed[1]!.leaseToken! });
        assert.deepEqual(await store.renewLeases('w1', [j1.id, j2.id], T0 + 1300, 1000), [j1.id], 'finished jobs are not held');
      });

      test('releaseLeases frees only that owner’s jobs for immediate pick-up', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 4 });
        const j1 = await runningJob(store, u.id, 'a@x.io', T0);
        const j2 = await runningJob(store, u.id, 'a@x.io', T0);
        await store.claimDuePolls('w1', T0, 60_000, 1);
        await store.claimDuePolls('w2', T0, 60_000, 1);
        await store.releaseLeases('w1');
        await store.releaseLeases('nobody');
        assert.equal((await store.getJob(j1.id))!.leaseToken, null);
        assert.notEqual((await store.getJob(j2.id))!.leaseToken, null);
        const picked = await store.claimDuePolls('w3', T0 + 1, 60_000, 10);
        assert.deepEqual(picked.map((j) => j.id), [j1.id]);
      });

      test('nextPollDue: earliest claimable poll among running jobs', async (store) => {
        assert.equal(await store.nextPollDue(), null);
        const u = await userWithAccounts(store, { 'a@x.io': 8 });
        await reserveOk(store, u.id); // submitting jobs have no poll
        assert.equal(await store.nextPollDue(), null);
        const a = await runningJob(store, u.id, 'a@x.io', T0 + 700);
        await runningJob(store, u.id, 'a@x.io', T0 + 900);
        assert.equal(await store.nextPollDue(), T0 + 700);
        await store.finish(a.id, { state: 'completed' }, T0);
        assert.equal(await store.nextPollDue(), T0 + 900);
        await runningJob(store, u.id, 'a@x.io', T0 + 100);
        // While a live lease holds the earliest job, it is not claimable before the lease expires.
        const [held] = await store.claimDuePolls('w1', T0 + 100, 500, 1);
        assert.equal(held!.nextPollAt, T0 + 100);
        assert.equal(await store.nextPollDue(), T0 + 600);
        await store.reschedulePoll(held!.id, held!.leaseToken!, T0 + 2000, 5, T0 + 150);
        assert.equal(await store.nextPollDue(), T0 + 900);
      });
    });

    describe('webhook lookups and expedited polls', () => {
      test('jobsByUpstreamId: every job with that upstream id, any state or tenant, newest first', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 4, 'b@x.io': 4 });
        const v = await userWithAccounts(store, { 'a@x.io': 4 });
        assert.deepEqual(await store.jobsByUpstreamId(BIG_UPSTREAM_ID), []);
        const old = await runningJob(store, u.id, 'a@x.io', T0 + 100, BIG_UPSTREAM_ID);
        await store.finish(old.id, { state: 'failed', error: 'resubmitted' }, T0 + 1);
        const elsewhere = await runningJob(store, v.id, 'a@x.io', T0 + 100, BIG_UPSTREAM_ID);
        const current = await runningJob(store, u.id, 'b@x.io', T0 + 100, BIG_UPSTREAM_ID);
        // Equal to BIG_UPSTREAM_ID as a JS number (both exceed 2^53), different as the text it is.
        const neighbour = await runningJob(store, u.id, 'a@x.io', T0 + 100, '384751234567890123457');
        await reserveOk(store, u.id); // submitting: no upstream id yet
        await enqueueOk(store, u.id); // queued: none either

        const found = await store.jobsByUpstreamId(BIG_UPSTREAM_ID);
        assert.deepEqual(found.map((j) => j.id), [current.id, elsewhere.id, old.id]);
        assert.deepEqual(found.map((j) => [j.userId, j.state]), [[u.id, 'running'], [v.id, 'running'], [u.id, 'failed']]);
        assert.deepEqual(found[0], await store.getJob(current.id), 'whole jobs, as getJob reads them');
        assert.deepEqual((await store.jobsByUpstreamId('384751234567890123457')).map((j) => j.id), [neighbour.id]);
        assert.deepEqual(await store.jobsByUpstreamId('1'), []);
        assert.deepEqual(await store.jobsByUpstreamId(''), []);
      });

      test('expeditePoll: a running job is due at once (never later than before); any other job answers false', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 8 });
        const job = await runningJob(store, u.id, 'a@x.io', T0 + 60_000);
        assert.equal(await store.nextPollDue(), T0 + 60_000);
        assert.deepEqual(await store.claimDuePolls('w', T0 + 10, 30_000, 10), [], 'not due before the webhook');
        assert.equal(await store.expeditePoll(job.id, T0 + 10), true);
        assert.equal((await store.getJob(job.id))!.nextPollAt, T0 + 10);
        assert.equal(await store.nextPollDue(), T0 + 10);
        assert.equal(await store.expeditePoll(job.id, T0 + 20), true, 'a second webhook');
        assert.equal((await store.getJob(job.id))!.nextPollAt, T0 + 10, 'an earlier due time is kept');
        const [claimed] = await store.claimDuePolls('w', T0 + 20, 30_000, 10);
        assert.equal(claimed!.id, job.id);

        const submitting = await reserveOk(store, u.id);
        const queued = await enqueueOk(store, u.id);
        const done = await runningJob(store, u.id, 'a@x.io', T0 + 60_000);
        await store.finish(done.id, { state: 'completed' }, T0 + 30);
        for (const other of [submitting, queued, done]) {
          const before = await store.getJob(other.id);
          assert.equal(await store.expeditePoll(other.id, T0 + 40), false, `a ${before!.state} job`);
          assert.deepEqual(await store.getJob(other.id), before, 'left as it was');
        }
        assert.equal(await store.expeditePoll(done.id + 1000, T0 + 40), false, 'unknown job');
      });

      test('expeditePoll during a poll: that poll’s reschedule makes the job due at `now`, once', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 2 });
        const job = await runningJob(store, u.id, 'a@x.io', T0);
        const [claimed] = await store.claimDuePolls('w1', T0, 30_000, 10);
        // The webhook lands while w1's poll is in flight.
        assert.equal(await store.expeditePoll(job.id, T0 + 5), true);
        const leased = (await store.getJob(job.id))!;
        assert.deepEqual([leased.leaseToken, leased.leaseExpiresAt], [claimed!.leaseToken, T0 + 30_000], 'the lease is untouched');
        assert.deepEqual(await store.claimDuePolls('w2', T0 + 6, 30_000, 10), [], 'no second poller while the lease lives');
        assert.equal(await store.nextPollDue(), T0 + 30_000);

        // w1's answer ("still running", next look in a minute) may predate the webhook: due at `now` instead.
        assert.equal(await store.reschedulePoll(job.id, claimed!.leaseToken!, T0 + 60_000, 5, T0 + 8), true);
        const after = (await store.getJob(job.id))!;
        assert.deepEqual([after.nextPollAt, after.pollCount, after.upstreamStatus, after.leaseToken], [T0 + 8, 1, 5, null]);
        assert.equal(await store.nextPollDue(), T0 + 8);

        // The hint is spent: the re-poll goes by its computed time.
        const [again] = await store.claimDuePolls('w2', T0 + 8, 30_000, 10);
        assert.equal(again!.id, job.id);
        assert.equal(await store.reschedulePoll(job.id, again!.leaseToken!, T0 + 70_000, 5, T0 + 9), true);
        assert.equal((await store.getJob(job.id))!.nextPollAt, T0 + 70_000);
        assert.equal(await store.nextPollDue(), T0 + 70_000);
      });

      test('a claim clears the hint: a poll started after the webhook keeps its computed time', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 2 });
        const job = await runningJob(store, u.id, 'a@x.io', T0 + 60_000);
        assert.equal(await store.expeditePoll(job.id, T0 + 1), true); // no poll in flight
        const [claimed] = await store.claimDuePolls('w1', T0 + 2, 30_000, 10);
        assert.equal(claimed!.id, job.id, 'due at once');
        assert.equal(await store.reschedulePoll(job.id, claimed!.leaseToken!, T0 + 40_000, 5, T0 + 3), true);
        assert.equal((await store.getJob(job.id))!.nextPollAt, T0 + 40_000);

        // A hint set under a lease that then expires and is taken over: the new holder's claim clears it
        // (its poll starts after the webhook), and the old holder's reschedule is fenced out.
        const [first] = await store.claimDuePolls('w1', T0 + 40_000, 1000, 10);
        assert.equal(await store.expeditePoll(job.id, T0 + 40_100), true);
        const [taken] = await store.claimDuePolls('w2', T0 + 41_000, 30_000, 10);
        assert.equal(taken!.id, job.id);
        assert.equal(await store.reschedulePoll(job.id, first!.leaseToken!, T0 + 99_000, 5, T0 + 41_001), false);
        assert.equal(await store.reschedulePoll(job.id, taken!.leaseToken!, T0 + 50_000, 5, T0 + 41_002), true);
        assert.equal((await store.getJob(job.id))!.nextPollAt, T0 + 50_000);
      });
    });

    describe('sweeping', () => {
      test('expireJobs times out old slot holders only, once', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 8 });
        const oldSub = await reserveOk(store, u.id, { now: T0 });
        const oldRun = await runningJob(store, u.id, 'a@x.io', T0 + 10);
        const oldDone = await reserveOk(store, u.id, { now: T0 });
        await store.finish(oldDone.id, { state: 'completed' }, T0 + 5);
        const fresh = await reserveOk(store, u.id, { now: T0 + 1000 });
        const [leased] = await store.claimDuePolls('w1', T0 + 10, 60_000, 10);
        assert.equal(leased!.id, oldRun.id);

        const expired = await store.expireJobs(T0 + 1000, T0 + 2000, 'timed out after 1 s');
        assert.deepEqual(expired.map((j) => j.id).sort(), [oldSub.id, oldRun.id].sort());
        for (const j of expired) {
          assert.equal(j.state, 'timed_out');
          assert.equal(j.error, 'timed out after 1 s');
          assert.equal(j.finishedAt, T0 + 2000);
          assert.equal(j.leaseToken, null);
        }
        assert.equal((await store.getJob(oldDone.id))!.state, 'completed');
        assert.deepEqual((await store.activeJobs(u.id)).map((j) => j.id), [fresh.id]);
        assert.deepEqual(await store.expireJobs(T0 + 1000, T0 + 3000, 'again'), []);
        assert.equal(await store.finish(oldRun.id, { state: 'completed' }, T0 + 3000, { leaseToken: leased!.leaseToken! }), null);
      });

      test('claimStaleSubmitting leases abandoned submits to one owner at a time', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 8 });
        const s1 = await reserveOk(store, u.id, { now: T0 });
        const s2 = await reserveOk(store, u.id, { now: T0 + 10 });
        const recent = await reserveOk(store, u.id, { now: T0 + 5000 });
        await runningJob(store, u.id, 'a@x.io', T0); // running: not a submit to reconcile
        const failed = await reserveOk(store, u.id, { now: T0 });
        await store.finish(failed.id, { state: 'failed' }, T0 + 1);

        const claimed = await store.claimStaleSubmitting('w1', T0 + 1000, T0 + 6000, 30_000, 10);
        assert.deepEqual(claimed.map((j) => j.id), [s1.id, s2.id]);
        for (const j of claimed) {
          assert.equal(j.state, 'submitting');
          assert.ok(j.leaseToken);
          assert.equal(j.leaseExpiresAt, T0 + 36_000);
        }
        assert.deepEqual(await store.claimStaleSubmitting('w2', T0 + 1000, T0 + 6000, 30_000, 10), []);
        assert.deepEqual(await store.claimStaleSubmitting('w2', T0 + 1000, T0 + 6000, 30_000, 0), []);
        const limited = await store.claimStaleSubmitting('w2', T0 + 6000, T0 + 36_000, 30_000, 1);
        assert.deepEqual(limited.map((j) => j.id), [s1.id], 'after expiry, oldest first, limited');
        assert.ok(!claimed.some((j) => j.id === recent.id));

        // Reconciled: the job runs and its reconciliation lease no longer fences anything.
        assert.equal(await store.markRunning(s1.id, '777', T0 + 40_000, T0 + 36_001), true);
        assert.equal((await store.getJob(s1.id))!.leaseToken, null);
        assert.equal(await store.finish(s1.id, { state: 'failed' }, T0 + 36_002, { leaseToken: limited[0]!.leaseToken! }), null);
        const polls = await store.claimDuePolls('t', T0 + 40_000, 1000, 10);
        assert.ok(polls.some((j) => j.id === s1.id), 'the tracker can claim it');

        // Or failed by the reconciler, fenced by its token.
        const s2Lease = claimed[1]!.leaseToken!;
        assert.equal((await store.finish(s2.id, { state: 'failed', error: 'lost' }, T0 + 7000, { leaseToken: s2Lease, from: ['submitting'] }))!.state, 'failed');
      });
    });

    describe('tenant settings, webhook secrets, token weights', () => {
      test('settings update partially and round-trip; secrets rotate; unknown user is null', async (store) => {
        const u = await store.createUser('u', T0, SECRET);
        const other = await store.createUser('o', T0, 'whsec_other');
        const s1 = await store.updateTenantSettings(u.id, { queueByDefault: true, maxQueueLength: 5 });
        assert.ok(s1);
        assert.equal(s1.queueByDefault, true);
        assert.equal(s1.maxQueueLength, 5);
        assert.equal(s1.maxQueueWaitMs, DEFAULT_TENANT_SETTINGS.maxQueueWaitMs, 'absent settings keep their value');
        assert.equal(s1.replyUrl, null);
        const s2 = await store.updateTenantSettings(u.id, { replyUrl: 'https://hook.example/t', maxQueueWaitMs: 1234 });
        assert.deepEqual(
          [s2!.queueByDefault, s2!.maxQueueLength, s2!.maxQueueWaitMs, s2!.replyUrl],
          [true, 5, 1234, 'https://hook.example/t'],
        );
        const s3 = await store.updateTenantSettings(u.id, { replyUrl: null, queueByDefault: false });
        assert.equal(s3!.replyUrl, null, 'explicit null clears');
        assert.equal(s3!.queueByDefault, false);
        assert.equal(s3!.maxQueueLength, 5);
        assert.deepEqual(await store.getUser(u.id), s3);
        assert.deepEqual(await store.updateTenantSettings(u.id, {}), s3, 'empty update changes nothing');
        assert.equal(await store.updateTenantSettings(u.id + other.id + 1000, { maxQueueLength: 1 }), null);
        assert.equal((await store.getUser(other.id))!.maxQueueLength, DEFAULT_TENANT_SETTINGS.maxQueueLength, 'other tenant untouched');

        const r1 = await store.rotateWebhookSecret(u.id, 'whsec_two', T0 + 86_400_000);
        assert.deepEqual(
          [r1!.webhookSecret, r1!.webhookSecretPrev, r1!.webhookSecretPrevUntil],
          ['whsec_two', SECRET, T0 + 86_400_000],
        );
        const r2 = await store.rotateWebhookSecret(u.id, 'whsec_three', T0 + 99);
        assert.deepEqual([r2!.webhookSecret, r2!.webhookSecretPrev, r2!.webhookSecretPrevUntil], ['whsec_three', 'whsec_two', T0 + 99]);
        assert.deepEqual(await store.getUser(u.id), r2);
        assert.equal(r2!.maxQueueLength, 5, 'rotation keeps settings');
        assert.equal(await store.rotateWebhookSecret(u.id + other.id + 1000, 'x', T0), null);
        assert.equal((await store.getUser(other.id))!.webhookSecret, 'whsec_other');
      });

      test('token weights default to 1 and are set per tenant', async (store) => {
        const u = await store.createUser('u', T0, SECRET);
        const other = await store.createUser('o', T0, SECRET);
        const t = await store.addToken(u.id, 'f'.repeat(64), null, T0);
        assert.equal(t.weight, 1);
        assert.equal(await store.setTokenWeight(u.id, t.id, 3), true);
        assert.equal((await store.listTokens(u.id))[0]!.weight, 3);
        assert.equal((await store.activeTokens(u.id))[0]!.weight, 3);
        assert.equal(await store.setTokenWeight(u.id, t.id, 0.5), true);
        assert.equal((await store.listTokens(u.id))[0]!.weight, 0.5);
        assert.equal(await store.setTokenWeight(other.id, t.id, 7), false, "another tenant's token");
        assert.equal(await store.setTokenWeight(u.id, t.id + 1000, 7), false, 'unknown token');
        assert.equal((await store.listTokens(u.id))[0]!.weight, 0.5);
      });
    });

    describe('queue', () => {
      test('enqueue inserts a queued job that holds no slot', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 1 });
        const token = await store.addToken(u.id, '1'.repeat(64), null, T0);
        const input = enqueueInput(u.id, {
          tokenId: token.id, type: 'image', traceId: 'trace-q', priority: 1, maxJobsOverride: 2,
          upstream: { op: 'image.text', params: { id: '9007199254740993' } }, request: { prompt: 'q' },
          // A fractional rank (queued at T0+7, expected 45,000.25 ms) must come back exactly.
          replyUrl: 'https://hook.example/q', replyRef: 'ref-q', now: T0 + 7, queueRank: T0 + 7 - 45_000.25,
        });
        const res = await store.enqueue(input, 10);
        assert.ok(res.ok);
        const expected: Job = {
          provider: 'pixverse',
          id: res.job.id, userId: u.id, tokenId: token.id, email: null, pinnedEmail: null, type: 'image', state: 'queued',
          upstreamId: null, traceId: 'trace-q', upstream: input.upstream, request: input.request,
          replyUrl: 'https://hook.example/q', replyRef: 'ref-q', priority: 1, queueRank: T0 + 7 - 45_000.25, maxJobsOverride: 2,
          createdAt: T0 + 7, queuedAt: T0 + 7, startedAt: null, finishedAt: null, resultUrl: null, error: null,
          upstreamStatus: null, result: null, pollCount: 0, nextPollAt: null, leaseToken: null, leaseExpiresAt: null, untrackedAt: null, untrackCallback: false, deletedAt: null,
        };
        assert.deepEqual(res.job, expected);
        assert.deepEqual(await store.getJob(res.job.id), expected);

        const pinned = await enqueueOk(store, u.id, { email: 'a@x.io', priority: -1, now: T0 + 8 });
        assert.equal(pinned.email, 'a@x.io', 'a pinned queued job already names its account');
        assert.equal(pinned.pinnedEmail, 'a@x.io');
        assert.equal(pinned.startedAt, null);
        assert.equal(pinned.priority, -1);
        assert.ok(pinned.id > res.job.id);

        assert.deepEqual(await store.activeJobs(u.id), [], 'queued jobs hold no slot');
        assert.equal((await loadsByEmail(store, u.id)).get('a@x.io'), 0);
        await reserveOk(store, u.id, { email: 'a@x.io' }); // the slot is still free for a direct reservation
      });

      test('enqueue refuses: no_accounts, unknown_account, queue_full at the bound', async (store) => {
        const empty = await store.createUser('empty', T0, SECRET);
        assert.deepEqual(await store.enqueue(enqueueInput(empty.id), 10), { ok: false, reason: 'no_accounts' });
        assert.deepEqual(await store.enqueue(enqueueInput(empty.id, { email: 'a@x.io' }), 10), { ok: false, reason: 'unknown_account' });

        const u = await userWithAccounts(store, { 'a@x.io': 1 });
        const other = await userWithAccounts(store, { 'a@x.io': 1 });
        assert.deepEqual(await store.enqueue(enqueueInput(u.id, { email: 'b@x.io' }), 10), { ok: false, reason: 'unknown_account' });
        assert.deepEqual(await store.enqueue(enqueueInput(u.id), 0), { ok: false, reason: 'queue_full', queued: 0 });
        await enqueueOk(store, u.id, {}, 2);
        await enqueueOk(store, u.id, { email: 'a@x.io' }, 2);
        await enqueueOk(store, other.id, {}, 2); // other tenants' queues do not count
        assert.deepEqual(await store.enqueue(enqueueInput(u.id), 2), { ok: false, reason: 'queue_full', queued: 2 });
        assert.equal(await store.countQueued(u.id), 2, 'refusals insert nothing');
        // A dispatched job has left the queue: there is room again.
        assert.ok(await store.dispatch(u.id, T0));
        await enqueueOk(store, u.id, {}, 2);
        assert.deepEqual(await store.enqueue(enqueueInput(u.id), 2), { ok: false, reason: 'queue_full', queued: 2 });
      });

      test('concurrent enqueues never exceed maxQueueLength', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 1 });
        const results = await Promise.all(Array.from({ length: 12 }, () => store.enqueue(enqueueInput(u.id), 5)));
        assert.equal(results.filter((r) => r.ok).length, 5);
        for (const r of results) if (!r.ok) assert.equal(r.reason, 'queue_full');
        assert.equal(await store.countQueued(u.id), 5);
      });

      test('queue reads: queuedUsers, queuedJobs in (priority, rank, id) order, countQueued', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 1 });
        const v = await userWithAccounts(store, { 'a@x.io': 2 });
        await userWithAccounts(store, { 'a@x.io': 1 }); // nothing queued
        assert.deepEqual(await store.queuedUsers(), []);
        const j1 = await enqueueOk(store, u.id, { now: T0 });
        const j2 = await enqueueOk(store, u.id, { now: T0 + 1, priority: 1 });
        const j3 = await enqueueOk(store, u.id, { now: T0 + 2 });
        await enqueueOk(store, v.id);
        await reserveOk(store, v.id); // slot holders are not queued
        assert.deepEqual([...(await store.queuedUsers())].sort((a, b) => a - b), [u.id, v.id].sort((a, b) => a - b));
        assert.deepEqual((await store.queuedJobs(u.id, 10)).map((j) => j.id), [j2.id, j1.id, j3.id]);
        assert.deepEqual((await store.queuedJobs(u.id, 2)).map((j) => j.id), [j2.id, j1.id]);
        assert.deepEqual(await store.queuedJobs(u.id, 0), []);
        assert.equal(await store.countQueued(u.id), 3);
        assert.equal(await store.countQueued(v.id), 1);
        await store.finish(j1.id, { state: 'cancelled' }, T0 + 5);
        assert.deepEqual((await store.queuedJobs(u.id, 10)).map((j) => j.id), [j2.id, j3.id]);
        assert.equal(await store.countQueued(u.id), 2);
        const d = await store.dispatch(v.id, T0);
        assert.equal(d!.job.userId, v.id);
        assert.deepEqual(await store.queuedUsers(), [u.id]);
      });

      test('dispatch binds jobs only to healthy accounts with a free slot, honouring pins', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 1, 'b@x.io': 2, 'c@x.io': 1 });
        await store.setAccountHealth(u.id, 'c@x.io', { state: 'error', reason: 'banned', cooldownUntil: null, now: T0 });
        const onC = await enqueueOk(store, u.id, { email: 'c@x.io' });
        const onA1 = await enqueueOk(store, u.id, { email: 'a@x.io' });
        const onA2 = await enqueueOk(store, u.id, { email: 'a@x.io' });
        const free1 = await enqueueOk(store, u.id);
        const free2 = await enqueueOk(store, u.id);
        const free3 = await enqueueOk(store, u.id);
        assert.equal(await store.dispatch(u.id + 1000, T0), null, 'unknown tenant');

        const first = await dispatchAll(store, u.id, T0 + 10);
        assert.deepEqual(first.map((d) => [d.job.id, d.account.email]), [
          [onA1.id, 'a@x.io'],
          [free1.id, 'b@x.io'],
          [free2.id, 'b@x.io'],
        ]);
        for (const d of first) {
          assert.equal(d.job.state, 'submitting');
          assert.equal(d.job.email, d.account.email);
          assert.equal(d.job.startedAt, T0 + 10);
          assert.equal(d.job.queuedAt, T0, 'queuedAt is kept');
          assert.deepEqual(await store.getJob(d.job.id), d.job);
        }
        assert.deepEqual(Object.fromEntries(await loadsByEmail(store, u.id)), { 'a@x.io': 1, 'b@x.io': 2, 'c@x.io': 0 });
        for (const j of [onC, onA2, free3]) assert.equal((await store.getJob(j.id))!.state, 'queued');

        // Re-posting c clears its error: the job pinned to it can go; c is then full.
        await store.upsertAccount({ userId: u.id, email: 'c@x.io', apiKeyEnc: 'k', maxJobs: 1, now: T0 });
        assert.deepEqual((await dispatchAll(store, u.id, T0 + 20)).map((d) => [d.job.id, d.account.email]), [[onC.id, 'c@x.io']]);

        // A slot frees on a: the older of the two jobs that fit there wins.
        await store.finish(onA1.id, { state: 'completed' }, T0 + 30);
        assert.deepEqual((await dispatchAll(store, u.id, T0 + 30)).map((d) => [d.job.id, d.account.email]), [[onA2.id, 'a@x.io']]);

        // A slot frees on b while b cools down: nothing until the cool-down ends.
        await store.finish(free1.id, { state: 'completed' }, T0 + 40);
        await store.setAccountHealth(u.id, 'b@x.io', { state: 'cooldown', reason: 'rate', cooldownUntil: T0 + 1000, now: T0 + 40 });
        assert.equal(await store.dispatch(u.id, T0 + 999), null);
        const last = await store.dispatch(u.id, T0 + 1000);
        assert.deepEqual([last!.job.id, last!.account.email], [free3.id, 'b@x.io']);
        assert.equal(await store.countQueued(u.id), 0);
        assert.equal(await store.dispatch(u.id, T0 + 1000), null);
      });

      test('dispatch uses the job’s maxJobsOverride as the slot limit', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 1, 'b@x.io': 3 });
        await reserveOk(store, u.id, { email: 'a@x.io' }); // a: 1/1
        await reserveOk(store, u.id, { email: 'b@x.io' }); // b: 1/3
        const lowPinned = await enqueueOk(store, u.id, { email: 'b@x.io', maxJobsOverride: 1 }); // b has 1 ≥ 1: never fits now
        const lowFree = await enqueueOk(store, u.id, { maxJobsOverride: 1 }); // every account has ≥ 1: does not fit
        const highPinned = await enqueueOk(store, u.id, { email: 'a@x.io', maxJobsOverride: 3 }); // a has 1 < 3: fits
        const plainA = await enqueueOk(store, u.id, { email: 'a@x.io' }); // a full at its own limit
        const d1 = await store.dispatch(u.id, T0);
        assert.deepEqual([d1!.job.id, d1!.account.email], [highPinned.id, 'a@x.io']);
        const d2 = await store.dispatch(u.id, T0); // lowFree / plainA / lowPinned don't fit; nothing else queued
        assert.equal(d2, null);
        const highFree = await enqueueOk(store, u.id, { maxJobsOverride: 2 }); // b has 1 < 2
        const d3 = await store.dispatch(u.id, T0);
        assert.deepEqual([d3!.job.id, d3!.account.email], [highFree.id, 'b@x.io']);
        assert.equal(await store.dispatch(u.id, T0), null);
        for (const j of [lowPinned, lowFree, plainA]) assert.equal((await store.getJob(j.id))!.state, 'queued');
        assert.deepEqual(Object.fromEntries(await loadsByEmail(store, u.id)), { 'a@x.io': 2, 'b@x.io': 2 });
      });

      test('requeue returns a dispatched job to the queue, unbinding it unless pinned', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 2, 'b@x.io': 2 });
        const free = await enqueueOk(store, u.id, { now: T0 + 1 });
        const pinned = await enqueueOk(store, u.id, { email: 'b@x.io', now: T0 + 2 });
        const [d1, d2] = await dispatchAll(store, u.id, T0 + 10);
        assert.deepEqual([d1!.job.id, d2!.job.id], [free.id, pinned.id]);
        assert.equal(d2!.account.email, 'b@x.io');

        assert.equal(await store.requeue(free.id, T0 + 20), true);
        assert.equal(await store.requeue(pinned.id, T0 + 20), true);
        assert.equal(await store.requeue(free.id, T0 + 21), false, 'no longer submitting');
        const back = (await store.getJob(free.id))!;
        assert.deepEqual([back.state, back.email, back.pinnedEmail, back.startedAt, back.queuedAt], ['queued', null, null, null, T0 + 1]);
        const backPinned = (await store.getJob(pinned.id))!;
        assert.deepEqual([backPinned.state, backPinned.email, backPinned.startedAt], ['queued', 'b@x.io', null]);
        assert.deepEqual(Object.fromEntries(await loadsByEmail(store, u.id)), { 'a@x.io': 0, 'b@x.io': 0 }, 'slots freed');
        assert.equal(await store.countQueued(u.id), 2);

        const again = await dispatchAll(store, u.id, T0 + 30);
        assert.deepEqual(again.map((d) => d.job.id).sort((a, b) => a - b), [free.id, pinned.id]);
        assert.equal(again.find((d) => d.job.id === pinned.id)!.account.email, 'b@x.io');

        // Only submitting jobs can be requeued.
        assert.equal(await store.markRunning(free.id, '55', T0 + 100, T0 + 31), true);
        assert.equal(await store.requeue(free.id, T0 + 32), false);
        assert.equal(await store.requeue(free.id + pinned.id + 1000, T0 + 32), false);
        // A directly reserved job may be requeued too; it then waits like any queued job.
        const direct = await reserveOk(store, u.id, { email: 'a@x.io' });
        assert.equal(await store.requeue(direct.id, T0 + 40), true);
        assert.deepEqual([(await store.getJob(direct.id))!.state, (await store.getJob(direct.id))!.email], ['queued', 'a@x.io']);
        assert.equal(await store.countQueued(u.id), 1);
        assert.equal((await store.dispatch(u.id, T0 + 41))!.job.id, direct.id, 'and is dispatched like any queued job');
      });

      test('finish cancels a queued job (it never held a slot)', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 1 });
        const job = await enqueueOk(store, u.id);
        assert.equal(await store.finish(job.id, { state: 'cancelled' }, T0 + 1, { from: ['submitting', 'running'] }), null);
        const cancelled = await store.finish(job.id, { state: 'cancelled', error: 'deleted by client' }, T0 + 2);
        assert.ok(cancelled);
        assert.deepEqual(
          [cancelled.state, cancelled.error, cancelled.finishedAt, cancelled.startedAt, cancelled.email],
          ['cancelled', 'deleted by client', T0 + 2, null, null],
        );
        assert.equal(await store.finish(job.id, { state: 'cancelled' }, T0 + 3), null, 'once');
        assert.equal(await store.countQueued(u.id), 0);
        assert.equal(await store.dispatch(u.id, T0 + 4), null);
        const other = await enqueueOk(store, u.id);
        assert.equal((await store.finish(other.id, { state: 'cancelled' }, T0 + 5, { from: ['queued'] }))!.state, 'cancelled');
      });

      test('deleteAccount also cancels the queued jobs pinned to it', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 1, 'b@x.io': 1 });
        const running = await runningJob(store, u.id, 'a@x.io', T0 + 100);
        const onA = await enqueueOk(store, u.id, { email: 'a@x.io' });
        const onB = await enqueueOk(store, u.id, { email: 'b@x.io' });
        const free = await enqueueOk(store, u.id);
        const result = await store.deleteAccount(u.id, 'a@x.io', T0 + 50);
        assert.deepEqual(result!.cancelled.map((j) => j.id), [running.id, onA.id]);
        for (const j of result!.cancelled) {
          assert.equal(j.state, 'cancelled');
          assert.equal(j.finishedAt, T0 + 50);
        }
        assert.equal((await store.getJob(onB.id))!.state, 'queued');
        assert.equal((await store.getJob(free.id))!.state, 'queued');
        assert.equal(await store.countQueued(u.id), 2);
        // The remaining queue still dispatches onto b.
        const d = await store.dispatch(u.id, T0 + 60);
        assert.equal(d!.account.email, 'b@x.io');
      });

      test('expireQueued times out jobs queued longer than their tenant’s maxQueueWaitMs', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 1 });
        const v = await userWithAccounts(store, { 'a@x.io': 1 });
        await store.updateTenantSettings(u.id, { maxQueueWaitMs: 1000 });
        const dispatched = await enqueueOk(store, u.id, { now: T0 });
        assert.equal((await store.dispatch(u.id, T0))!.job.id, dispatched.id);
        const old = await enqueueOk(store, u.id, { now: T0 });
        const newer = await enqueueOk(store, u.id, { now: T0 + 500 });
        const elsewhere = await enqueueOk(store, v.id, { now: T0 }); // default wait: an hour

        assert.deepEqual(await store.expireQueued(T0 + 1000, 'queue wait'), [], 'exactly the limit is not longer');
        const first = await store.expireQueued(T0 + 1001, 'queued too long');
        assert.deepEqual(first.map((j) => j.id), [old.id]);
        assert.deepEqual([first[0]!.state, first[0]!.error, first[0]!.finishedAt], ['timed_out', 'queued too long', T0 + 1001]);
        assert.deepEqual((await store.expireQueued(T0 + 1501, 'queued too long')).map((j) => j.id), [newer.id]);
        assert.equal((await store.getJob(dispatched.id))!.state, 'submitting', 'dispatched jobs are not queue-expired');
        assert.equal((await store.getJob(elsewhere.id))!.state, 'queued');
        assert.deepEqual(await store.expireQueued(T0 + 1501, 'again'), []);
        assert.deepEqual(
          (await store.expireQueued(T0 + DEFAULT_TENANT_SETTINGS.maxQueueWaitMs + 1, 'x')).map((j) => j.id),
          [elsewhere.id],
        );
      });

      test('expireJobs never touches queued jobs', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 1 });
        const held = await reserveOk(store, u.id, { now: T0 });
        const queued = await enqueueOk(store, u.id, { now: T0 });
        const expired = await store.expireJobs(T0 + 10_000, T0 + 10_000, 'timeout');
        assert.deepEqual(expired.map((j) => j.id), [held.id]);
        assert.equal((await store.getJob(queued.id))!.state, 'queued');
      });
    });

    describe('fair dispatch', () => {
      test('a token with few jobs is not stuck behind a token with many', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 100 });
        const big = await store.addToken(u.id, '2'.repeat(64), 'big', T0);
        const small = await store.addToken(u.id, '3'.repeat(64), 'small', T0);
        await enqueueMany(store, u.id, 50, { tokenId: big.id });
        await enqueueMany(store, u.id, 5, { tokenId: small.id });
        const first10 = await dispatchTokens(store, u.id, 10);
        assert.equal(countOf(first10, small.id), 5, `small token's jobs within the first 10: ${JSON.stringify(first10)}`);
        assert.equal((await dispatchAll(store, u.id)).length, 45);
      });

      test('weights 3:1 give a 3:1 share', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 100 });
        const heavy = await store.addToken(u.id, '4'.repeat(64), null, T0);
        const light = await store.addToken(u.id, '5'.repeat(64), null, T0);
        assert.equal(await store.setTokenWeight(u.id, heavy.id, 3), true);
        await enqueueMany(store, u.id, 40, { tokenId: light.id });
        await enqueueMany(store, u.id, 40, { tokenId: heavy.id });
        const got = await dispatchTokens(store, u.id, 40);
        const h = countOf(got, heavy.id);
        assert.ok(h >= 29 && h <= 31, `heavy got ${h} of 40 (expected ~30)`);
        // The share holds over any window, not just in total.
        const firstEight = got.slice(0, 8);
        assert.ok(countOf(firstEight, heavy.id) >= 5 && countOf(firstEight, light.id) >= 1, JSON.stringify(firstEight));
      });

      test('jobs without a token share the queue like one more token of weight 1', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 100 });
        const t = await store.addToken(u.id, '6'.repeat(64), null, T0);
        await enqueueMany(store, u.id, 20, { tokenId: t.id });
        await enqueueMany(store, u.id, 20, { tokenId: null });
        const got = await dispatchTokens(store, u.id, 10);
        assert.equal(countOf(got, null), 5, JSON.stringify(got));
        assert.equal(countOf(got, t.id), 5);
      });

      test('only tokens with a job that fits compete; a skipped token keeps its turn', async (store) => {
        const u = await userWithAccounts(store, { 'p@x.io': 1, 'q@x.io': 5 });
        const blocker = await reserveOk(store, u.id, { email: 'p@x.io' }); // p full
        const a = await store.addToken(u.id, '7'.repeat(64), null, T0);
        const b = await store.addToken(u.id, '8'.repeat(64), null, T0);
        await enqueueMany(store, u.id, 3, { tokenId: a.id, email: 'p@x.io' });
        await enqueueMany(store, u.id, 3, { tokenId: b.id });
        assert.deepEqual(await dispatchTokens(store, u.id, 3), [b.id, b.id, b.id]);
        assert.equal(await store.dispatch(u.id, T0), null);
        await store.finish(blocker.id, { state: 'completed' }, T0);
        const next = await store.dispatch(u.id, T0);
        assert.deepEqual([next!.job.tokenId, next!.account.email], [a.id, 'p@x.io']);
      });

      test('priority orders jobs within a token: high first, then oldest', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 10 });
        const low = await enqueueOk(store, u.id, { priority: -1 });
        const normal1 = await enqueueOk(store, u.id, { priority: 0 });
        const high1 = await enqueueOk(store, u.id, { priority: 1 });
        const normal2 = await enqueueOk(store, u.id, { priority: 0 });
        const high2 = await enqueueOk(store, u.id, { priority: 1 });
        const order = (await dispatchAll(store, u.id)).map((d) => d.job.id);
        assert.deepEqual(order, [high1.id, high2.id, normal1.id, normal2.id, low.id]);
      });

      test('a high-priority job that does not fit does not block lower ones that do', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 1, 'b@x.io': 1 });
        await reserveOk(store, u.id, { email: 'a@x.io' });
        const stuck = await enqueueOk(store, u.id, { email: 'a@x.io', priority: 1 });
        const low = await enqueueOk(store, u.id, { priority: -1 });
        const d = await store.dispatch(u.id, T0);
        assert.deepEqual([d!.job.id, d!.account.email], [low.id, 'b@x.io']);
        assert.equal((await store.getJob(stuck.id))!.state, 'queued');
      });

      test('an idle token does not hoard dispatches when it returns', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 100 });
        const busy = await store.addToken(u.id, '9'.repeat(64), 'busy', T0);
        const idle = await store.addToken(u.id, 'a'.repeat(63) + 'b', 'idle', T0);
        await enqueueOk(store, u.id, { tokenId: idle.id });
        await enqueueMany(store, u.id, 20, { tokenId: busy.id });
        await dispatchAll(store, u.id); // idle's single job and busy's 20: idle has been away since
        const finished = await store.activeJobs(u.id);
        for (const j of finished) await store.finish(j.id, { state: 'completed' }, T0);
        await enqueueMany(store, u.id, 10, { tokenId: busy.id });
        await dispatchTokens(store, u.id, 5); // busy keeps going alone
        await enqueueMany(store, u.id, 10, { tokenId: idle.id }); // idle returns
        const next = await dispatchTokens(store, u.id, 6);
        assert.ok(countOf(next, busy.id) >= 2, `the returning token must not take every turn: ${JSON.stringify(next)}`);
        assert.ok(countOf(next, idle.id) >= 2, `…but it gets its share at once: ${JSON.stringify(next)}`);
      });
    });

    describe('queue rank (least laxity first)', () => {
      test('within a priority the lowest rank goes first, ties by id; priority beats any rank', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 20 });
        // Queued in this order (ids increase); rank = queueing time − expected run time.
        const short = await enqueueOk(store, u.id, { now: T0, queueRank: T0 - 10_000 });
        const long = await enqueueOk(store, u.id, { now: T0 + 1, queueRank: T0 + 1 - 120_000 }); // later but longer: first
        const tieA = await enqueueOk(store, u.id, { now: T0 + 2, queueRank: T0 - 30_000 });
        const tieB = await enqueueOk(store, u.id, { now: T0 + 3, queueRank: T0 - 30_000 });
        const fracA = await enqueueOk(store, u.id, { now: T0 + 4, queueRank: T0 - 30_000 + 0.5 });
        const fracB = await enqueueOk(store, u.id, { now: T0 + 5, queueRank: T0 - 30_000 + 0.25 });
        const late = await enqueueOk(store, u.id, { now: T0 + 200_000, queueRank: T0 + 200_000 - 120_000 }); // long, but much later
        const high = await enqueueOk(store, u.id, { priority: 1, now: T0 + 6, queueRank: T0 + 10 ** 9 });
        const low = await enqueueOk(store, u.id, { priority: -1, now: T0 + 7, queueRank: T0 - 10 ** 9 });
        const expected = [high, long, tieA, tieB, fracB, fracA, short, late, low].map((j) => j.id);
        assert.deepEqual((await store.queuedJobs(u.id, 100)).map((j) => j.id), expected);
        assert.deepEqual((await dispatchAll(store, u.id)).map((d) => d.job.id), expected);
      });

      test('the rank decides between the heads of different lines (pinned, unpinned, per-job override)', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 10, 'b@x.io': 10 });
        const t = await store.addToken(u.id, 'd'.repeat(64), null, T0);
        const jobs = [
          await enqueueOk(store, u.id, { tokenId: t.id, queueRank: T0 + 50 }),
          await enqueueOk(store, u.id, { tokenId: t.id, email: 'a@x.io', queueRank: T0 + 40 }),
          await enqueueOk(store, u.id, { tokenId: t.id, maxJobsOverride: 5, queueRank: T0 + 30 }),
          await enqueueOk(store, u.id, { tokenId: t.id, email: 'b@x.io', maxJobsOverride: 6, queueRank: T0 + 20 }),
          await enqueueOk(store, u.id, { tokenId: t.id, email: 'a@x.io', queueRank: T0 + 10 }),
          await enqueueOk(store, u.id, { tokenId: t.id, queueRank: T0 + 45 }),
        ];
        const byRank = [...jobs].sort((x, y) => x.queueRank! - y.queueRank!).map((j) => j.id);
        assert.deepEqual((await dispatchAll(store, u.id)).map((d) => d.job.id), byRank);
      });

      test('a batch takes the same jobs in the same order as single dispatches', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 4 });
        const jobs: Job[] = [];
        for (let i = 0; i < 8; i++) jobs.push(await enqueueOk(store, u.id, { now: T0 + i, queueRank: T0 + i - ((i * 5) % 4) * 1000 }));
        const got = await store.dispatchBatch(u.id, T0 + 10, 4);
        const byRank = [...jobs].sort((x, y) => x.queueRank! - y.queueRank! || x.id - y.id).map((j) => j.id);
        assert.deepEqual(got.map((d) => d.job.id), byRank.slice(0, 4));
      });

      test('requeue keeps the rank; a directly reserved job requeued gets its creation time', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 3 });
        const first = await enqueueOk(store, u.id, { now: T0, queueRank: T0 - 100 });
        const second = await enqueueOk(store, u.id, { now: T0 + 1, queueRank: T0 + 50 });
        assert.equal((await store.dispatch(u.id, T0 + 2))!.job.id, first.id);
        const third = await enqueueOk(store, u.id, { now: T0 + 3, queueRank: T0 + 10 });
        assert.equal(await store.requeue(first.id, T0 + 4), true);
        const back = (await store.getJob(first.id))!;
        assert.deepEqual([back.state, back.queueRank], ['queued', T0 - 100], 'back in its place, not at the end');
        assert.deepEqual((await store.queuedJobs(u.id, 10)).map((j) => j.id), [first.id, third.id, second.id]);
        assert.deepEqual((await dispatchAll(store, u.id, T0 + 5)).map((d) => d.job.id), [first.id, third.id, second.id]);
        for (const j of await store.activeJobs(u.id)) await store.finish(j.id, { state: 'completed' }, T0 + 6);

        const direct = await reserveOk(store, u.id, { now: T0 + 20 });
        assert.equal(direct.queueRank, null, 'never queued: no rank');
        const before = await enqueueOk(store, u.id, { now: T0 + 21, queueRank: T0 + 19 });
        const after = await enqueueOk(store, u.id, { now: T0 + 22, queueRank: T0 + 21 });
        assert.equal(await store.requeue(direct.id, T0 + 23), true);
        assert.equal((await store.getJob(direct.id))!.queueRank, T0 + 20, 'its createdAt');
        assert.deepEqual((await dispatchAll(store, u.id, T0 + 24)).map((d) => d.job.id), [before.id, direct.id, after.id]);
      });

      test('queuedJobs and the scheduler’s dispatchOrder agree with the dispatches', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 500 });
        const t1 = await store.addToken(u.id, 'e'.repeat(63) + '1', null, T0);
        const t2 = await store.addToken(u.id, 'e'.repeat(63) + '2', null, T0);
        assert.equal(await store.setTokenWeight(u.id, t2.id, 2), true);
        const rnd = seeded(11);
        for (let i = 0; i < 90; i++) {
          await enqueueOk(store, u.id, {
            tokenId: i % 3 === 0 ? null : i % 3 === 1 ? t1.id : t2.id,
            priority: Math.floor(rnd() * 3) - 1,
            now: T0 + i * 1000,
            queueRank: T0 + i * 1000 - Math.floor(rnd() * 4) * 20_000,
          });
        }
        const weights = new Map((await store.listTokens(u.id)).map((t) => [t.id, t.weight]));
        const all = await store.queuedJobs(u.id, 1000);
        const head = await store.queuedJobs(u.id, 25);
        const predicted = dispatchOrder(all, weights).map((j) => j.id);
        const actual = (await dispatchAll(store, u.id)).map((d) => d.job.id);
        assert.equal(actual.length, 90);
        assert.deepEqual(predicted, actual, 'dispatchOrder over queuedJobs replays the dispatches');
        // A limited read holds, per token, the first jobs that token will dispatch.
        const tokenOf = new Map(all.map((j) => [j.id, j.tokenId]));
        for (const token of [null, t1.id, t2.id]) {
          const mine = head.filter((j) => j.tokenId === token).map((j) => j.id);
          assert.deepEqual(mine, actual.filter((id) => tokenOf.get(id) === token).slice(0, mine.length), `token ${token}`);
        }
      });

      test('enqueue refuses a rank that is not a finite number', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 1 });
        for (const queueRank of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          await assert.rejects(store.enqueue(enqueueInput(u.id, { queueRank }), 10), RangeError);
        }
        assert.equal(await store.countQueued(u.id), 0);
      });
    });

    describe('dispatch batches', () => {
      pairTest('a batch makes exactly the choices of as many single dispatches', async (a, b) => {
        // Three tokens of different weights and jobs without one, pins (one on an account in error,
        // one on an account cooling down), per-job overrides above and below the account limits,
        // priorities, and slots already held — then batches that stop at their limit, and ones that
        // stop because nothing more fits.
        const sc: BatchScenario = {
          limits: [3, 2, 4, 1, 5],
          health: ['ok', 'ok', 'cooldown', 'error', 'ok'],
          held: [1, 0, 0, 0, 2],
          weights: [1, 3, 0.5],
          jobs: Array.from({ length: 48 }, (_, i) => ({
            token: i % 4 === 3 ? null : (i * 7) % 3,
            pin: i % 5 === 0 ? (i / 5) % 5 : null,
            override: i % 6 === 0 ? 1 + (i % 7) : null,
            priority: ((i * 5) % 3) - 1,
            rank: (i * 11) % 4,
          })),
        };
        await compareBatchWithSingles(a, b, sc, [
          { batch: 4, finish: [], later: false },
          { batch: 16, finish: [0, 3, 5], later: false },
          { batch: 2, finish: [1, 1, 1, 1], later: true },
          { batch: 50, finish: [2, 0], later: false },
          { batch: 1, finish: [], later: false },
          { batch: 50, finish: [], later: false },
        ], 42);
      });

      pairTest('a long batch advances the passes with the same arithmetic as single dispatches', async (a, b) => {
        // Strides 1, 1/3 and 1/7 added one dispatch at a time are not k × stride in floating point
        // (six thirds add up to 1.9999999999999998), and a tie between two passes goes to the lower
        // token id — listed first here — so a batch computing passes any other way would diverge.
        const sc: BatchScenario = {
          limits: [40],
          health: [],
          held: [],
          weights: [1, 3, 7],
          jobs: Array.from({ length: 120 }, (_, i) => ({ token: i % 3, pin: null, override: null, priority: 0 })),
        };
        await compareBatchWithSingles(a, b, sc, [
          { batch: 40, finish: Array.from({ length: 25 }, (_, i) => i * 3), later: false },
          { batch: 40, finish: [], later: false },
        ], 7);
      });

      pairTest('batch equals single dispatches (property)', async (a, b) => {
        const arb = fc.record({
          limits: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
          health: fc.array(fc.constantFrom<BatchScenario['health'][number]>('ok', 'ok', 'error', 'cooldown'), { minLength: 4, maxLength: 4 }),
          held: fc.array(fc.nat(2), { minLength: 4, maxLength: 4 }),
          weights: fc.array(fc.constantFrom(1, 2, 3, 0.5), { minLength: 0, maxLength: 2 }),
          jobs: fc.array(
            fc.record({
              token: fc.option(fc.nat(1), { nil: null }),
              pin: fc.option(fc.nat(3), { nil: null }),
              override: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
              priority: fc.integer({ min: -1, max: 1 }),
              rank: fc.integer({ min: 0, max: 3 }),
            }),
            { minLength: 1, maxLength: 20 },
          ),
          phases: fc.array(
            fc.record({ batch: fc.integer({ min: 1, max: 8 }), finish: fc.array(fc.nat(20), { maxLength: 3 }), later: fc.boolean() }),
            { minLength: 1, maxLength: 4 },
          ),
          seed: fc.integer(),
        });
        await fc.assert(
          fc.asyncProperty(arb, async ({ phases, seed, ...sc }) => compareBatchWithSingles(a, b, sc, phases, seed)),
          { numRuns: 12 },
        );
      });

      test('respects the limit and binds each job once', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 4, 'b@x.io': 4 });
        const jobs = await enqueueMany(store, u.id, 10);
        const first = await store.dispatchBatch(u.id, T0 + 1, 3);
        assert.deepEqual(first.map((d) => d.job.id), jobs.slice(0, 3).map((j) => j.id));
        for (const d of first) {
          assert.equal(d.job.state, 'submitting');
          assert.equal(d.job.email, d.account.email);
          assert.equal(d.job.startedAt, T0 + 1);
          assert.deepEqual(await store.getJob(d.job.id), d.job);
        }
        assert.equal(await store.countQueued(u.id), 7);
        const second = await store.dispatchBatch(u.id, T0 + 2, 100);
        assert.deepEqual(second.map((d) => d.job.id), jobs.slice(3, 8).map((j) => j.id), 'stops when every slot is taken');
        const loads = await loadsByEmail(store, u.id);
        assert.deepEqual(Object.fromEntries(loads), { 'a@x.io': 4, 'b@x.io': 4 });
        assert.equal(new Set([...first, ...second].map((d) => d.job.id)).size, 8);
        assert.equal(await store.countQueued(u.id), 2);
      });

      test('returns [] when nothing fits', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 1, 'b@x.io': 1 });
        assert.deepEqual(await store.dispatchBatch(u.id, T0, 16), [], 'empty queue');
        assert.deepEqual(await store.dispatchBatch(u.id + 1000, T0, 16), [], 'unknown tenant');
        await store.setAccountHealth(u.id, 'b@x.io', { state: 'error', reason: 'x', cooldownUntil: null, now: T0 });
        const stuck = await enqueueOk(store, u.id, { email: 'b@x.io' });
        assert.deepEqual(await store.dispatchBatch(u.id, T0, 16), [], 'only a job pinned to an unhealthy account');
        await reserveOk(store, u.id, { email: 'a@x.io' });
        const waiting = await enqueueOk(store, u.id);
        assert.deepEqual(await store.dispatchBatch(u.id, T0, 16), [], 'every healthy slot taken');
        assert.deepEqual(await store.dispatchBatch(u.id, T0, 0), [], 'limit 0');
        assert.deepEqual(await store.dispatchBatch(u.id, T0, -3), [], 'negative limit');
        for (const j of [stuck, waiting]) assert.equal((await store.getJob(j.id))!.state, 'queued');
        assert.equal(await store.countQueued(u.id), 2);
      });
    });

    describe('webhook receipts (replay guard)', () => {
      test('a receipt is seen until it expires, refreshed by recording it again, and expired ones are dropped', async (store) => {
        assert.equal(await store.webhookReceiptSeen('r1', T0), false);
        await store.recordWebhookReceipt('r1', T0 + 600, T0);
        assert.equal(await store.webhookReceiptSeen('r1', T0 + 599), true);
        assert.equal(await store.webhookReceiptSeen('r1', T0 + 600), false, 'expired at expires_at');
        assert.equal(await store.webhookReceiptSeen('r2', T0 + 1), false, 'another receipt is not seen');
        await store.recordWebhookReceipt('r1', T0 + 2_000, T0 + 100);
        assert.equal(await store.webhookReceiptSeen('r1', T0 + 1_999), true, 'recording again extends it');
        await store.recordWebhookReceipt('r2', T0 + 5_000, T0 + 3_000);
        assert.equal(await store.webhookReceiptSeen('r1', T0 + 1_000), false, 'dropped once expired at a later record');
        assert.equal(await store.webhookReceiptSeen('r2', T0 + 4_000), true);
      });
    });

    describe('callbacks outbox', () => {
      test('markRunning and every terminal transition write their delivery with the updated job', async (store) => {
        const { calls, builder } = recordingBuilder();
        store.setOutboxBuilder(builder);
        const u = await userWithAccounts(store, { 'a@x.io': 8, 'gone@x.io': 2 });
        const expectOne = async (jobId: number, event: OutboxEvent, state: string, now: number) => {
          const ds = await deliveriesOf(store, u.id, jobId);
          const d = ds[ds.length - 1]!;
          assert.deepEqual([d.event, d.state, d.attempts, d.nextAttemptAt, d.createdAt, d.url], [event, 'pending', 0, now, now, `https://hook.example/${jobId}`]);
          assert.deepEqual(bodyOf(d), { id: jobId, state, event });
          assert.equal(d.seq, ds.length);
          assert.equal(d.jobId, jobId);
          assert.equal(d.userId, u.id);
          const call = calls.filter((c) => c.job.id === jobId).pop()!;
          assert.deepEqual([call.job.id, call.job.state, call.event], [jobId, state, event]);
          assert.deepEqual(await store.getJob(jobId), call.job, 'the builder saw the job as committed');
        };

        // markRunning (progress) then finish (final).
        const job = await reserveOk(store, u.id, { email: 'a@x.io' });
        assert.equal(calls.length, 0, 'reserve owes no callback');
        await store.markRunning(job.id, '123', T0 + 100, T0 + 1);
        await expectOne(job.id, 'progress', 'running', T0 + 1);
        await store.finish(job.id, { state: 'completed', resultUrl: 'https://cdn/x' }, T0 + 2);
        await expectOne(job.id, 'final', 'completed', T0 + 2);
        assert.deepEqual((await deliveriesOf(store, u.id, job.id)).map((d) => d.seq), [1, 2]);

        // A lost compare-and-swap writes nothing.
        const before = calls.length;
        assert.equal(await store.finish(job.id, { state: 'failed' }, T0 + 3), null);
        assert.equal(await store.markRunning(job.id, '1', T0, T0 + 3), false);
        assert.equal(calls.length, before);
        assert.equal((await deliveriesOf(store, u.id, job.id)).length, 2);

        // finish of a queued job.
        const queued = await enqueueOk(store, u.id, { email: 'a@x.io' });
        await store.finish(queued.id, { state: 'cancelled' }, T0 + 4);
        await expectOne(queued.id, 'final', 'cancelled', T0 + 4);

        // expireJobs.
        const stale = await reserveOk(store, u.id, { email: 'a@x.io', now: T0 });
        await store.expireJobs(T0 + 1, T0 + 5, 'too slow');
        await expectOne(stale.id, 'final', 'timed_out', T0 + 5);

        // expireQueued.
        await store.updateTenantSettings(u.id, { maxQueueWaitMs: 10 });
        const waiting = await enqueueOk(store, u.id, { now: T0 });
        await store.expireQueued(T0 + 11, 'queued too long');
        await expectOne(waiting.id, 'final', 'timed_out', T0 + 11);

        // deleteAccount: a slot holder and a queued job pinned to the account.
        const onGone = await reserveOk(store, u.id, { email: 'gone@x.io' });
        const queuedOnGone = await enqueueOk(store, u.id, { email: 'gone@x.io' });
        await store.deleteAccount(u.id, 'gone@x.io', T0 + 12);
        await expectOne(onGone.id, 'final', 'cancelled', T0 + 12);
        await expectOne(queuedOnGone.id, 'final', 'cancelled', T0 + 12);

        // Dispatch and requeue owe no callback.
        const n = calls.length;
        await enqueueOk(store, u.id);
        const d = await store.dispatch(u.id, T0 + 13);
        await store.requeue(d!.job.id, T0 + 14);
        assert.equal(calls.length, n);
      });

      test('a builder returning null writes nothing; no builder, no deliveries', async (store) => {
        const { calls, builder } = recordingBuilder({ skip: 'progress' });
        store.setOutboxBuilder(builder);
        const u = await userWithAccounts(store, { 'a@x.io': 2 });
        const job = await runningJob(store, u.id, 'a@x.io', T0);
        assert.equal(calls.length, 1);
        assert.deepEqual(await deliveriesOf(store, u.id, job.id), []);
        await store.finish(job.id, { state: 'completed' }, T0 + 1);
        assert.deepEqual((await deliveriesOf(store, u.id, job.id)).map((d) => [d.seq, d.event]), [[1, 'final']]);

        store.setOutboxBuilder(null);
        const quiet = await runningJob(store, u.id, 'a@x.io', T0);
        await store.finish(quiet.id, { state: 'failed' }, T0 + 2);
        assert.deepEqual(await deliveriesOf(store, u.id, quiet.id), []);
        assert.equal(calls.length, 2);
      });

      test('a throwing builder rolls the transition back', async (store) => {
        const u = await userWithAccounts(store, { 'a@x.io': 8, 'b@x.io': 1 });
        const submitting = await reserveOk(store, u.id, { email: 'a@x.io', now: T0 });
        const running = await runningJob(store, u.id, 'a@x.io', T0 + 100);
        const onB = await reserveOk(store, u.id, { email: 'b@x.io' });
        const queued = await enqueueOk(store, u.id, { now: T0 });
        await store.updateTenantSettings(u.id, { maxQueueWaitMs: 10 });
        const snapshot = async () => Promise.all([submitting, running, onB, queued].map((j) => store.getJob(j.id)));
        const before = await snapshot();

        store.setOutboxBuilder(throwingBuilder);
        await assert.rejects(store.markRunning(submitting.id, '9', T0 + 100, T0 + 1), /builder exploded/);
        await assert.rejects(store.finish(running.id, { state: 'completed' }, T0 + 1), /builder exploded/);
        await assert.rejects(store.finish(queued.id, { state: 'cancelled' }, T0 + 1), /builder exploded/);
        await assert.rejects(store.expireJobs(T0 + 1_000_000, T0 + 1, 'x'), /builder exploded/);
        await assert.rejects(store.expireQueued(T0 + 1_000_000, 'x'), /builder exploded/);
        await assert.rejects(store.deleteAccount(u.id, 'b@x.io', T0 + 1), /builder exploded/);

        assert.deepEqual(await snapshot(), before, 'every job unchanged');
        assert.ok(await store.getAccount(u.id, 'b@x.io'), 'the account was not deleted');
        assert.deepEqual(await store.listDeliveries(u.id, { limit: 100 }), []);

        // With a working builder the same transitions go through.
        store.setOutboxBuilder(recordingBuilder().builder);
        assert.equal(await store.markRunning(submitting.id, '9', T0 + 100, T0 + 2), true);
        assert.equal((await store.finish(running.id, { state: 'completed' }, T0 + 2))!.state, 'completed');
        assert.equal((await store.deleteAccount(u.id, 'b@x.io', T0 + 2))!.cancelled.length, 1);
        assert.equal((await store.listDeliveries(u.id, { limit: 100 })).length, 3);
      });

      test('claimDueDeliveries: due only, one job’s deliveries strictly in order', async (store) => {
        store.setOutboxBuilder(recordingBuilder().builder);
        const u = await userWithAccounts(store, { 'a@x.io': 8 });
        const j1 = await reserveOk(store, u.id);
        await store.markRunning(j1.id, '1', T0 + 1000, T0); // j1 seq 1 due T0
        await store.finish(j1.id, { state: 'completed' }, T0 + 10); // j1 seq 2 due T0+10
        const j2 = await reserveOk(store, u.id);
        await store.finish(j2.id, { state: 'failed' }, T0 + 5); // j2 seq 1 due T0+5

        assert.deepEqual(await store.claimDueDeliveries('w', T0 - 1, 60_000, 10), [], 'nothing due yet');
        assert.equal(await store.nextDeliveryDue(), T0);
        const first = await store.claimDueDeliveries('w', T0 + 100, 60_000, 10);
        assert.deepEqual(first.map((d) => [d.jobId, d.seq]), [[j1.id, 1], [j2.id, 1]], 'j1 seq 2 waits for seq 1');
        for (const d of first) {
          assert.ok(d.leaseToken);
          assert.equal(d.leaseExpiresAt, T0 + 60_100);
        }
        // j1 seq 1 fails and is retried later: seq 2 stays blocked, and is not reported as due.
        const d1 = first[0]!;
        assert.equal(await store.recordAttempt(d1.id, d1.leaseToken!, { delivered: false, status: 503, error: 'HTTP 503', nextAttemptAt: T0 + 1000 }, T0 + 101), true);
        const d2 = first[1]!;
        assert.equal(await store.recordAttempt(d2.id, d2.leaseToken!, { delivered: true, status: 200 }, T0 + 102), true);
        assert.equal(await store.nextDeliveryDue(), T0 + 1000);
        assert.deepEqual(await store.claimDueDeliveries('w', T0 + 999, 60_000, 10), []);
        const retry = (await store.getDelivery(u.id, d1.id))!;
        assert.deepEqual([retry.state, retry.attempts, retry.lastStatus, retry.lastError, retry.nextAttemptAt, retry.leaseToken],
          ['pending', 1, 503, 'HTTP 503', T0 + 1000, null]);

        const again = await store.claimDueDeliveries('w', T0 + 1000, 60_000, 10);
        assert.deepEqual(again.map((d) => [d.jobId, d.seq]), [[j1.id, 1]]);
        await store.recordAttempt(again[0]!.id, again[0]!.leaseToken!, { delivered: true, status: 204 }, T0 + 1001);
        const last = await store.claimDueDeliveries('w', T0 + 1002, 60_000, 10);
        assert.deepEqual(last.map((d) => [d.jobId, d.seq]), [[j1.id, 2]], 'now seq 2 may go');
        assert.deepEqual(await store.claimDueDeliveries('w', T0 + 1002, 60_000, 0), [], 'limit 0');
      });

      test('recordAttempt is fenced by the lease token; an expired lease goes to one new owner', async (store) => {
        store.setOutboxBuilder(recordingBuilder().builder);
        const u = await userWithAccounts(store, { 'a@x.io': 8 });
        const job = await reserveOk(store, u.id);
        await store.finish(job.id, { state: 'completed' }, T0);
        const [mine] = await store.claimDueDeliveries('w1', T0, 1000, 10);
        assert.ok(mine);
        const racing = await Promise.all([1, 2, 3].map((i) => store.claimDueDeliveries(`r${i}`, T0 + 999, 1000, 10)));
        assert.deepEqual(racing.flat(), [], 'a live lease is not handed out');
        assert.equal(await store.nextDeliveryDue(), T0 + 1000, 'due when the lease expires');

        const takeovers = (await Promise.all([1, 2, 3].map((i) => store.claimDueDeliveries(`r${i}`, T0 + 1000, 1000, 10)))).flat();
        assert.equal(takeovers.length, 1, 'expired lease goes to exactly one new owner');
        const theirs = takeovers[0]!;
        assert.notEqual(theirs.leaseToken, mine.leaseToken);
        assert.equal(await store.recordAttempt(mine.id, mine.leaseToken!, { delivered: true, status: 200 }, T0 + 1001), false);
        assert.equal(await store.recordAttempt(mine.id, 'forged', { delivered: true, status: 200 }, T0 + 1001), false);
        assert.equal((await store.getDelivery(u.id, mine.id))!.state, 'pending');
        assert.equal(await store.recordAttempt(theirs.id, theirs.leaseToken!, { delivered: true, status: 200 }, T0 + 1002), true);
        const done = (await store.getDelivery(u.id, mine.id))!;
        assert.deepEqual(
          [done.state, done.attempts, done.lastStatus, done.deliveredAt, done.leaseToken, done.leaseExpiresAt],
          ['delivered', 1, 200, T0 + 1002, null, null],
        );
        assert.equal(await store.recordAttempt(theirs.id, theirs.leaseToken!, { delivered: true, status: 200 }, T0 + 1003), false, 'spent');
        assert.equal(await store.nextDeliveryDue(), null);
        assert.deepEqual(await store.claimDueDeliveries('w', T0 + 10_000, 1000, 10), []);
      });

      test('dead letters stay dead until redelivered; redeliver is scoped and filtered', async (store) => {
        store.setOutboxBuilder(recordingBuilder().builder);
        const u = await userWithAccounts(store, { 'a@x.io': 8 });
        const other = await userWithAccounts(store, { 'a@x.io': 8 });
        const job = await reserveOk(store, u.id);
        await store.finish(job.id, { state: 'completed' }, T0 + 100);
        const [d] = await store.claimDueDeliveries('w', T0 + 100, 1000, 10);
        assert.equal(
          await store.recordAttempt(d!.id, d!.leaseToken!, { delivered: false, status: null, error: 'connect ECONNREFUSED', nextAttemptAt: null }, T0 + 101),
          true,
        );
        const dead = (await store.getDelivery(u.id, d!.id))!;
        assert.deepEqual([dead.state, dead.attempts, dead.lastError, dead.lastStatus, dead.nextAttemptAt, dead.leaseToken],
          ['dead', 1, 'connect ECONNREFUSED', null, null, null]);
        assert.equal(await store.nextDeliveryDue(), null);
        assert.deepEqual(await store.claimDueDeliveries('w', T0 + 100_000, 1000, 10), []);
        assert.equal(await store.getDelivery(other.id, d!.id), null, "another tenant's delivery is invisible");

        assert.equal(await store.redeliver(other.id, {}, T0 + 200), 0, 'scoped to the tenant');
        assert.equal(await store.redeliver(other.id, { deliveryId: d!.id }, T0 + 200), 0);
        assert.equal(await store.redeliver(u.id, { since: T0 + 101 }, T0 + 200), 0, 'created before `since`');
        assert.equal(await store.redeliver(u.id, { since: T0 + 100 }, T0 + 200), 1);
        const revived = (await store.getDelivery(u.id, d!.id))!;
        // The attempt count is kept: a redelivery does not grant a fresh retry budget.
        assert.deepEqual([revived.state, revived.attempts, revived.nextAttemptAt], ['pending', 1, T0 + 200]);
        assert.equal(await store.redeliver(u.id, {}, T0 + 200), 0, 'pending is not dead');
        assert.equal(await store.nextDeliveryDue(), T0 + 200);

        const [again] = await store.claimDueDeliveries('w', T0 + 200, 1000, 10);
        assert.equal(again!.id, d!.id);
        await store.recordAttempt(again!.id, again!.leaseToken!, { delivered: true, status: 200 }, T0 + 201);
        assert.equal(await store.redeliver(u.id, {}, T0 + 300), 0, 'delivered ones only by id');
        assert.equal(await store.redeliver(u.id, { deliveryId: d!.id + 1000 }, T0 + 300), 0);
        assert.equal(await store.redeliver(u.id, { deliveryId: d!.id }, T0 + 300), 1);
        const resent = (await store.getDelivery(u.id, d!.id))!;
        assert.deepEqual([resent.state, resent.attempts, resent.nextAttemptAt, resent.deliveredAt], ['pending', 2, T0 + 300, null]);
      });

      test('listDeliveries: newest first, filtered by job, state and since, limited, per tenant', async (store) => {
        store.setOutboxBuilder(recordingBuilder().builder);
        const u = await userWithAccounts(store, { 'a@x.io': 8 });
        const other = await userWithAccounts(store, { 'a@x.io': 8 });
        const j1 = await reserveOk(store, u.id);
        await store.markRunning(j1.id, '1', T0, T0 + 1);
        await store.finish(j1.id, { state: 'completed' }, T0 + 2);
        const j2 = await reserveOk(store, u.id);
        await store.finish(j2.id, { state: 'failed' }, T0 + 3);
        const foreign = await reserveOk(store, other.id);
        await store.finish(foreign.id, { state: 'failed' }, T0 + 4);

        const all = await store.listDeliveries(u.id, { limit: 10 });
        assert.deepEqual(all.map((d) => [d.jobId, d.seq]), [[j2.id, 1], [j1.id, 2], [j1.id, 1]]);
        assert.deepEqual((await store.listDeliveries(u.id, { limit: 2 })).map((d) => d.id), all.slice(0, 2).map((d) => d.id));
        assert.deepEqual((await store.listDeliveries(u.id, { jobId: j1.id, limit: 10 })).map((d) => d.seq), [2, 1]);
        assert.deepEqual((await store.listDeliveries(u.id, { since: T0 + 2, limit: 10 })).map((d) => d.createdAt), [T0 + 3, T0 + 2]);
        assert.deepEqual(await store.listDeliveries(u.id, { jobId: foreign.id, limit: 10 }), []);

        const [c] = await store.claimDueDeliveries('w', T0 + 10, 1000, 1);
        await store.recordAttempt(c!.id, c!.leaseToken!, { delivered: false, status: 500, error: 'HTTP 500', nextAttemptAt: null }, T0 + 11);
        assert.deepEqual((await store.listDeliveries(u.id, { state: 'dead', limit: 10 })).map((d) => d.id), [c!.id]);
        assert.equal((await store.listDeliveries(u.id, { state: 'pending', limit: 10 })).length, 2);
        assert.deepEqual(await store.listDeliveries(u.id, { state: 'delivered', limit: 10 }), []);
        assert.deepEqual((await store.getDelivery(u.id, c!.id))!.id, c!.id);
      });
    });

    describe('never overbook (property)', () => {
      type Op = { kind: 'reserve'; pin: number | null; rnd: number } | { kind: 'finish'; pick: number };
      const opArb: fc.Arbitrary<Op> = fc.oneof(
        { weight: 3, arbitrary: fc.record({ kind: fc.constant('reserve' as const), pin: fc.option(fc.nat(4), { nil: null }), rnd: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('finish' as const), pick: fc.nat(50) }) },
      );
      const scenarioArb = fc.record({
        limits: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
        unhealthy: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        batches: fc.array(fc.array(opArb, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }),
      });

      test('interleaved concurrent reserve/finish never exceed a limit; loads match active jobs', async (store) => {
        let tick = 0;
        await fc.assert(
          fc.asyncProperty(scenarioArb, async ({ limits, unhealthy, batches }) => {
            const emails = limits.map((_, i) => `acc${i}@x.io`);
            const user = await userWithAccounts(store, Object.fromEntries(emails.map((e, i) => [e, limits[i]!])));
            // Keep at least one account healthy so unpinned reserves have somewhere to go.
            for (let i = 1; i < emails.length; i++) {
              if (unhealthy[i]) await store.setAccountHealth(user.id, emails[i]!, { state: 'error', reason: 'x', cooldownUntil: null, now: T0 });
            }
            const limitOf = new Map(emails.map((e, i) => [e, limits[i]!]));
            let admitted = 0;
            let finished = 0;
            for (const batch of batches) {
              const before = await store.activeJobs(user.id);
              const now = T0 + ++tick;
              const results = await Promise.all(
                batch.map(async (op) => {
                  if (op.kind === 'reserve') {
                    const email = op.pin === null ? null : `acc${op.pin}@x.io`; // may name an unknown account
                    const res = await store.reserve(reserveInput(user.id, { email, now, random: () => op.rnd }));
                    if (res.ok) {
                      assert.ok(res.account.state === 'ok', 'never admits to an unhealthy account');
                      assert.equal(res.job.email, res.account.email);
                    }
                    return { reserved: res.ok, finished: false };
                  }
                  if (before.length === 0) return { reserved: false, finished: false };
                  // Several ops may pick the same job: the CAS must let only one of them win.
                  const target = before[op.pick % before.length]!;
                  const won = await store.finish(target.id, { state: 'completed' }, now);
                  return { reserved: false, finished: won !== null };
                }),
              );
              admitted += results.filter((r) => r.reserved).length;
              finished += results.filter((r) => r.finished).length;

              const active = await store.activeJobs(user.id);
              const perEmail = new Map<string, number>();
              for (const j of active) perEmail.set(j.email!, (perEmail.get(j.email!) ?? 0) + 1);
              for (const [email, count] of perEmail) {
                assert.ok(count <= limitOf.get(email)!, `${email} holds ${count} > ${limitOf.get(email)}`);
              }
              const loads = await store.accountLoads(user.id);
              assert.equal(loads.length, emails.length);
              for (const load of loads) {
                assert.equal(load.executing, perEmail.get(load.account.email) ?? 0, `load of ${load.account.email}`);
              }
              assert.equal(active.length, admitted - finished, 'every admission and every winning finish accounted for');
            }
          }),
          { numRuns: 40 },
        );
      });

      type QOp =
        | { kind: 'reserve'; pin: number | null; rnd: number }
        | { kind: 'enqueue'; pin: number | null; token: number; priority: number }
        | { kind: 'dispatch'; rnd: number }
        | { kind: 'batch'; rnd: number; limit: number }
        | { kind: 'finish'; pick: number }
        | { kind: 'requeue'; pick: number };
      const rnd = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
      const qopArb: fc.Arbitrary<QOp> = fc.oneof(
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('reserve' as const), pin: fc.option(fc.nat(4), { nil: null }), rnd }) },
        {
          weight: 3,
          arbitrary: fc.record({
            kind: fc.constant('enqueue' as const),
            pin: fc.option(fc.nat(4), { nil: null }),
            token: fc.nat(2),
            priority: fc.integer({ min: -1, max: 1 }),
          }),
        },
        { weight: 3, arbitrary: fc.record({ kind: fc.constant('dispatch' as const), rnd }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('batch' as const), rnd, limit: fc.integer({ min: 1, max: 6 }) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('finish' as const), pick: fc.nat(50) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('requeue' as const), pick: fc.nat(50) }) },
      );
      const queueScenarioArb = fc.record({
        limits: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
        unhealthy: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        batches: fc.array(fc.array(qopArb, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }),
      });

      test('interleaved reserve/enqueue/dispatch/batch/finish/requeue never exceed a limit; every job accounted for', async (store) => {
        let tick = 0;
        await fc.assert(
          fc.asyncProperty(queueScenarioArb, async ({ limits, unhealthy, batches }) => {
            const emails = limits.map((_, i) => `acc${i}@x.io`);
            const user = await userWithAccounts(store, Object.fromEntries(emails.map((e, i) => [e, limits[i]!])));
            const tokens: (number | null)[] = [null];
            for (let i = 0; i < 2; i++) tokens.push((await store.addToken(user.id, `${user.id}-${i}-${'0'.repeat(60)}`, null, T0)).id);
            for (let i = 1; i < emails.length; i++) {
              if (unhealthy[i]) await store.setAccountHealth(user.id, emails[i]!, { state: 'error', reason: 'x', cooldownUntil: null, now: T0 });
            }
            const limitOf = new Map(emails.map((e, i) => [e, limits[i]!]));
            let created = 0;
            let finished = 0;
            for (const batch of batches) {
              const live = [...(await store.activeJobs(user.id)), ...(await store.queuedJobs(user.id, 1000))];
              const now = T0 + ++tick;
              const results = await Promise.all(
                batch.map(async (op): Promise<{ created?: boolean; finished?: boolean }> => {
                  const email = 'pin' in op && op.pin !== null ? `acc${op.pin}@x.io` : null; // may name an unknown account
                  switch (op.kind) {
                    case 'reserve': {
                      const res = await store.reserve(reserveInput(user.id, { email, now, random: () => op.rnd }));
                      if (res.ok) assert.equal(res.account.state, 'ok', 'never admits to an unhealthy account');
                      return { created: res.ok };
                    }
                    case 'enqueue': {
                      const res = await store.enqueue(enqueueInput(user.id, { email, tokenId: tokens[op.token]!, priority: op.priority, now }), 1000);
                      if (!res.ok) assert.equal(res.reason, email !== null && !limitOf.has(email) ? 'unknown_account' : 'never');
                      return { created: res.ok };
                    }
                    case 'dispatch':
                    case 'batch': {
                      const got =
                        op.kind === 'batch'
                          ? await store.dispatchBatch(user.id, now, op.limit, () => op.rnd)
                          : [await store.dispatch(user.id, now, () => op.rnd)].flatMap((d) => (d ? [d] : []));
                      if (op.kind === 'batch') assert.ok(got.length <= op.limit, 'a batch respects its limit');
                      assert.equal(new Set(got.map((d) => d.job.id)).size, got.length, 'a batch binds a job once');
                      for (const d of got) {
                        assert.equal(d.account.state, 'ok', 'never dispatches to an unhealthy account');
                        assert.equal(d.job.email, d.account.email);
                        assert.equal(d.job.state, 'submitting');
                        if (d.job.pinnedEmail !== null) assert.equal(d.job.email, d.job.pinnedEmail, 'pins are honoured');
                      }
                      return {};
                    }
                    case 'finish': {
                      if (live.length === 0) return {};
                      // Several ops may pick the same job: the CAS must let only one of them win.
                      const won = await store.finish(live[op.pick % live.length]!.id, { state: 'completed' }, now);
                      return { finished: won !== null };
                    }
                    case 'requeue': {
                      if (live.length === 0) return {};
                      await store.requeue(live[op.pick % live.length]!.id, now);
                      return {};
                    }
                  }
                }),
              );
              created += results.filter((r) => r.created).length;
              finished += results.filter((r) => r.finished).length;

              const active = await store.activeJobs(user.id);
              const perEmail = new Map<string, number>();
              for (const j of active) perEmail.set(j.email!, (perEmail.get(j.email!) ?? 0) + 1);
              for (const [email, count] of perEmail) {
                assert.ok(count <= limitOf.get(email)!, `${email} holds ${count} > ${limitOf.get(email)}`);
              }
              const loads = await store.accountLoads(user.id);
              for (const load of loads) {
                assert.equal(load.executing, perEmail.get(load.account.email) ?? 0, `load of ${load.account.email}`);
              }
              const queued = await store.countQueued(user.id);
              assert.equal(active.length + queued, created - finished, 'every creation and every winning finish accounted for');
              for (const j of await store.queuedJobs(user.id, 1000)) assert.equal(j.startedAt, null);
            }
            // Drain: whatever is left and fits gets dispatched, and then nothing more fits.
            await dispatchAll(store, user.id, T0 + ++tick);
            for (const load of await store.accountLoads(user.id)) assert.ok(load.executing <= load.account.maxJobs);
          }),
          { numRuns: 30 },
        );
      });

      test('a burst of concurrent reserves fills every free slot exactly', async (store) => {
        const limits = { 'a@x.io': 3, 'b@x.io': 1, 'c@x.io': 2 };
        const u = await userWithAccounts(store, limits);
        const results = await Promise.all(Array.from({ length: 20 }, () => store.reserve(reserveInput(u.id))));
        assert.equal(results.filter((r) => r.ok).length, 6);
        for (const r of results) if (!r.ok) assert.equal(r.reason, 'none_free');
        const loads = await loadsByEmail(store, u.id);
        assert.deepEqual(Object.fromEntries([...loads].sort()), limits);

        const pinned = await Promise.all(Array.from({ length: 5 }, () => store.reserve(reserveInput(u.id, { email: 'b@x.io' }))));
        assert.ok(pinned.every((r) => !r.ok && r.reason === 'account_full'));
      });
    });
  });
}
