/** Store conformance: Accounts, admission, and never overbooking (design invariant 1). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe } from 'node:test';
import type { Job } from '../../../src/domain/job.ts';
import {
  roleTests,
  T0,
  SECRET,
  reserveInput,
  userWithAccounts,
  ok,
  reserveOk,
  runningJob,
  loadsByEmail,
  enqueueInput,
  enqueueOk,
  dispatchAll,
  type StoreHandle,
} from './harness.ts';

export function runAccountsConformance(makeStore: () => Promise<StoreHandle>): void {
  const { test } = roleTests(makeStore);
  describe('accounts', () => {
    test("accounts and jobs carry their provider; a re-post keeps the account's", async (store) => {
      const u = await store.createUser('u', T0, SECRET);
      const made = await store.upsertAccount({
        userId: u.id,
        provider: 'other',
        email: 'o@x.io',
        apiKeyEnc: 'k',
        maxJobs: 2,
        now: T0,
      });
      assert.equal(made.account.provider, 'other');
      const again = await store.upsertAccount({
        userId: u.id,
        provider: 'third',
        email: 'o@x.io',
        apiKeyEnc: 'k2',
        maxJobs: 2,
        now: T0 + 1,
      });
      assert.equal(again.account.provider, 'other');
      assert.equal((await store.getAccount(u.id, 'o@x.io'))?.provider, 'other');
      const reserved = ok(await store.reserve(reserveInput(u.id, { provider: 'other' })));
      assert.equal(reserved.job.provider, 'other');
      assert.equal((await store.getJob(reserved.job.id))?.provider, 'other');
      const queued = await store.enqueue(
        { ...reserveInput(u.id, { provider: 'other' }), priority: 0, queueRank: T0 },
        10,
      );
      assert.ok(queued.ok);
      assert.equal((await store.getJob(queued.job.id))?.provider, 'other');
    });

    test('upsert creates, then replaces while keeping created_at and clearing health', async (store) => {
      const u = await store.createUser('u', T0, SECRET);
      const first = await store.upsertAccount({
        userId: u.id,
        email: 'a@x.io',
        apiKeyEnc: 'k1',
        maxJobs: 3,
        now: T0,
      });
      assert.equal(first.created, true);
      assert.deepEqual(first.account, {
        userId: u.id,
        provider: 'pixverse',
        email: 'a@x.io',
        apiKeyEnc: 'k1',
        maxJobs: 3,
        state: 'ok',
        reason: null,
        cooldownUntil: null,
        webhookId: null,
        webhookSecretEnc: null,
        createdAt: T0,
        updatedAt: T0,
      });

      await store.setAccountHealth(u.id, 'a@x.io', {
        state: 'error',
        reason: 'bad key',
        cooldownUntil: T0 + 99,
        now: T0 + 5,
      });
      const second = await store.upsertAccount({
        userId: u.id,
        email: 'a@x.io',
        apiKeyEnc: 'k2',
        maxJobs: 5,
        now: T0 + 10,
      });
      assert.equal(second.created, false);
      assert.deepEqual(second.account, {
        userId: u.id,
        provider: 'pixverse',
        email: 'a@x.io',
        apiKeyEnc: 'k2',
        maxJobs: 5,
        state: 'ok',
        reason: null,
        cooldownUntil: null,
        webhookId: null,
        webhookSecretEnc: null,
        createdAt: T0,
        updatedAt: T0 + 10,
      });
      assert.deepEqual(await store.getAccount(u.id, 'a@x.io'), second.account);
      assert.equal((await store.listAccounts(u.id)).length, 1);
    });

    test('upsert: the PixVerse webhook is set, kept when omitted, replaced, and removed by null', async (store) => {
      const u = await store.createUser('u', T0, SECRET);
      const base = { userId: u.id, email: 'a@x.io', apiKeyEnc: 'k1', maxJobs: 3 };
      const created = await store.upsertAccount({
        ...base,
        webhook: { id: 'wh-1', secretEnc: 'enc:s1' },
        now: T0,
      });
      assert.equal(created.created, true);
      assert.deepEqual([created.account.webhookId, created.account.webhookSecretEnc], ['wh-1', 'enc:s1']);

      // Re-posting without webhook fields (a new key, or to clear an error) keeps it.
      await store.setAccountHealth(u.id, 'a@x.io', {
        state: 'error',
        reason: 'bad key',
        cooldownUntil: null,
        now: T0 + 1,
      });
      const kept = await store.upsertAccount({ ...base, apiKeyEnc: 'k2', now: T0 + 2 });
      assert.equal(kept.created, false);
      assert.deepEqual(kept.account, { ...created.account, apiKeyEnc: 'k2', updatedAt: T0 + 2 });
      // Every read that builds accounts carries it, the accounts a reservation or a dispatch binds included.
      assert.deepEqual(await store.getAccount(u.id, 'a@x.io'), kept.account);
      assert.deepEqual(await store.listAccounts(u.id), [kept.account]);
      assert.deepEqual((await store.accountLoads(u.id))[0]!.account, kept.account);
      assert.deepEqual(
        ok(await store.reserve(reserveInput(u.id, { email: 'a@x.io' }))).account,
        kept.account,
      );
      assert.deepEqual(ok(await store.reserve(reserveInput(u.id))).account, kept.account);
      await enqueueOk(store, u.id);
      assert.deepEqual((await store.dispatch(u.id, T0 + 3))!.account, kept.account);

      const replaced = await store.upsertAccount({
        ...base,
        webhook: { id: 'wh-2', secretEnc: 'enc:s2' },
        now: T0 + 4,
      });
      assert.deepEqual([replaced.account.webhookId, replaced.account.webhookSecretEnc], ['wh-2', 'enc:s2']);
      const removed = await store.upsertAccount({ ...base, webhook: null, now: T0 + 5 });
      assert.deepEqual([removed.account.webhookId, removed.account.webhookSecretEnc], [null, null]);
      const stillNone = await store.upsertAccount({ ...base, now: T0 + 6 });
      assert.deepEqual([stillNone.account.webhookId, stillNone.account.webhookSecretEnc], [null, null]);
      assert.deepEqual(await store.getAccount(u.id, 'a@x.io'), stillNone.account);

      // A new account without the field, or with null, has none.
      for (const [email, webhook] of [
        ['b@x.io', undefined],
        ['c@x.io', null],
      ] as const) {
        const fresh = await store.upsertAccount({ ...base, email, webhook, now: T0 });
        assert.equal(fresh.created, true);
        assert.deepEqual([fresh.account.webhookId, fresh.account.webhookSecretEnc], [null, null]);
      }
      // Deleting and re-adding starts from the input, not from the deleted row.
      await store.upsertAccount({
        ...base,
        email: 'd@x.io',
        webhook: { id: 'wh-d', secretEnc: 'enc:d' },
        now: T0,
      });
      assert.ok(await store.deleteAccount(u.id, 'd@x.io', T0 + 7));
      const readded = await store.upsertAccount({ ...base, email: 'd@x.io', now: T0 + 8 });
      assert.deepEqual(
        [readded.created, readded.account.webhookId, readded.account.webhookSecretEnc],
        [true, null, null],
      );
    });

    test('accounts are per tenant and emails compare exactly', async (store) => {
      const u = await userWithAccounts(store, { 'b@x.io': 1, 'a@x.io': 2, 'A@x.io': 3 });
      const other = await userWithAccounts(store, { 'a@x.io': 8 });
      assert.deepEqual((await store.listAccounts(u.id)).map((a) => a.email).sort(), [
        'A@x.io',
        'a@x.io',
        'b@x.io',
      ]);
      assert.equal((await store.getAccount(u.id, 'A@x.io'))!.maxJobs, 3);
      assert.equal((await store.getAccount(u.id, 'a@x.io'))!.maxJobs, 2);
      assert.equal((await store.getAccount(other.id, 'a@x.io'))!.maxJobs, 8);
      assert.equal(await store.getAccount(other.id, 'b@x.io'), null);
      assert.equal(await store.getAccount(u.id, 'nobody@x.io'), null);
    });

    test('setAccountHealth records state, reason and cool-down; unknown account is a no-op', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1 });
      await store.setAccountHealth(u.id, 'a@x.io', {
        state: 'cooldown',
        reason: 'rate limited',
        cooldownUntil: T0 + 60_000,
        now: T0 + 1,
      });
      const a = (await store.getAccount(u.id, 'a@x.io'))!;
      assert.equal(a.state, 'cooldown');
      assert.equal(a.reason, 'rate limited');
      assert.equal(a.cooldownUntil, T0 + 60_000);
      assert.equal(a.updatedAt, T0 + 1);
      await store.setAccountHealth(u.id, 'ghost@x.io', {
        state: 'error',
        reason: 'x',
        cooldownUntil: null,
        now: T0,
      });
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
      assert.deepEqual(
        (await store.activeJobs(u.id)).map((j) => j.id),
        [elsewhere.id],
      );
      assert.equal(
        await store.finish(running.id, { state: 'failed' }, T0 + 60),
        null,
        'a cancelled job cannot finish again',
      );

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
        id: res.job.id,
        userId: u.id,
        provider: 'pixverse',
        tokenId: token.id,
        email: 'a@x.io',
        pinnedEmail: null,
        type: 'image',
        state: 'submitting',
        upstreamId: null,
        traceId: 'trace-123',
        upstream: input.upstream,
        request: input.request,
        replyUrl: 'https://hook.example/cb',
        replyRef: 'ref-1',
        priority: 0,
        queueRank: null,
        maxJobsOverride: null,
        createdAt: T0 + 42,
        queuedAt: null,
        startedAt: T0 + 42,
        finishedAt: null,
        resultUrl: null,
        error: null,
        upstreamStatus: null,
        result: null,
        pollCount: 0,
        nextPollAt: null,
        leaseToken: null,
        leaseExpiresAt: null,
        untrackedAt: null,
        untrackCallback: false,
        deletedAt: null,
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
      assert.deepEqual(await store.reserve(reserveInput(empty.id, { email: 'a@x.io' })), {
        ok: false,
        reason: 'unknown_account',
      });

      const u = await userWithAccounts(store, { 'a@x.io': 1, 'b@x.io': 1 });
      assert.deepEqual(await store.reserve(reserveInput(u.id, { email: 'A@x.io' })), {
        ok: false,
        reason: 'unknown_account',
      });
      await reserveOk(store, u.id, { email: 'a@x.io' });
      const full = await store.reserve(reserveInput(u.id, { email: 'a@x.io' }));
      assert.equal(full.ok, false);
      assert.equal(!full.ok && full.reason, 'account_full');
      assert.equal(!full.ok && 'account' in full && full.account.email, 'a@x.io');

      assert.equal(
        ok(await store.reserve(reserveInput(u.id))).account.email,
        'b@x.io',
        'unpinned finds the free one',
      );
      assert.deepEqual(await store.reserve(reserveInput(u.id)), { ok: false, reason: 'none_free' });
      assert.equal((await store.activeJobs(u.id)).length, 2, 'refusals insert nothing');
    });

    test('health: error and live cool-down refuse; an elapsed cool-down admits', async (store) => {
      const u = await userWithAccounts(store, { 'err@x.io': 4, 'cool@x.io': 4, 'ok@x.io': 1 });
      await store.setAccountHealth(u.id, 'err@x.io', {
        state: 'error',
        reason: 'banned',
        cooldownUntil: null,
        now: T0,
      });
      await store.setAccountHealth(u.id, 'cool@x.io', {
        state: 'cooldown',
        reason: 'rate',
        cooldownUntil: T0 + 1000,
        now: T0,
      });

      const err = await store.reserve(reserveInput(u.id, { email: 'err@x.io' }));
      assert.equal(!err.ok && err.reason, 'account_unhealthy');
      assert.equal(!err.ok && 'account' in err && err.account.reason, 'banned');
      const cool = await store.reserve(reserveInput(u.id, { email: 'cool@x.io', now: T0 + 999 }));
      assert.equal(!cool.ok && cool.reason, 'account_unhealthy');

      // Unpinned: only the healthy account is eligible, so after it fills nothing is free.
      assert.equal(ok(await store.reserve(reserveInput(u.id, { now: T0 + 999 }))).account.email, 'ok@x.io');
      assert.deepEqual(await store.reserve(reserveInput(u.id, { now: T0 + 999, random: () => 0.99 })), {
        ok: false,
        reason: 'none_free',
      });

      // At cooldownUntil the account is eligible again, pinned and unpinned.
      assert.equal(
        ok(await store.reserve(reserveInput(u.id, { email: 'cool@x.io', now: T0 + 1000 }))).account.email,
        'cool@x.io',
      );
      assert.equal(
        ok(await store.reserve(reserveInput(u.id, { now: T0 + 1000, random: () => 0 }))).account.email,
        'cool@x.io',
      );
      // An unhealthy account that is also full reports unhealthy (the more useful answer).
      await store.setAccountHealth(u.id, 'ok@x.io', {
        state: 'error',
        reason: 'x',
        cooldownUntil: null,
        now: T0,
      });
      const both = await store.reserve(reserveInput(u.id, { email: 'ok@x.io' }));
      assert.equal(!both.ok && both.reason, 'account_unhealthy');
    });

    test('maxJobsOverride replaces the account limit for that admission', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 3 });
      await reserveOk(store, u.id, { maxJobsOverride: 1 });
      const lower = await store.reserve(reserveInput(u.id, { email: 'a@x.io', maxJobsOverride: 1 }));
      assert.equal(!lower.ok && lower.reason, 'account_full');
      assert.deepEqual(await store.reserve(reserveInput(u.id, { maxJobsOverride: 1 })), {
        ok: false,
        reason: 'none_free',
      });
      await reserveOk(store, u.id);
      await reserveOk(store, u.id);
      const atLimit = await store.reserve(reserveInput(u.id, { email: 'a@x.io' }));
      assert.equal(!atLimit.ok && atLimit.reason, 'account_full');
      // useapi semantics: the per-request value is the limit used, even above the account's.
      await reserveOk(store, u.id, { email: 'a@x.io', maxJobsOverride: 4 });
      assert.equal((await loadsByEmail(store, u.id)).get('a@x.io'), 4);
    });

    test('unpinned choice is driven by `random` and only ever lands on free, healthy accounts', async (store) => {
      const u = await userWithAccounts(store, {
        'a@x.io': 1,
        'b@x.io': 2,
        'c@x.io': 2,
        'd@x.io': 2,
        'e@x.io': 5,
      });
      await reserveOk(store, u.id, { email: 'a@x.io' }); // a is full
      await store.setAccountHealth(u.id, 'e@x.io', {
        state: 'error',
        reason: 'x',
        cooldownUntil: null,
        now: T0,
      });
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

  describe('never overbook (property)', () => {
    type Op = { kind: 'reserve'; pin: number | null; rnd: number } | { kind: 'finish'; pick: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant('reserve' as const),
          pin: fc.option(fc.nat(4), { nil: null }),
          rnd: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        }),
      },
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
          const user = await userWithAccounts(
            store,
            Object.fromEntries(emails.map((e, i) => [e, limits[i]!])),
          );
          // Keep at least one account healthy so unpinned reserves have somewhere to go.
          for (let i = 1; i < emails.length; i++) {
            if (unhealthy[i])
              await store.setAccountHealth(user.id, emails[i]!, {
                state: 'error',
                reason: 'x',
                cooldownUntil: null,
                now: T0,
              });
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
                  const res = await store.reserve(
                    reserveInput(user.id, { email, now, random: () => op.rnd }),
                  );
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
              assert.equal(
                load.executing,
                perEmail.get(load.account.email) ?? 0,
                `load of ${load.account.email}`,
              );
            }
            assert.equal(
              active.length,
              admitted - finished,
              'every admission and every winning finish accounted for',
            );
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
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant('reserve' as const),
          pin: fc.option(fc.nat(4), { nil: null }),
          rnd,
        }),
      },
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
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant('batch' as const),
          rnd,
          limit: fc.integer({ min: 1, max: 6 }),
        }),
      },
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
          const user = await userWithAccounts(
            store,
            Object.fromEntries(emails.map((e, i) => [e, limits[i]!])),
          );
          const tokens: (number | null)[] = [null];
          for (let i = 0; i < 2; i++)
            tokens.push((await store.addToken(user.id, `${user.id}-${i}-${'0'.repeat(60)}`, null, T0)).id);
          for (let i = 1; i < emails.length; i++) {
            if (unhealthy[i])
              await store.setAccountHealth(user.id, emails[i]!, {
                state: 'error',
                reason: 'x',
                cooldownUntil: null,
                now: T0,
              });
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
                    const res = await store.reserve(
                      reserveInput(user.id, { email, now, random: () => op.rnd }),
                    );
                    if (res.ok) assert.equal(res.account.state, 'ok', 'never admits to an unhealthy account');
                    return { created: res.ok };
                  }
                  case 'enqueue': {
                    const res = await store.enqueue(
                      enqueueInput(user.id, {
                        email,
                        tokenId: tokens[op.token]!,
                        priority: op.priority,
                        now,
                      }),
                      1000,
                    );
                    if (!res.ok)
                      assert.equal(
                        res.reason,
                        email !== null && !limitOf.has(email) ? 'unknown_account' : 'never',
                      );
                    return { created: res.ok };
                  }
                  case 'dispatch':
                  case 'batch': {
                    const got =
                      op.kind === 'batch'
                        ? await store.dispatchBatch(user.id, now, op.limit, () => op.rnd)
                        : [await store.dispatch(user.id, now, () => op.rnd)].flatMap((d) => (d ? [d] : []));
                    if (op.kind === 'batch') assert.ok(got.length <= op.limit, 'a batch respects its limit');
                    assert.equal(
                      new Set(got.map((d) => d.job.id)).size,
                      got.length,
                      'a batch binds a job once',
                    );
                    for (const d of got) {
                      assert.equal(d.account.state, 'ok', 'never dispatches to an unhealthy account');
                      assert.equal(d.job.email, d.account.email);
                      assert.equal(d.job.state, 'submitting');
                      if (d.job.pinnedEmail !== null)
                        assert.equal(d.job.email, d.job.pinnedEmail, 'pins are honoured');
                    }
                    return {};
                  }
                  case 'finish': {
                    if (live.length === 0) return {};
                    // Several ops may pick the same job: the CAS must let only one of them win.
                    const won = await store.finish(
                      live[op.pick % live.length]!.id,
                      { state: 'completed' },
                      now,
                    );
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
              assert.equal(
                load.executing,
                perEmail.get(load.account.email) ?? 0,
                `load of ${load.account.email}`,
              );
            }
            const queued = await store.countQueued(user.id);
            assert.equal(
              active.length + queued,
              created - finished,
              'every creation and every winning finish accounted for',
            );
            for (const j of await store.queuedJobs(user.id, 1000)) assert.equal(j.startedAt, null);
          }
          // Drain: whatever is left and fits gets dispatched, and then nothing more fits.
          await dispatchAll(store, user.id, T0 + ++tick);
          for (const load of await store.accountLoads(user.id))
            assert.ok(load.executing <= load.account.maxJobs);
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

      const pinned = await Promise.all(
        Array.from({ length: 5 }, () => store.reserve(reserveInput(u.id, { email: 'b@x.io' }))),
      );
      assert.ok(pinned.every((r) => !r.ok && r.reason === 'account_full'));
    });
  });
}
