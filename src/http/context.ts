/** What routes need, passed to every route plugin. */
import { createServices, type EngineParts, type Services } from '../app/index.ts';
import type { GatewayMetrics } from '../metrics/metrics.ts';
import type { Authenticator, Caller } from './auth.ts';

/** What the HTTP layer adds to the engine parts. */
export interface HttpParts {
  auth: Authenticator;
  now: () => number;
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

/** What buildApp is given: the engine parts (turned into services unless given) and the HTTP parts. */
export type AppDeps = EngineParts & HttpParts & { services?: Services };

/** What route plugins get: services, never the engine parts. */
export type RouteDeps = HttpParts & { services: Services };

/** The services of either shape (a route registered directly with engine parts builds its own). */
export function servicesOf(deps: RouteDeps | AppDeps): Services {
  if (!('store' in deps)) return deps.services;
  return deps.services ?? createServices(deps);
}

/** Route deps from buildApp's deps: the services, and none of the engine parts. */
export function routeDeps(deps: AppDeps): RouteDeps {
  const {
    store: _store,
    scheduler: _scheduler,
    upstream: _upstream,
    callbackPolicy: _policy,
    services: _services,
    ...http
  } = deps;
  return { ...http, services: servicesOf(deps) };
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}
