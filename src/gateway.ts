/**
 * Composition root: builds store, upstream, scheduler and HTTP app from a Config, and
 * shuts them down in the right order (stop accepting → finish requests → stop claiming
 * and release leases → close the store).
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import pino, { type Logger } from 'pino';
import type { Config } from './config.ts';
import { CallbackDeliverer, createOutboxBuilder, sealClearSecrets } from './callbacks/index.ts';
import { createServices, type Services } from './app/index.ts';
import { buildApp } from './http/app.ts';
import { Authenticator } from './http/auth.ts';
import { Scheduler } from './scheduler/scheduler.ts';
import { DEFAULT_POLL_POLICY } from './domain/policy/pollSchedule.ts';
import type { SchedulerTuning } from './scheduler/context.ts';
import { loadOrCreateSecret, newAdminToken, newMasterKeyText } from './security/dataDirSecrets.ts';
import { secretBoxFor } from './security/secretBox.ts';
import { secureDataDir } from './security/fileModes.ts';
import { hashToken } from './security/tokens.ts';
import { openStore } from './store/index.ts';
import { StreamTickets } from './web/tickets.ts';
import { listenAcrossInstances } from './crossInstance.ts';
import {
  callbackAttemptRecorder,
  GatewayMetrics,
  leaseLossRecorder,
  MeteredUpstream,
  meteredStore,
  registerClusterGauges,
  watchScheduler,
} from './metrics/index.ts';
import type { Store } from './store/store.ts';
import { pixverseProvider } from './providers/index.ts';
import type { Upstream } from './scheduler/provider.ts';

export interface GatewayOptions {
  config: Config;
  /** Upstream base URL (overrides config.upstreamUrl); the caller starts any simulator. */
  upstreamUrl: string;
  logger?: Logger;
  tuning?: Partial<SchedulerTuning>;
  /** Called once with the admin token when it was just generated. */
  onAdminTokenCreated?: (token: string, path: string | null) => void;
  /** Told of every HTTP route as it is registered. */
  onRoute?: (route: RouteOptions) => void;
}

export interface Gateway {
  app: FastifyInstance;
  store: Store;
  scheduler: Scheduler;
  upstream: Upstream;
  /** The application services the HTTP API runs on (the CLI's demo set-up uses them too). */
  services: Services;
  metrics: GatewayMetrics;
  adminToken: string;
  url: string;
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  const log = options.logger ?? pino({ level: config.logLevel });
  secureDataDir(config.dataDir);
  const admin = loadOrCreateSecret(
    config.dataDir,
    'admin.token',
    config.adminToken ?? undefined,
    newAdminToken,
  );
  if (admin.generated) options.onAdminTokenCreated?.(admin.value, admin.path);
  const master = loadOrCreateSecret(
    config.dataDir,
    'master.key',
    config.masterKey ?? undefined,
    newMasterKeyText,
  );

  const secretBox = secretBoxFor(master.value);
  const metrics = new GatewayMetrics();
  // Every store operation and upstream call is timed at these two seams; the engine stays unaware.
  const store = meteredStore(
    await openStore(config.databaseUrl ?? undefined, config.dataDir, { schema: config.databaseSchema }),
    metrics,
  );
  // Before anything changes a job: every transition writes its callback in the same transaction.
  store.setOutboxBuilder(createOutboxBuilder());
  // Data migration: tenant signing secrets written in clear by older versions are sealed now.
  const resealed = await sealClearSecrets(store, secretBox);
  if (resealed > 0) log.info({ users: resealed }, 'sealed tenant callback secrets stored in clear');
  // The one provider this gateway runs; its client is timed like the store.
  const provider = pixverseProvider;
  const upstream = new MeteredUpstream(
    provider.connect({ baseUrl: options.upstreamUrl, timeoutMs: config.upstreamTimeoutMs }),
    metrics,
  );
  const scheduler = new Scheduler({
    store,
    provider,
    upstream,
    secretBox,
    log: log.child({ part: 'scheduler' }),
    tuning: { jobTimeoutMs: config.jobTimeoutMs, ...configuredTuning(config), ...options.tuning },
    expectedDurationMs: config.expectedDurationMs,
    // Other instances write to a shared store; their notifications refresh views, this bounds a missed one.
    viewMaxAgeMs: store.dialect === 'postgres' ? 1000 : 60_000,
  });
  const recordCallbackAttempt = callbackAttemptRecorder(metrics);
  const callbacks = new CallbackDeliverer({
    store,
    log: log.child({ part: 'callbacks' }),
    schedule: config.callbackScheduleMs,
    timeoutMs: config.callbackTimeoutMs,
    allowlist: config.callbackAllowlist,
    owner: scheduler.ctx.instanceId,
    secretBox,
    concurrency: 16,
    tenantShare: config.limits.callbackTenantShare,
    onLeaseLost: leaseLossRecorder(metrics),
    onAttempt: (kind, delivery, now) => {
      recordCallbackAttempt(kind, delivery, now);
      // The dashboard shows failing and dead deliveries live; a lost lease recorded nothing.
      if (kind !== 'lease_lost') {
        scheduler.events.emit('callback', {
          userId: delivery.userId,
          deliveryId: delivery.id,
          outcome: kind === 'retry' ? 'failed' : kind,
        });
      }
    },
  });
  metrics.info.set({ instance_id: scheduler.ctx.instanceId, store: store.dialect }, 1);
  watchScheduler(scheduler.events, metrics);
  registerClusterGauges(metrics, {
    store,
    now: Date.now,
    onError: (err) => log.warn({ err }, 'metrics: cluster snapshot failed'),
  });
  // A final state or a start may have written a delivery: attempt it now, not at the next idle wake.
  // Only jobs with a replyUrl can have written one.
  scheduler.events.on('final', (job) => job.replyUrl && callbacks.wake());
  scheduler.events.on('running', (job) => job.replyUrl && callbacks.wake());
  const engine = {
    store: scheduler.store,
    scheduler,
    upstream,
    now: Date.now,
    callbackPolicy: callbacks.policy,
    deliverer: callbacks,
  };
  const services = createServices(engine);
  const auth = new Authenticator(services.tenants, hashToken(admin.value));
  let draining = false;
  const app = await buildApp(
    {
      ...engine,
      services,
      auth,
      metrics,
      metricsToken: config.metricsToken,
      draining: () => draining,
      streamTicketKey: StreamTickets.keyFrom(master.value),
    },
    { loggerInstance: log, limits: config.limits, ...(options.onRoute ? { onRoute: options.onRoute } : {}) },
  );
  const unlisten = await listenAcrossInstances(
    config,
    store,
    { scheduler, deliveries: () => callbacks.wake(), tokensRevoked: () => auth.forget() },
    log,
  );
  scheduler.start();
  callbacks.start();
  // A deeper accept queue than Node's 511: when the process is saturated (a client hammering
  // refused creates on kept-alive connections), new connections — PixVerse webhook deliveries,
  // callbacks' peers, fresh clients — otherwise overflow it and wait a 1 s SYN retransmit or more.
  // Measured: new connections at 400/s under such load waited p50 1.5 s with 511, 0.7 s with 4096.
  // The kernel caps it at net.core.somaxconn.
  const address = await app.listen({ host: config.host, port: config.port, backlog: 4096 });
  const url = address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1');

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      // Readiness fails first, so a load balancer stops routing here while requests still succeed.
      draining = true;
      if (config.drainDelayMs > 0) await sleep(config.drainDelayMs);
      await app.close();
      await unlisten?.();
      await scheduler.stop();
      await callbacks.stop();
      await store.close();
      await upstream.close?.();
    })());
  return { app, store, scheduler, upstream, services, metrics, adminToken: admin.value, url, close };
}

/** Timings set through the environment (tests and operators); unset ones keep their defaults. */
function configuredTuning(config: Config): Partial<SchedulerTuning> {
  const tuning: Partial<SchedulerTuning> = { idempotencyTtlMs: config.idempotencyTtlMs };
  if (config.leaseMs !== null) tuning.leaseMs = config.leaseMs;
  if (config.staleSubmitMs !== null) tuning.staleSubmitMs = config.staleSubmitMs;
  if (config.idleWakeMs !== null) tuning.idleWakeMs = config.idleWakeMs;
  if (config.pollMinIntervalMs !== null)
    tuning.poll = { ...DEFAULT_POLL_POLICY, minIntervalMs: config.pollMinIntervalMs };
  return tuning;
}
