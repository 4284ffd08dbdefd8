/** What routes need, passed to every route plugin. */
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
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}
