/** The Idempotency-Key fingerprint: key order never matters, any other difference always does. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, fingerprintOf } from '../../src/http/idempotency.ts';

/** The same JSON value with every object's keys in another order. */
function shuffled(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v, i) => shuffled(v, seed + i));
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    const rotated =
      entries.length > 0
        ? [...entries.slice(seed % entries.length), ...entries.slice(0, seed % entries.length)].reverse()
        : entries;
    return Object.fromEntries(rotated.map(([k, v]) => [k, shuffled(v, seed + 1)]));
  }
  return value;
}

const json = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);

it('gives bodies that differ only in key order the same fingerprint', () => {
  fc.assert(
    fc.property(json, fc.nat(50), (body, seed) => {
      assert.equal(
        fingerprintOf('POST', '/v2/pixverse/videos/create', shuffled(body, seed)),
        fingerprintOf('POST', '/v2/pixverse/videos/create', body),
      );
    }),
    { numRuns: 300 },
  );
});

it('gives different bodies, routes or methods different fingerprints', () => {
  let distinct = 0;
  fc.assert(
    fc.property(json, json, (a, b) => {
      const same = canonicalJson(a) === canonicalJson(b);
      assert.equal(fingerprintOf('POST', '/r', a) === fingerprintOf('POST', '/r', b), same);
      if (!same) distinct++;
      assert.notEqual(
        fingerprintOf('POST', '/v2/pixverse/videos/create', a),
        fingerprintOf('POST', '/v2/pixverse/images/create', a),
      );
      assert.notEqual(fingerprintOf('POST', '/r', a), fingerprintOf('PUT', '/r', a));
    }),
    { numRuns: 300 },
  );
  assert.ok(distinct > 200, `only ${distinct} distinct pairs`);
});

it('canonical JSON is valid JSON of the same value', () => {
  fc.assert(
    fc.property(json, (value) => {
      assert.deepEqual(JSON.parse(canonicalJson(value)), value);
    }),
    { numRuns: 300 },
  );
});
