/**
 * The claim loop's states on their own: abortable sleep, work errors, renewal that reports a lost
 * lease (and renewal failures that do not), one report per lost item, stop's deadline, drain passes.
 * The claim and work steps here are plain functions over an in-memory list: the loop is the unit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ClaimLoop,
  Sleeper,
  type Claimed,
  type ClaimLoopOptions,
  type Lease,
  type LeaseLoss,
  type LoopPhase,
} from '../../src/workers/index.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => boolean, timeoutMs = 3_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(5);
  }
}

interface Harness {
  losses: LeaseLoss<number>[];
  errors: { err: unknown; phase: LoopPhase; key?: number }[];
  claims: number;
}

function loopOf(
  overrides: Partial<ClaimLoopOptions<number, number>> &
    Pick<ClaimLoopOptions<number, number>, 'claim' | 'work'>,
): { loop: ClaimLoop<number, number>; h: Harness } {
  const h: Harness = { losses: [], errors: [], claims: 0 };
  const claim = overrides.claim;
  const loop = new ClaimLoop<number, number>({
    worker: 'test',
    key: (n) => n,
    concurrency: 4,
    errorBackoffMs: 20,
    onLeaseLost: (loss) => h.losses.push(loss),
    onError: (err, phase, key) => h.errors.push(key === undefined ? { err, phase } : { err, phase, key }),
    ...overrides,
    claim: (room) => {
      h.claims++;
      return claim(room);
    },
  });
  return { loop, h };
}

/** Hands out the queued numbers (up to room), then asks for a long sleep. */
function queue(items: number[], idleMs = 60_000): (room: number) => Promise<Claimed<number>> {
  return async (room) => {
    const taken = items.splice(0, room);
    return { items: taken, sleepMs: items.length > 0 ? 0 : idleMs };
  };
}

describe('Sleeper', () => {
  it('ends on wake(), on abort, and returns at once when already aborted or woken', async () => {
    const sleeper = new Sleeper();
    let t = Date.now();
    const first = sleeper.sleep(10_000);
    sleeper.wake();
    await first;
    assert.ok(Date.now() - t < 1_000);

    const controller = new AbortController();
    t = Date.now();
    const second = sleeper.sleep(10_000, controller.signal);
    setTimeout(() => controller.abort(), 20);
    await second;
    assert.ok(Date.now() - t < 1_000, 'abort cut the sleep short');

    t = Date.now();
    await sleeper.sleep(10_000, controller.signal);
    assert.ok(Date.now() - t < 100, 'an aborted signal does not sleep');

    sleeper.wake(); // no sleep in progress: the next one returns at once
    t = Date.now();
    await sleeper.sleep(10_000);
    assert.ok(Date.now() - t < 100);
  });
});

describe('ClaimLoop', () => {
  it('works claimed items, sleeps when told, and a wake() claims again at once', async () => {
    const pending = [1, 2, 3];
    const done: number[] = [];
    const { loop, h } = loopOf({ claim: queue(pending), work: async (n) => void done.push(n) });
    assert.equal(loop.state, 'idle');
    loop.start();
    await waitFor(() => done.length === 3);
    await waitFor(() => loop.state === 'sleeping');
    pending.push(4);
    loop.wake();
    await waitFor(() => done.length === 4, 1_000, 'woken claim');
    await loop.stop();
    assert.equal(loop.state, 'stopped');
    assert.deepEqual(done.sort(), [1, 2, 3, 4]);
    assert.deepEqual(h.errors, []);
  });

  it('stop() aborts a long sleep at once', async () => {
    const { loop } = loopOf({ claim: async () => ({ items: [], sleepMs: 60_000 }), work: async () => {} });
    loop.start();
    await waitFor(() => loop.state === 'sleeping');
    const t = Date.now();
    await loop.stop();
    assert.ok(Date.now() - t < 500, `stop took ${Date.now() - t} ms`);
    assert.equal(loop.state, 'stopped');
  });

  it('a work error is reported and the loop goes on; a claim error backs off and retries', async () => {
    const pending = [1, 2, 3];
    const done: number[] = [];
    let failClaims = 2;
    const { loop, h } = loopOf({
      claim: async (room) => {
        if (failClaims-- > 0) throw new Error('store unavailable');
        return queue(pending)(room);
      },
      work: async (n) => {
        if (n === 2) throw new Error('boom');
        done.push(n);
      },
    });
    loop.start();
    await waitFor(() => done.length === 2);
    pending.push(4);
    loop.wake();
    await waitFor(() => done.length === 3, 1_000, 'work after an error');
    await loop.stop();
    assert.deepEqual(done.sort(), [1, 3, 4]);
    assert.deepEqual(
      h.errors.map((e) => e.phase),
      ['claim', 'claim', 'work'],
    );
    assert.equal(h.errors[2]?.key, 2);
  });

  it('bounds work in flight by concurrency and claims with the room left', async () => {
    const pending = Array.from({ length: 10 }, (_, i) => i + 1);
    const rooms: number[] = [];
    let inFlight = 0;
    let peak = 0;
    const { loop } = loopOf({
      concurrency: 3,
      claim: async (room) => {
        rooms.push(room);
        const taken = pending.splice(0, room);
        return { items: taken, sleepMs: room === 0 ? 60_000 : pending.length > 0 ? 0 : 60_000 };
      },
      work: async () => {
        peak = Math.max(peak, ++inFlight);
        await sleep(15);
        inFlight--;
      },
    });
    loop.start();
    await waitFor(() => pending.length === 0 && inFlight === 0);
    await loop.stop();
    assert.equal(peak, 3);
    assert.ok(rooms.every((r) => r >= 0 && r <= 3));
  });

  it('renewal that no longer holds an item reports it lost once and aborts its signal', async () => {
    let held = new Set([1, 2]);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const signals = new Map<number, AbortSignal>();
    const renewed: number[][] = [];
    const { loop, h } = loopOf({
      claim: queue([1, 2]),
      work: async (n, lease) => {
        signals.set(n, lease.signal);
        await gate;
        // The final write finds item 1 gone too: still one report for it.
        await lease.settle('finish', async () => n !== 1);
      },
      renewal: {
        everyMs: 20,
        renew: async (keys) => {
          renewed.push(keys);
          return keys.filter((k) => held.has(k));
        },
      },
    });
    loop.start();
    await waitFor(() => renewed.length >= 2, 2_000, 'two renewals');
    assert.deepEqual(h.losses, []);
    held = new Set([2]);
    await waitFor(() => h.losses.length === 1, 2_000, 'loss reported');
    assert.deepEqual(h.losses, [{ worker: 'test', key: 1, reason: 'renew' }]);
    assert.equal(signals.get(1)?.aborted, true);
    assert.equal(signals.get(2)?.aborted, false);
    await sleep(60);
    assert.ok(
      renewed.slice(-1)[0]?.every((k) => k === 2),
      'a lost item is not renewed again',
    );
    release();
    await loop.stop();
    assert.equal(h.losses.length, 1, 'the fenced write that failed afterwards did not count it twice');
  });

  it('a renewal that fails is reported as an error, never as a lost lease', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { loop, h } = loopOf({
      claim: queue([7]),
      work: async () => gate,
      renewal: {
        everyMs: 15,
        renew: async () => {
          throw new Error('connection reset');
        },
      },
    });
    loop.start();
    await waitFor(() => h.errors.filter((e) => e.phase === 'renew').length >= 2, 2_000, 'renewal failures');
    release();
    await loop.stop();
    assert.deepEqual(h.losses, []);
  });

  it('an item whose final write is under way is not reported lost by a renewal that misses it', async () => {
    let writeStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => (writeStarted = resolve));
    let finishWrite: () => void = () => {};
    const writeGate = new Promise<void>((resolve) => (finishWrite = resolve));
    let leaseOf: Lease | null = null;
    const { loop, h } = loopOf({
      claim: queue([5]),
      work: async (_n, lease) => {
        leaseOf = lease;
        await lease.settle('reschedule', async () => {
          writeStarted();
          await writeGate; // the write released the lease; a renewal now finds nothing
          return true;
        });
      },
      renewal: { everyMs: 10_000, renew: async () => [] },
    });
    loop.start();
    await started;
    await loop.renew();
    assert.deepEqual(h.losses, []);
    assert.equal((leaseOf as Lease | null)?.settling, true);
    finishWrite();
    await loop.stop();
    assert.deepEqual(h.losses, []);
  });

  it('a fenced final write that misses reports the item lost with the write’s name', async () => {
    const { loop, h } = loopOf({
      claim: queue([3, 4]),
      work: async (n, lease) => void (await lease.settle('reschedule', async () => n === 4)),
    });
    loop.start();
    await waitFor(() => h.losses.length === 1);
    await loop.stop();
    assert.deepEqual(h.losses, [{ worker: 'test', key: 3, reason: 'reschedule' }]);
  });

  it('stop() waits for work in flight, then releases', async () => {
    const order: string[] = [];
    const { loop } = loopOf({
      claim: queue([1]),
      work: async () => {
        await sleep(80);
        order.push('work done');
      },
      release: async () => void order.push('released'),
    });
    loop.start();
    await waitFor(() => loop.size === 1);
    await loop.stop();
    assert.deepEqual(order, ['work done', 'released']);
  });

  it('stop() gives up on work past its deadline, reports it, and releases anyway', async () => {
    const order: string[] = [];
    let release: () => void = () => {};
    const hang = new Promise<void>((resolve) => (release = resolve));
    const { loop, h } = loopOf({
      claim: queue([1]),
      work: async () => hang,
      release: async () => void order.push('released'),
      stopDeadlineMs: 50,
    });
    loop.start();
    await waitFor(() => loop.size === 1);
    const t = Date.now();
    await loop.stop();
    const took = Date.now() - t;
    assert.ok(took >= 45 && took < 1_000, `stop took ${took} ms`);
    assert.deepEqual(order, ['released']);
    assert.equal(h.errors.length, 1);
    assert.match(String(h.errors[0]?.err), /still in flight after the 50 ms stop deadline/);
    release();
  });

  it('drain() claims until a short round, waits for each round, and renews meanwhile', async () => {
    const pending = Array.from({ length: 7 }, (_, i) => i + 1);
    const done: number[] = [];
    let renewals = 0;
    const { loop, h } = loopOf({
      concurrency: 3,
      claim: async (room) => {
        const taken = pending.splice(0, room);
        return { items: taken, sleepMs: taken.length < room ? 1 : 0 };
      },
      work: async (n) => {
        await sleep(30);
        done.push(n);
      },
      renewal: {
        everyMs: 10,
        renew: async (keys) => {
          renewals++;
          return keys;
        },
      },
    });
    await loop.drain(10);
    assert.deepEqual(
      done.sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.equal(h.claims, 3, 'rounds of 3, 3, 1: the short round ends the pass');
    assert.ok(renewals > 0, 'leases were renewed during the pass');
    assert.equal(loop.size, 0);
    const before = renewals;
    await sleep(40);
    assert.equal(renewals, before, 'no renewal timer left behind');
    pending.push(...Array.from({ length: 20 }, (_, i) => 100 + i));
    await loop.drain(2);
    assert.equal(done.length, 7 + 6, 'maxRounds bounds a pass');
  });
});
