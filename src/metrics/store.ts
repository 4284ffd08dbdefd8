/**
 * A Store whose every asynchronous operation is timed into pixgate_store_operation_duration_seconds,
 * labelled by method. Each Store method is one transaction or one statement, so this is the store
 * transaction time by operation, measured as callers see it (including waits for a pool connection
 * or SQLite's write lock). A Proxy rather than a hand-written wrapper so a method added to the Store
 * contract is timed without touching this file.
 */
import type { Store } from '../store/store.ts';
import type { GatewayMetrics } from './metrics.ts';

export function meteredStore<S extends Store>(store: S, metrics: GatewayMetrics): S {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      let fn = wrapped.get(property);
      if (!fn) {
        const method = value as (...args: unknown[]) => unknown;
        const histogram = metrics.storeDuration.labels({ operation: property });
        fn = (...args: unknown[]) => {
          const started = process.hrtime.bigint();
          const result = method.apply(target, args);
          if (!(result instanceof Promise)) return result;
          const observe = () => histogram.observe(Number(process.hrtime.bigint() - started) / 1e9);
          result.then(observe, observe);
          return result;
        };
        wrapped.set(property, fn);
      }
      return fn;
    },
  });
}
