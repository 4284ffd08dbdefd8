/**
 * The Store conformance suite: one set of behaviours every dialect must show, exercised only
 * through the Store contract (no SQL). Not a test file itself — sqlite.test.ts and
 * postgres.test.ts call runStoreConformance() with a factory that yields a fresh store per test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Job } from '../../src/domain/job.ts';
import type { ReserveInput, ReserveResult, Store, User } from '../../src/store/store.ts';

export interface StoreHandle {
  store: Store;
  /** `failed` is true when the test failed, so a dialect may keep its data for inspection. */
  cleanup: (failed: boolean) => Promise<void>;
}

const T0 = 1_700_000_000_000;
/** Larger than 2^53: must survive the store as an exact decimal string. */
const BIG_UPSTREAM_ID = '384751234567890123456';

type Body = (store: Store) => Promise<void>;

function reserveInput(userId: number, over: Partial<ReserveInput> = {}): ReserveInput {
  return {
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
  const user = await store.createUser('tenant', now);
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

  describe(`Store conformance: ${name}`, () => {
    describe('users and tokens', () => {
      test('creates, reads and updates users', async (store) => {
        const a = await store.createUser('alice', T0);
        const b = await store.createUser(null, T0 + 1);
        assert.notEqual(a.id, b.id);
        assert.deepEqual(a, { id: a.id, name: 'alice', replyUrl: null, createdAt: T0 });
        assert.deepEqual(await store.getUser(b.id), { id: b.id, name: null, replyUrl: null, createdAt: T0 + 1 });
        assert.equal(await store.getUser(a.id + b.id + 1000), null);

        await store.setUserReplyUrl(a.id, 'https://example.com/hook');
        assert.equal((await store.getUser(a.id))!.replyUrl, 'https://example.com/hook');
        assert.equal((await store.getUser(b.id))!.replyUrl, null, 'other users untouched');
        await store.setUserReplyUrl(a.id, null);
        assert.equal((await store.getUser(a.id))!.replyUrl, null);
      });

      test('token lifecycle: add, list, revoke once, scoped per user', async (store) => {
        const u = await store.createUser('u', T0);
        const other = await store.createUser('other', T0);
        const t1 = await store.addToken(u.id, 'a'.repeat(64), 'ci', T0);
        const t2 = await store.addToken(u.id, 'b'.repeat(64), null, T0 + 1);
        assert.deepEqual(t1, { id: t1.id, userId: u.id, hash: 'a'.repeat(64), label: 'ci', createdAt: T0, revokedAt: null });
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
        const u = await store.createUser('u', T0);
        await store.addToken(u.id, 'c'.repeat(64), null, T0);
        await assert.rejects(store.addToken(u.id, 'c'.repeat(64), null, T0));
      });
    });

    describe('accounts', () => {
      test('upsert creates, then replaces while keeping created_at and clearing health', async (store) => {
        const u = await store.createUser('u', T0);
        const first = await store.upsertAccount({ userId: u.id, email: 'a@x.io', apiKeyEnc: 'k1', maxJobs: 3, now: T0 });
        assert.equal(first.created, true);
        assert.deepEqual(first.account, {
          userId: u.id, email: 'a@x.io', apiKeyEnc: 'k1', maxJobs: 3, state: 'ok',
          reason: null, cooldownUntil: null, createdAt: T0, updatedAt: T0,
        });

        await store.setAccountHealth(u.id, 'a@x.io', { state: 'error', reason: 'bad key', cooldownUntil: T0 + 99, now: T0 + 5 });
        const second = await store.upsertAccount({ userId: u.id, email: 'a@x.io', apiKeyEnc: 'k2', maxJobs: 5, now: T0 + 10 });
        assert.equal(second.created, false);
        assert.deepEqual(second.account, {
          userId: u.id, email: 'a@x.io', apiKeyEnc: 'k2', maxJobs: 5, state: 'ok',
          reason: null, cooldownUntil: null, createdAt: T0, updatedAt: T0 + 10,
        });
        assert.deepEqual(await store.getAccount(u.id, 'a@x.io'), second.account);
        assert.equal((await store.listAccounts(u.id)).length, 1);
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
          id: res.job.id, userId: u.id, tokenId: token.id, email: 'a@x.io', type: 'image', state: 'submitting',
          upstreamId: null, traceId: 'trace-123', upstream: input.upstream, request: input.request,
          replyUrl: 'https://hook.example/cb', replyRef: 'ref-1', createdAt: T0 + 42, startedAt: T0 + 42,
          finishedAt: null, resultUrl: null, error: null, upstreamStatus: null, result: null, pollCount: 0,
          nextPollAt: null, leaseToken: null, leaseExpiresAt: null,
        };
        assert.deepEqual(res.job, expected);
        assert.deepEqual(await store.getJob(res.job.id), expected);
        const second = await reserveOk(store, u.id);
        assert.ok(second.id > res.job.id, 'job ids increase');
      });

      test('reports no_accounts, unknown_account, account_full and none_free', async (store) => {
        const empty = await store.createUser('empty', T0);
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
              for (const j of active) perEmail.set(j.email, (perEmail.get(j.email) ?? 0) + 1);
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
