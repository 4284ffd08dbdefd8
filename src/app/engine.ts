/**
 * The engine parts application services are built from. Only this layer (and the composition
 * root) sees the store, the scheduler and the provider client; HTTP, the dashboard and the CLI
 * reach them through the services.
 */
import type { CallbackPolicy } from '../callbacks/ssrf.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import type { Store } from '../store/store.ts';
import type { Upstream } from '../scheduler/provider.ts';

export interface EngineParts {
  store: Store;
  scheduler: Scheduler;
  upstream: Upstream;
  now: () => number;
  /** SSRF policy for replyUrl checks at submit and on tenant settings (config callbackAllowlist). */
  callbackPolicy: CallbackPolicy;
  /** Woken after a redelivery so it is attempted at once. */
  deliverer?: { wake(): void } | null;
}
