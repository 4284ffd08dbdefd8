/**
 * The one worker loop every claiming part of the engine runs on: claim → work → renew → release.
 *
 * - claim: the worker's own step (a cheap "is anything due" read, then one claiming write) hands
 *   back the items it claimed and how long to sleep before the next claim (0: claim again now).
 * - work: each item runs concurrently, at most `concurrency` at once; an error in one item is
 *   reported and never ends the loop.
 * - renew: one timer extends every lease the loop holds; an item the store no longer holds for us
 *   is reported lost (counted and logged by the caller) and its work's signal aborts.
 * - release: on stop, after the work in flight settled (or the deadline passed), the worker drops
 *   its leases so other instances take the items at once instead of after expiry.
 *
 * States: idle → claiming ⇄ sleeping → stopping → stopped (start() again from stopped is allowed).
 * The sleep is abortable: wake() ends it early (new work may be due), stop() ends it for good.
 * drain() is the same cycle as one bounded pass, for a worker driven by a periodic timer.
 */
import { Lease } from './lease.ts';
import { Sleeper } from './sleeper.ts';

export type LoopState = 'idle' | 'claiming' | 'sleeping' | 'stopping' | 'stopped';

export interface Claimed<T> {
  items: readonly T[];
  /** How long to sleep before the next claim when nothing wakes the loop; 0 claims again at once. */
  sleepMs: number;
}

export interface LeaseLoss<K> {
  worker: string;
  key: K;
  /** What found it: 'renew', or the name the work gave its final write ('finish', 'reschedule', …). */
  reason: string;
}

export type LoopPhase = 'claim' | 'work' | 'renew' | 'release';

export interface ClaimLoopOptions<T, K> {
  /** Names the worker in reports (and in the lost-lease metric's label). */
  worker: string;
  /** Identifies an item among the loop's in-flight work and in renewals. */
  key(item: T): K;
  /** Most items worked at once (Infinity: no bound). */
  concurrency: number;
  /** Claims up to `room` items (room ≥ 0; a worker may still look at what is due with no room). */
  claim(room: number): Promise<Claimed<T>>;
  work(item: T, lease: Lease): Promise<void>;
  /** Lease renewal while work is in flight; without it leases must outlive the work. */
  renewal?: { everyMs: number; renew(keys: K[]): Promise<K[]> };
  /** Drops this worker's leases after stop (graceful hand-over to other instances). */
  release?(): Promise<void>;
  /** Sleep after a failed claim. */
  errorBackoffMs: number;
  /** Longest stop() waits for work in flight before releasing anyway (default: no limit). */
  stopDeadlineMs?: number;
  onLeaseLost(loss: LeaseLoss<K>): void;
  onError(err: unknown, phase: LoopPhase, key?: K): void;
  /** Told whenever an item's work settled (after it left the in-flight set). */
  onSettled?(item: T): void;
}

interface InFlight {
  lease: Lease;
  done: Promise<void>;
}

export class ClaimLoop<T, K> {
  private current: LoopState = 'idle';
  private readonly sleeper = new Sleeper();
  private readonly inFlight = new Map<K, InFlight>();
  private loopDone: Promise<void> = Promise.resolve();
  private stopSignal = new AbortController();
  private renewTimer: NodeJS.Timeout | null = null;
  private renewing = false;
  private draining = false;

  constructor(private readonly opts: ClaimLoopOptions<T, K>) {}

  get state(): LoopState {
    return this.current;
  }

  /** Items being worked now. */
  get size(): number {
    return this.inFlight.size;
  }

  /** True while `key` is being worked by this loop. */
  holds(key: K): boolean {
    return this.inFlight.has(key);
  }

  start(): void {
    if (this.current !== 'idle' && this.current !== 'stopped') return;
    if (this.draining) throw new Error(`${this.opts.worker}: cannot start while a drain pass runs`);
    this.stopSignal = new AbortController();
    this.current = 'claiming';
    this.startRenewal();
    this.loopDone = this.loop();
  }

  /** Something may be due now: cut the current sleep short. */
  wake(): void {
    this.sleeper.wake();
  }

  /**
   * Stops claiming, waits for the work in flight (up to the deadline), stops renewing and
   * releases. Work still running after the deadline keeps running, but its leases are released
   * and its final writes are fenced, so it changes nothing.
   */
  async stop(): Promise<void> {
    if (this.current === 'idle' || this.current === 'stopped' || this.current === 'stopping') return;
    this.current = 'stopping';
    this.stopSignal.abort();
    this.sleeper.wake();
    await this.loopDone;
    await this.settleInFlight();
    this.stopRenewal();
    await this.releaseAll();
    this.current = 'stopped';
  }

  /**
   * One bounded pass without the background loop: claims until a claim asks for a sleep or
   * `maxRounds` claims were made, waiting for each round's work before claiming again, and renews
   * the leases meanwhile. Overlapping calls are the caller's to prevent.
   */
  async drain(maxRounds: number): Promise<void> {
    if (this.current !== 'idle' && this.current !== 'stopped')
      throw new Error(`${this.opts.worker}: drain() while the loop runs`);
    this.draining = true;
    this.startRenewal();
    try {
      for (let round = 0; round < maxRounds; round++) {
        const claimed = await this.opts.claim(this.room());
        for (const item of claimed.items) this.launch(item);
        await Promise.allSettled([...this.inFlight.values()].map((entry) => entry.done));
        if (claimed.sleepMs > 0) break;
      }
    } finally {
      await Promise.allSettled([...this.inFlight.values()].map((entry) => entry.done));
      this.stopRenewal();
      this.draining = false;
    }
  }

  private room(): number {
    return Math.max(0, this.opts.concurrency - this.inFlight.size);
  }

  private async loop(): Promise<void> {
    const stopping = this.stopSignal.signal;
    while (!stopping.aborted) {
      this.current = 'claiming';
      let sleepMs: number;
      try {
        const claimed = await this.opts.claim(this.room());
        for (const item of claimed.items) this.launch(item);
        sleepMs = claimed.sleepMs;
      } catch (err) {
        this.opts.onError(err, 'claim');
        sleepMs = this.opts.errorBackoffMs;
      }
      if (stopping.aborted) break;
      if (sleepMs > 0) {
        this.current = 'sleeping';
        await this.sleeper.sleep(sleepMs, stopping);
      }
    }
  }

  private launch(item: T): void {
    const key = this.opts.key(item);
    const lease = new Lease((reason) => this.opts.onLeaseLost({ worker: this.opts.worker, key, reason }));
    const done = (async () => {
      try {
        await this.opts.work(item, lease);
      } catch (err) {
        this.opts.onError(err, 'work', key);
      } finally {
        if (this.inFlight.get(key)?.lease === lease) this.inFlight.delete(key);
        // A finished item frees room (and may have made something else due): claim again.
        this.sleeper.wake();
        this.opts.onSettled?.(item);
      }
    })();
    this.inFlight.set(key, { lease, done });
  }

  private async settleInFlight(): Promise<void> {
    const all = Promise.allSettled([...this.inFlight.values()].map((entry) => entry.done));
    const deadline = this.opts.stopDeadlineMs;
    if (deadline === undefined || !Number.isFinite(deadline)) {
      await all;
      return;
    }
    let timer: NodeJS.Timeout | null = null;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), Math.max(0, deadline));
    });
    const outcome = await Promise.race([all.then(() => 'settled' as const), expired]);
    if (timer) clearTimeout(timer);
    if (outcome === 'expired') {
      this.opts.onError(
        new Error(`${this.inFlight.size} item(s) still in flight after the ${deadline} ms stop deadline`),
        'work',
      );
    }
  }

  private startRenewal(): void {
    const renewal = this.opts.renewal;
    if (!renewal || this.renewTimer) return;
    this.renewTimer = setInterval(() => void this.renew(), Math.max(10, renewal.everyMs));
    this.renewTimer.unref();
  }

  private stopRenewal(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
  }

  /** Exposed for tests and for a worker that wants a renewal now; the timer calls it too. */
  async renew(): Promise<void> {
    const renewal = this.opts.renewal;
    // One renewal at a time: a slow store must not pile renewals up behind each other.
    if (!renewal || this.renewing) return;
    // Items whose final write is under way are left out: that write releases the lease itself.
    const asked = [...this.inFlight].filter(([, entry]) => !entry.lease.settling && !entry.lease.lost);
    if (asked.length === 0) return;
    this.renewing = true;
    try {
      const held = new Set(await renewal.renew(asked.map(([key]) => key)));
      for (const [key, entry] of asked) {
        if (held.has(key)) continue;
        // Still the same claim and still not settling: nobody but another owner can have taken it.
        if (this.inFlight.get(key) === entry && !entry.lease.settling) entry.lease.lose('renew');
      }
    } catch (err) {
      // A failed renewal proves nothing lost; the next one (or the fenced final write) will tell.
      this.opts.onError(err, 'renew');
    } finally {
      this.renewing = false;
    }
  }

  private async releaseAll(): Promise<void> {
    if (!this.opts.release) return;
    try {
      await this.opts.release();
    } catch (err) {
      this.opts.onError(err, 'release');
    }
  }
}
