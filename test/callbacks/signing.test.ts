/**
 * Standard Webhooks signatures: known-answer vector, round trip, tampering, replay window, and
 * rotation (both secrets sign during the grace period; either verifies).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { signingSecrets } from '../../src/callbacks/secrets.ts';
import { sign, verifyWebhook, webhookHeaders, webhookId } from '../../src/callbacks/signing.ts';
import { newWebhookSecret } from '../../src/security/webhookSecret.ts';
import type { User } from '../../src/store/store.ts';

describe('webhook signatures', () => {
  it('matches the Standard Webhooks reference vector', () => {
    // From the standard-webhooks reference libraries' tests.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
    const ts = 1614265330;
    const body = '{"test": 2432232314}';
    assert.equal(sign(secret, id, ts, body), 'g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    const headers = webhookHeaders([secret], id, ts, body);
    assert.equal(headers['webhook-signature'], 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    assert.ok(verifyWebhook(secret, headers, body, 300, ts * 1000));
  });

  it('round-trips for any body, and any change to body, id or timestamp breaks it (property)', () => {
    const secret = newWebhookSecret();
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme' }),
        fc.nat({ max: 1e9 }),
        fc.string({ minLength: 1 }),
        (body, deliveryId, extra) => {
          const now = 1_700_000_000_000;
          const ts = Math.floor(now / 1000);
          const headers = webhookHeaders([secret], webhookId(deliveryId), ts, body);
          assert.ok(verifyWebhook(secret, headers, body, 300, now));
          assert.ok(verifyWebhook(secret, headers, Buffer.from(body, 'utf8'), 300, now));
          assert.ok(!verifyWebhook(secret, headers, body + extra, 300, now));
          assert.ok(
            !verifyWebhook(secret, { ...headers, 'webhook-id': webhookId(deliveryId + 1) }, body, 300, now),
          );
          assert.ok(
            !verifyWebhook(secret, { ...headers, 'webhook-timestamp': String(ts - 1) }, body, 300, now),
          );
          assert.ok(!verifyWebhook(newWebhookSecret(), headers, body, 300, now));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses stale and future timestamps outside the tolerance', () => {
    const secret = newWebhookSecret();
    const now = 1_700_000_000_000;
    const at = (offsetS: number) => webhookHeaders([secret], 'msg_1', Math.floor(now / 1000) + offsetS, 'x');
    assert.ok(verifyWebhook(secret, at(-299), 'x', 300, now));
    assert.ok(!verifyWebhook(secret, at(-301), 'x', 300, now));
    assert.ok(!verifyWebhook(secret, at(301), 'x', 300, now));
    assert.ok(verifyWebhook(secret, at(-3000), 'x', 3600, now));
  });

  it('accepts header bags in any case, Headers objects and arrays; refuses missing or malformed headers', () => {
    const secret = newWebhookSecret();
    const now = Date.now();
    const h = webhookHeaders([secret], 'msg_9', Math.floor(now / 1000), 'body');
    const upper = {
      'Webhook-Id': h['webhook-id'],
      'WEBHOOK-TIMESTAMP': [h['webhook-timestamp']!],
      'Webhook-Signature': h['webhook-signature'],
    };
    assert.ok(verifyWebhook(secret, upper, 'body'));
    assert.ok(verifyWebhook(secret, new Headers(h), 'body'));
    assert.ok(!verifyWebhook(secret, { ...h, 'webhook-signature': undefined }, 'body'));
    assert.ok(!verifyWebhook(secret, { ...h, 'webhook-timestamp': 'soon' }, 'body'));
    assert.ok(
      !verifyWebhook(
        secret,
        { ...h, 'webhook-signature': h['webhook-signature']!.replace('v1,', 'v2,') },
        'body',
      ),
    );
    assert.ok(!verifyWebhook(secret, { ...h, 'webhook-signature': 'v1,' }, 'body'));
    assert.ok(!verifyWebhook('whsec_', h, 'body'));
  });

  it('during a rotation both secrets sign, and either verifies; afterwards only the new one', () => {
    const oldSecret = newWebhookSecret();
    const newSecret = newWebhookSecret();
    const now = 1_700_000_000_000;
    const user: User = {
      id: 1,
      name: null,
      replyUrl: null,
      createdAt: 0,
      queueByDefault: false,
      maxQueueLength: 10,
      maxQueueWaitMs: 10,
      webhookSecret: newSecret,
      webhookSecretPrev: oldSecret,
      webhookSecretPrevUntil: now + 60_000,
    };
    const during = signingSecrets(user, now);
    assert.deepEqual(during, [newSecret, oldSecret]);
    const headers = webhookHeaders(during, 'msg_5', Math.floor(now / 1000), '{"a":1}');
    assert.equal(headers['webhook-signature']!.split(' ').length, 2);
    assert.ok(verifyWebhook(oldSecret, headers, '{"a":1}', 300, now));
    assert.ok(verifyWebhook(newSecret, headers, '{"a":1}', 300, now));
    assert.ok(!verifyWebhook(newWebhookSecret(), headers, '{"a":1}', 300, now));

    const later = now + 60_001;
    assert.deepEqual(signingSecrets(user, later), [newSecret]);
    const after = webhookHeaders(signingSecrets(user, later), 'msg_5', Math.floor(later / 1000), '{"a":1}');
    assert.ok(!verifyWebhook(oldSecret, after, '{"a":1}', 300, later));
    assert.ok(verifyWebhook(newSecret, after, '{"a":1}', 300, later));
  });

  it('an empty previous secret (a migrated row) never signs', () => {
    const secret = newWebhookSecret();
    const user = {
      webhookSecret: secret,
      webhookSecretPrev: '',
      webhookSecretPrevUntil: Date.now() + 1e6,
    } as User;
    assert.deepEqual(signingSecrets(user, Date.now()), [secret]);
  });
});
