/** Store conformance: Tenants, tokens, settings and secrets, dashboard reads, webhook receipts. */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { DEFAULT_TENANT_SETTINGS } from '../../../src/store/store.ts';
import { roleTests, T0, SECRET, userWithAccounts, reserveOk, type StoreHandle } from './harness.ts';

export function runTenantsConformance(makeStore: () => Promise<StoreHandle>): void {
  const { test } = roleTests(makeStore);
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
      assert.deepEqual(a, {
        id: a.id,
        name: 'alice',
        replyUrl: null,
        createdAt: T0,
        ...defaults,
        webhookSecret: SECRET,
      });
      assert.deepEqual(await store.getUser(b.id), {
        id: b.id,
        name: null,
        replyUrl: null,
        createdAt: T0 + 1,
        ...defaults,
        webhookSecret: 'whsec_b',
      });
      assert.equal(await store.getUser(a.id + b.id + 1000), null);
      assert.deepEqual(
        (await store.listUsers()).map((u) => [u.id, u.name]),
        [
          [a.id, 'alice'],
          [b.id, null],
        ],
      );

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
      assert.deepEqual(t1, {
        id: t1.id,
        userId: u.id,
        hash: 'a'.repeat(64),
        label: 'ci',
        createdAt: T0,
        revokedAt: null,
        weight: 1,
      });
      assert.deepEqual((await store.activeTokens(u.id)).map((t) => t.id).sort(), [t1.id, t2.id].sort());
      assert.deepEqual(await store.activeTokens(other.id), []);

      assert.equal(
        await store.revokeToken(other.id, t1.id, T0 + 5),
        false,
        'another tenant cannot revoke it',
      );
      assert.equal(await store.revokeToken(u.id, t1.id, T0 + 5), true);
      assert.equal(await store.revokeToken(u.id, t1.id, T0 + 6), false, 'already revoked');
      assert.equal(await store.revokeToken(u.id, t2.id + t1.id + 1000, T0 + 6), false, 'unknown token');

      assert.deepEqual(
        (await store.activeTokens(u.id)).map((t) => t.id),
        [t2.id],
      );
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
      assert.deepEqual(
        (await store.listUsers()).map((u) => [u.id, u.name]),
        [
          [b.id, 'beta'],
          [a.id, null],
        ],
      );
    });

    test('recentFailures: failed, moderated and timed_out since a time, latest first, per tenant', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 8 });
      const other = await userWithAccounts(store, { 'b@x.io': 8 });
      const end = async (
        userId: number,
        state: 'failed' | 'moderated' | 'timed_out' | 'completed' | 'cancelled',
        at: number,
      ) => {
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
      assert.deepEqual(
        recent.map((j) => j.id),
        [timedOut, moderated, failed],
      );
      assert.deepEqual(
        recent.map((j) => j.error),
        [`timed_out at ${T0 + 4000}`, `moderated at ${T0 + 3000}`, `failed at ${T0 + 2000}`],
      );
      assert.deepEqual(
        (await store.recentFailures(u.id, T0 + 1000, 2)).map((j) => j.id),
        [timedOut, moderated],
        'limit keeps the latest',
      );
      assert.ok(!recent.some((j) => j.id === running.id));
      assert.deepEqual(await store.recentFailures(u.id, T0 + 4001, 10), []);
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
      assert.equal(
        s1.maxQueueWaitMs,
        DEFAULT_TENANT_SETTINGS.maxQueueWaitMs,
        'absent settings keep their value',
      );
      assert.equal(s1.replyUrl, null);
      const s2 = await store.updateTenantSettings(u.id, {
        replyUrl: 'https://hook.example/t',
        maxQueueWaitMs: 1234,
      });
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
      assert.equal(
        (await store.getUser(other.id))!.maxQueueLength,
        DEFAULT_TENANT_SETTINGS.maxQueueLength,
        'other tenant untouched',
      );

      const r1 = await store.rotateWebhookSecret(u.id, 'whsec_two', T0 + 86_400_000);
      assert.deepEqual(
        [r1!.webhookSecret, r1!.webhookSecretPrev, r1!.webhookSecretPrevUntil],
        ['whsec_two', SECRET, T0 + 86_400_000],
      );
      const r2 = await store.rotateWebhookSecret(u.id, 'whsec_three', T0 + 99);
      assert.deepEqual(
        [r2!.webhookSecret, r2!.webhookSecretPrev, r2!.webhookSecretPrevUntil],
        ['whsec_three', 'whsec_two', T0 + 99],
      );
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
      assert.equal(
        await store.webhookReceiptSeen('r1', T0 + 1_000),
        false,
        'dropped once expired at a later record',
      );
      assert.equal(await store.webhookReceiptSeen('r2', T0 + 4_000), true);
    });
  });
}
