/**
 * The short per-tenant cache behind a queued job's position (reading a queued job used to compute
 * a full queue snapshot, ~20 ms, on every request) and the per-process webhook replay memory.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ShortCache } from '../../src/scheduler/snapshotCache.ts';
import { ReplayGuard } from '../../src/scheduler/replayGuard.ts';
import { RateLimiter } from '../../src/http/rateLimit.ts';

describe('ShortCache', () => {
  it('computes once per tenant within the TTL, shared by concurrent readers, and again after it', async () => {
    let now = 1_000;
    let computed = 0;
    const cache = new ShortCache<number>(500, () => now);
    const compute = async () => ++computed;
    assert.deepEqual(
      await Promise.all([cache.get(1, compute), cache.get(1, compute), cache.get(1, compute)]),
      [1, 1, 1],
    );
    now += 499;
    assert.equal(await cache.get(1, compute), 1);
    assert.equal(await cache.get(2, compute), 2, 'per tenant');
    now += 1;
    assert.equal(await cache.get(1, compute), 3, 'recomputed once the TTL passed');
  });

  it('does not keep a failed computation', async () => {
    const cache = new ShortCache<number>(10_000, () => 0);
    await assert.rejects(cache.get(1, async () => Promise.reject(new Error('store down'))));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await cache.get(1, async () => 7), 7);
  });
});

describe('ReplayGuard', () => {
  it('remembers a key for its window, and stays within its capacity', () => {
    const guard = new ReplayGuard(600_000, 3);
    guard.remember('a', 0);
    assert.ok(guard.has('a', 599_999));
    assert.ok(!guard.has('a', 600_000));
    for (const key of ['b', 'c', 'd', 'e']) guard.remember(key, 1);
    assert.ok(guard.size <= 3);
    assert.ok(guard.has('e', 2));
  });
});

describe('RateLimiter', () => {
  it('lets a burst through, then one request per 1/rate seconds, per token', () => {
    let now = 0;
    const limiter = new RateLimiter(2, 4, () => now);
    for (let i = 0; i < 4; i++) assert.equal(limiter.take(1), 0);
    assert.equal(limiter.take(1), 1, 'over the burst: retry in about a second');
    assert.equal(limiter.take(2), 0, 'another token has its own bucket');
    now += 500;
    assert.equal(limiter.take(1), 0, 'half a second refills one request at 2/s');
    assert.ok(limiter.take(1) > 0);
    assert.equal(new RateLimiter(0, 0).take(1), 0, 'rate 0 turns it off');
  });
});
