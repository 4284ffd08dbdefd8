/** What routes need, passed to every route plugin. */
import type { CallbackPolicy } from '../callbacks/ssrf.ts';
import type { GatewayMetrics } from '../metrics/metrics.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import type { Store } from '../store/store.ts';
import type { Upstream } from '../scheduler/provider.ts';
import type { Authenticator, Caller } from './auth.ts';

export interface AppDeps {
  store: Store;
  scheduler: Scheduler;
  upstream: Upstream;
  auth: Authenticator;
  now: () => number;
  /** SSRF policy for replyUrl checks at submit (config callbackAllowlist). */
  callbackPolicy: CallbackPolicy;
  /** Woken after a redelivery so it is attempted at once. */
  deliverer?: { wake(): void } | null;
  /** Prometheus metrics served at /metrics and fed by the HTTP hook; absent serves none. */
  metrics?: GatewayMetrics | null;
  /** Bearer token /metrics requires (config metricsToken); null leaves it open. */
  metricsToken?: string | null;
  /** True once the instance is shutting down: /readyz answers 503. */
  draining?: () => boolean;
  /** Signs dashboard stream tickets; shared by every instance (derived from the master key). Random per process when absent. */
  streamTicketKey?: Buffer;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}
