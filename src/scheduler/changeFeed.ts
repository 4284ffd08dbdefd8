/**
 * Tells read caches when the scheduler's state may have changed. The store is wrapped so
 * that every call that can change what /scheduler views show bumps a version; with several
 * instances the cross-instance notifications bump it too, and readers also bound the age of
 * what they cache, so a lost notification costs at most that much staleness.
 */
import type { Store } from '../store/store.ts';

/** Store calls that change executing jobs, capacity or the queue. */
const MUTATIONS = new Set<string>([
  'reserve',
  'markRunning',
  'finish',
  'enqueue',
  'dispatch',
  'requeue',
  'expireJobs',
  'expireQueued',
  'upsertAccount',
  'deleteAccount',
  'setAccountHealth',
  'claimStaleSubmitting',
  'untrackJob',
  'releaseHeldSlot',
  'hideJob',
]);

export class ChangeFeed {
  private current = 0;

  get version(): number {
    return this.current;
  }

  bump(): void {
    this.current++;
  }

  /** A view of `store` whose mutating calls bump this feed once they have settled. */
  watch(store: Store): Store {
    // One wrapper per method, made on first use: binding or wrapping on every access allocated a
    // function per store call on the hot paths.
    const wrapped = new Map<string, unknown>();
    return new Proxy(store, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function' || typeof property !== 'string') return value;
        let fn = wrapped.get(property);
        if (fn === undefined) {
          const method = value as (...a: unknown[]) => Promise<unknown>;
          fn = MUTATIONS.has(property)
            ? (...args: unknown[]) =>
                // Bump after the write settled: a reader that saw the old version re-reads.
                method.apply(target, args).finally(() => this.bump())
            : method.bind(target);
          wrapped.set(property, fn);
        }
        return fn;
      },
    });
  }
}
