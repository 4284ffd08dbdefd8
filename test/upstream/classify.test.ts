import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpstreamErrorClass } from '../../src/scheduler/provider.ts';
import { classifyErrCode, classifyHttpStatus } from '../../src/providers/pixverse/upstream/index.ts';

const TABLE: [number, UpstreamErrorClass][] = [
  [500044, 'concurrency_limit'],
  [500043, 'out_of_credits'],
  [500090, 'out_of_credits'],
  [500054, 'moderation'],
  [500063, 'moderation'],
  [500052, 'moderation'],
  [701002, 'moderation'],
  [701003, 'moderation'],
  [400011, 'bad_request'],
  [400013, 'bad_request'],
  [400017, 'bad_request'],
  [400018, 'bad_request'],
  [400019, 'bad_request'],
  [400032, 'bad_request'],
  [400033, 'bad_request'],
  [400000, 'bad_request'],
  [400099, 'bad_request'],
  [500030, 'bad_request'],
  [500031, 'bad_request'],
  [500032, 'bad_request'],
  [500033, 'bad_request'],
  [500042, 'bad_request'],
  [500070, 'bad_request'],
  [500071, 'bad_request'],
  [500060, 'bad_request'],
  [400012, 'auth'],
  [10001, 'auth'],
  [10003, 'auth'],
  [500020, 'auth'],
  [500201, 'auth'],
  [500008, 'not_found'],
  [500064, 'not_found'],
  [500069, 'transient'],
  [500100, 'transient'],
  [99999, 'transient'],
  [500045, 'transient'],
  [10005, 'transient'],
  [500041, 'transient'],
  // Unknown codes.
  [400100, 'transient'],
  [400080, 'bad_request'], // 4000xx range
  [701020, 'transient'],
  [123, 'transient'],
  [-1, 'transient'],
];

describe('classifyErrCode', () => {
  for (const [code, expected] of TABLE) {
    it(`${code} → ${expected}`, () => {
      assert.equal(classifyErrCode(code, 200), expected);
      // A known code wins over the HTTP status it came with.
      if (expected !== 'transient') assert.equal(classifyErrCode(code, 500), expected);
    });
  }

  it('an unknown code falls back to the HTTP status', () => {
    assert.equal(classifyErrCode(777777, 429), 'rate_limit');
    assert.equal(classifyErrCode(777777, 401), 'auth');
    assert.equal(classifyErrCode(777777, 403), 'auth');
    assert.equal(classifyErrCode(777777, 500), 'transient');
    assert.equal(classifyErrCode(777777, null), 'transient');
    // …but a known code does not.
    assert.equal(classifyErrCode(500069, 429), 'transient');
    assert.equal(classifyErrCode(400017, 429), 'bad_request');
  });
});

describe('classifyHttpStatus (no envelope)', () => {
  it('maps 429, 401, 403 and everything else', () => {
    assert.equal(classifyHttpStatus(429), 'rate_limit');
    assert.equal(classifyHttpStatus(401), 'auth');
    assert.equal(classifyHttpStatus(403), 'auth');
    for (const s of [200, 404, 500, 502, 503, 504])
      assert.equal(classifyHttpStatus(s), 'transient', String(s));
    assert.equal(classifyHttpStatus(null), 'transient');
  });
});
