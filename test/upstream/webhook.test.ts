/** Reading and verifying PixVerse webhook deliveries (signature rules of the Platform docs). */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { readWebhook, WEBHOOK_TOLERANCE_MS } from '../../src/providers/pixverse/upstream/index.ts';
import { WebhookFormatError } from '../../src/scheduler/provider.ts';

const SECRET = 'pv-webhook-secret';
const NOW = 1_780_000_000_000;
const TS = String(NOW / 1000);
const NONCE = 'Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z';

function signature(secret: string, ts: string, nonce: string, form: string): string {
  return createHmac('sha256', secret).update(`${ts}\n${nonce}\n${form}`).digest('base64');
}

function headersOf(sig: string, ts = TS, nonce = NONCE) {
  const map: Record<string, string> = {
    'webhook-timestamp': ts,
    'webhook-nonce': nonce,
    'webhook-signature': sig,
  };
  return (name: string) => map[name];
}

describe('PixVerse webhook deliveries', () => {
  const raw =
    '{"id":"380541206212999","status":1,"url":"https://media.pixverse.ai/a b.mp4","size":10.50,"has_audio":true,"credits":100}';
  // Sorted keys, form encoding (space → +), numbers exactly as written, lowercase booleans.
  const sortedForm =
    'credits=100&has_audio=true&id=380541206212999&size=10.50&status=1&url=https%3A%2F%2Fmedia.pixverse.ai%2Fa+b.mp4';
  const bodyOrderForm =
    'id=380541206212999&status=1&url=https%3A%2F%2Fmedia.pixverse.ai%2Fa+b.mp4&size=10.50&has_audio=true&credits=100';

  it('accepts the sorted-key signature (Go/Java samples) and the body-order one (Python/Node samples)', () => {
    for (const form of [sortedForm, bodyOrderForm]) {
      const notice = readWebhook(headersOf(signature(SECRET, TS, NONCE, form)), raw);
      assert.equal(notice.upstreamId, '380541206212999');
      assert.equal(notice.status, 1);
      assert.equal(notice.verify(SECRET, NOW), 'ok');
    }
  });

  it('refuses another secret, another nonce, a changed body, and a timestamp outside the window', () => {
    const sig = signature(SECRET, TS, NONCE, sortedForm);
    assert.equal(readWebhook(headersOf(sig), raw).verify('other-secret', NOW), 'bad_signature');
    assert.equal(readWebhook(headersOf(sig, TS, 'x'.repeat(32)), raw).verify(SECRET, NOW), 'bad_signature');
    assert.equal(
      readWebhook(headersOf(sig), raw.replace('"status":1', '"status":8')).verify(SECRET, NOW),
      'bad_signature',
    );
    assert.equal(
      readWebhook(headersOf(sig), raw).verify(SECRET, NOW + WEBHOOK_TOLERANCE_MS + 1_000),
      'stale',
    );
    assert.equal(
      readWebhook(headersOf(sig), raw).verify(SECRET, NOW - WEBHOOK_TOLERANCE_MS - 1_000),
      'stale',
    );
    assert.equal(readWebhook(headersOf(sig), raw).verify(SECRET, NOW + WEBHOOK_TOLERANCE_MS - 1_000), 'ok');
    assert.equal(readWebhook(() => undefined, raw).verify(SECRET, NOW), 'unsigned');
  });

  it('reads an int64 id sent as a JSON number without losing digits, and signs it as written', () => {
    const body = '{"id":9007199254740993123,"status":7}';
    const form = 'id=9007199254740993123&status=7';
    const notice = readWebhook(headersOf(signature(SECRET, TS, NONCE, form)), body);
    assert.equal(notice.upstreamId, '9007199254740993123');
    assert.equal(notice.status, 7);
    assert.equal(notice.verify(SECRET, NOW), 'ok');
  });

  it('names what is wrong with an unreadable delivery', () => {
    const cases: [string, RegExp][] = [
      ['{"id":', /JSON/],
      ['[1,2]', /object/],
      ['{"status":1}', /\bid\b/],
      ['{"id":"12a","status":1}', /\bid\b/],
      ['{"id":-5,"status":1}', /\bid\b/],
    ];
    for (const [body, message] of cases) {
      assert.throws(
        () => readWebhook(headersOf('x'), body),
        (err: unknown) => err instanceof WebhookFormatError && message.test(err.message),
        body,
      );
    }
  });

  it('verifies any body signed the documented way (property)', () => {
    const value = fc.oneof(fc.string({ maxLength: 20 }), fc.boolean(), fc.integer({ min: -1e9, max: 1e9 }));
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== 'id' && k !== '__proto__'),
          value,
          { maxKeys: 6 },
        ),
        fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }),
        (fields, id) => {
          const entries: [string, string | boolean | number][] = [
            ['id', id.toString()],
            ...Object.entries(fields),
          ];
          const json = `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
          const sorted = [...entries]
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([k, v]) => [k, String(v)] as [string, string]);
          const notice = readWebhook(
            headersOf(signature(SECRET, TS, NONCE, new URLSearchParams(sorted).toString())),
            json,
          );
          assert.equal(notice.upstreamId, id.toString());
          assert.equal(notice.verify(SECRET, NOW), 'ok');
          assert.equal(notice.verify(`${SECRET}x`, NOW), 'bad_signature');
        },
      ),
      { numRuns: 200 },
    );
  });
});
