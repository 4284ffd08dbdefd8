/** Helpers shared by the Store conformance suite's role files (fixtures, inputs, scenarios). */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Job } from '../../../src/domain/job.ts';
import type {
  Delivery,
  Dispatched,
  EnqueueInput,
  OutboxBuilder,
  OutboxEvent,
  ReserveInput,
  ReserveResult,
  Store,
  User,
} from '../../../src/store/store.ts';

export interface StoreHandle {
  store: Store;
  /** `failed` is true when the test failed, so a dialect may keep its data for inspection. */
  cleanup: (failed: boolean) => Promise<void>;
}

export const T0 = 1_700_000_000_000;
/** Larger than 2^53: must survive the store as an exact decimal string. */
export const BIG_UPSTREAM_ID = '384751234567890123456';
/** A Standard Webhooks secret as the caller would generate it. */
export const SECRET = 'whsec_c2VjcmV0LW9uZS1zZWNyZXQtb25lLTMyYnl0ZXM=';

export type Body = (store: Store) => Promise<void>;

export function reserveInput(userId: number, over: Partial<ReserveInput> = {}): ReserveInput {
  return {
    userId,
    provider: 'pixverse',
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

export async function userWithAccounts(
  store: Store,
  limits: Record<string, number>,
  now = T0,
): Promise<User> {
  const user = await store.createUser('tenant', now, SECRET);
  for (const [email, maxJobs] of Object.entries(limits)) {
    await store.upsertAccount({ userId: user.id, email, apiKeyEnc: `enc:${email}`, maxJobs, now });
  }
  return user;
}

export function ok(result: ReserveResult): Extract<ReserveResult, { ok: true }> {
  if (!result.ok) assert.fail(`expected a reservation, got ${result.reason}`);
  return result;
}

export async function reserveOk(
  store: Store,
  userId: number,
  over: Partial<ReserveInput> = {},
): Promise<Job> {
  return ok(await store.reserve(reserveInput(userId, over))).job;
}

/** A running job (reserved + markRunning) whose next poll is due at `nextPollAt`. */
export async function runningJob(
  store: Store,
  userId: number,
  email: string,
  nextPollAt: number,
  upstreamId?: string,
): Promise<Job> {
  const job = await reserveOk(store, userId, { email });
  assert.ok(await store.markRunning(job.id, upstreamId ?? String(1000 + job.id), nextPollAt, T0));
  return (await store.getJob(job.id))!;
}

export async function loadsByEmail(store: Store, userId: number): Promise<Map<string, number>> {
  return new Map((await store.accountLoads(userId)).map((l) => [l.account.email, l.executing]));
}

/** queueRank defaults to `now`: as if every job expected the same run time, so rank order is queueing order. */
export function enqueueInput(userId: number, over: Partial<EnqueueInput> = {}): EnqueueInput {
  const now = over.now ?? T0;
  return {
    userId,
    provider: 'pixverse',
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

export async function enqueueOk(
  store: Store,
  userId: number,
  over: Partial<EnqueueInput> = {},
  maxQueueLength = 100_000,
): Promise<Job> {
  const res = await store.enqueue(enqueueInput(userId, over), maxQueueLength);
  if (!res.ok) assert.fail(`expected enqueue to succeed, got ${res.reason}`);
  return res.job;
}

/** `count` enqueues in order (ids increase with the order given). */
export async function enqueueMany(
  store: Store,
  userId: number,
  count: number,
  over: Partial<EnqueueInput> = {},
): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let i = 0; i < count; i++) jobs.push(await enqueueOk(store, userId, over));
  return jobs;
}

/** Dispatches until nothing fits (or `max` dispatches), in order. */
export async function dispatchAll(store: Store, userId: number, now = T0, max = 1000): Promise<Dispatched[]> {
  const out: Dispatched[] = [];
  for (let i = 0; i < max; i++) {
    const d = await store.dispatch(userId, now);
    if (!d) break;
    out.push(d);
  }
  return out;
}

/** The token ids of the next `n` dispatches (null for token-less jobs). */
export async function dispatchTokens(store: Store, userId: number, n: number): Promise<(number | null)[]> {
  const out: (number | null)[] = [];
  for (let i = 0; i < n; i++) {
    const d = await store.dispatch(userId, T0);
    assert.ok(d, `dispatch ${i + 1} of ${n} found nothing`);
    out.push(d.job.tokenId);
  }
  return out;
}

export const countOf = <T>(items: readonly T[], value: T) => items.filter((x) => x === value).length;

/** An outbox builder that records its calls and writes `{id, state, event}` as the body. */
export function recordingBuilder(opts: { skip?: OutboxEvent } = {}) {
  const calls: { job: Job; event: OutboxEvent }[] = [];
  const builder: OutboxBuilder = (job, event) => {
    calls.push({ job, event });
    if (event === opts.skip) return null;
    return {
      url: `https://hook.example/${job.id}`,
      body: JSON.stringify({ id: job.id, state: job.state, event }),
    };
  };
  return { calls, builder };
}

export const throwingBuilder: OutboxBuilder = () => {
  throw new Error('builder exploded');
};

export async function deliveriesOf(store: Store, userId: number, jobId: number): Promise<Delivery[]> {
  return (await store.listDeliveries(userId, { jobId, limit: 100 })).sort((a, b) => a.seq - b.seq);
}

export const bodyOf = (d: Delivery) => JSON.parse(d.body) as { id: number; state: string; event: string };

/** A deterministic uniform [0,1) source (mulberry32): two copies with one seed draw the same numbers. */
export function seeded(seed: number): () => number {
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
export interface BatchScenario {
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
  jobs: {
    token: number | null;
    pin: number | null;
    override: number | null;
    priority: number;
    rank?: number;
  }[];
}

export interface BuiltScenario {
  userId: number;
  /** Every job of the tenant in creation order: the index is how two stores' jobs are compared. */
  jobs: Job[];
}

export async function buildScenario(store: Store, sc: BatchScenario): Promise<BuiltScenario> {
  const emails = sc.limits.map((_, i) => `acc${i}@x.io`);
  const user = await userWithAccounts(store, Object.fromEntries(emails.map((e, i) => [e, sc.limits[i]!])));
  const jobs: Job[] = [];
  for (let i = 0; i < emails.length; i++) {
    for (let k = 0; k < Math.min(sc.held[i] ?? 0, sc.limits[i]!); k++)
      jobs.push(await reserveOk(store, user.id, { email: emails[i]! }));
  }
  for (let i = 0; i < emails.length; i++) {
    const health = sc.health[i] ?? 'ok';
    if (health === 'ok') continue;
    await store.setAccountHealth(user.id, emails[i]!, {
      state: health,
      reason: health,
      cooldownUntil: health === 'cooldown' ? T0 + 500 : null,
      now: T0,
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
export function dispatchFacts(
  built: BuiltScenario,
  dispatched: readonly Dispatched[],
): (string | number | null)[][] {
  const index = new Map(built.jobs.map((j, i) => [j.id, i]));
  return dispatched.map((d) => [
    index.get(d.job.id) ?? -1,
    d.account.email,
    d.job.email,
    d.job.state,
    d.job.startedAt,
  ]);
}

/** The tenant's live jobs as creation indexes: [slot holders with their account, queued]. */
export async function liveFacts(store: Store, built: BuiltScenario): Promise<unknown> {
  const index = new Map(built.jobs.map((j, i) => [j.id, i]));
  const active = (await store.activeJobs(built.userId)).map((j) => [index.get(j.id), j.email]).sort();
  const queued = (await store.queuedJobs(built.userId, 10_000)).map((j) => index.get(j.id)).sort();
  return { active, queued };
}

export interface BatchPhase {
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
export async function compareBatchWithSingles(
  batched: Store,
  single: Store,
  sc: BatchScenario,
  phases: readonly BatchPhase[],
  seed: number,
): Promise<void> {
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
    assert.deepEqual(
      dispatchFacts(a, got),
      dispatchFacts(b, singles),
      `phase ${p}: batch of ${phase.batch} vs single dispatches`,
    );
    for (const d of got)
      assert.deepEqual(await batched.getJob(d.job.id), d.job, 'the returned job is the stored one');
    const activeA = (await batched.activeJobs(a.userId)).sort((x, y) => x.id - y.id);
    const activeB = (await single.activeJobs(b.userId)).sort((x, y) => x.id - y.id);
    for (const pick of phase.finish) {
      if (activeA.length === 0) break;
      const k = pick % activeA.length;
      assert.ok(await batched.finish(activeA.splice(k, 1)[0]!.id, { state: 'completed' }, now));
      assert.ok(await single.finish(activeB.splice(k, 1)[0]!.id, { state: 'completed' }, now));
    }
    assert.deepEqual(
      await liveFacts(batched, a),
      await liveFacts(single, b),
      `phase ${p}: same state afterwards`,
    );
  }
  // The passes and vtime written by the batches equal those written by the singles: from here on,
  // with more jobs queued by every token, both stores keep dispatching identically.
  now = Math.max(now, T0 + 1000) + 1;
  for (const built of [a, b]) {
    const store = built === a ? batched : single;
    for (const j of await store.activeJobs(built.userId))
      await store.finish(j.id, { state: 'completed' }, now);
    for (let i = 0; i < 6; i++) {
      built.jobs.push(
        await enqueueOk(store, built.userId, {
          tokenId: built.jobs.find((j) => j.tokenId !== null)?.tokenId ?? null,
          now,
        }),
      );
      built.jobs.push(await enqueueOk(store, built.userId, { now }));
    }
  }
  const rest = Math.min(
    100,
    sc.limits.reduce((x, y) => x + y, 0),
  );
  const tailA: Dispatched[] = [];
  const tailB: Dispatched[] = [];
  for (let i = 0; i < rest; i++) {
    const da = await batched.dispatch(a.userId, now, rndA);
    const db = await single.dispatch(b.userId, now, rndB);
    if (da) tailA.push(da);
    if (db) tailB.push(db);
    if (!da && !db) break;
  }
  assert.deepEqual(
    dispatchFacts(a, tailA),
    dispatchFacts(b, tailB),
    'the fairness state left behind is the same',
  );
}

/** `test` runs a body on a fresh store of the dialect; `pairTest` on two fresh stores (one database). */
export function roleTests(makeStore: () => Promise<StoreHandle>) {
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
  return { test, pairTest };
}
