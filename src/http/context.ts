/** What routes need, passed to every route plugin. */
import type { CallbackPolicy } from '../callbacks/ssrf.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import type { Store } from '../store/store.ts';
import type { Upstream } from '../upstream/upstream.ts';
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
  /** Signs dashboard stream tickets; shared by every instance (derived from the master key). Random per process when absent. */
  streamTicketKey?: Buffer;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}
