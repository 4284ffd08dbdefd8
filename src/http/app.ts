/**
 * The Fastify application: content-type handling that useapi clients rely on, the error
 * envelope, auth per route group, the OpenAPI document generated from route schemas, health
 * probes and metrics.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { routeDeps, type AppDeps } from './context.ts';
import { installErrorHandling, sendError } from './errors.ts';
import { requireUser } from './guards.ts';
import { accountRoutes } from './routes/accounts.ts';
import { adminRoutes } from './routes/admin.ts';
import { fileRoutes } from './routes/files.ts';
import { jobRoutes } from './routes/jobs.ts';
import { videoOpsRoutes } from './routes/videoOps.ts';
import { catalogRoutes } from './routes/catalog.ts';
import { schedulerRoutes } from './routes/scheduler.ts';
import { tenantRoutes } from './routes/tenant.ts';
import { callbackRoutes } from './routes/callbacks.ts';
import { healthRoutes } from './routes/health.ts';
import { installHttpMetrics, metricsRoutes } from './routes/metrics.ts';
import { openapiOptions, registerDocsRoutes } from './openapi.ts';
import { upstreamWebhookRoutes } from './routes/upstreamWebhook.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { ErrorBody } from './schemas.ts';
import { validatorCompiler } from './validation.ts';
import { loadLimits, type Limits } from '../config.ts';
import { RateLimiter, rateLimitHook } from './rateLimit.ts';

export interface AppOptions {
  /** pino logger shared with the scheduler; without one the app logs nothing. */
  loggerInstance?: FastifyBaseLogger;
  /** Timeouts, body limits and rate limits (defaults: loadLimits with no environment). */
  limits?: Limits;
  /** Told of every route as it is registered (the OpenAPI coverage test compares the two lists). */
  onRoute?: (route: RouteOptions) => void;
}

export async function buildApp(engineDeps: AppDeps, options: AppOptions = {}): Promise<FastifyInstance> {
  // Routes see the services only; the engine parts stop here.
  const deps = routeDeps(engineDeps);
  const limits = options.limits ?? loadLimits({});
  const app = Fastify({
    ...(options.loggerInstance ? { loggerInstance: options.loggerInstance } : { logger: false }),
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 1200 },
    bodyLimit: limits.bodyLimitBytes,
    // Without these a client that sends its headers and then drips a body a byte every 20 s holds
    // its socket forever; ~20,000 of them exhausted the process's file descriptors and /health
    // stopped answering. Node checks the deadlines on an interval (30 s by default), so the
    // interval follows the shortest deadline for the cut-off to be close to it.
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: {
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      connectionsCheckingInterval: Math.max(
        100,
        Math.min(1_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)),
      ),
    },
    // Router-level failures (bad percent-encoding, over-long path parameter) otherwise answer
    // Fastify's own body with a string `code`; keep useapi's envelope for them too.
    frameworkErrors: (error, request, reply) => {
      const full = request.url.split('?')[0]!;
      const path = full.length > 120 ? `${full.slice(0, 120)}…` : full;
      const message =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? `a path parameter in ${path} is longer than 1200 characters`
          : `the path ${path} is not valid percent-encoding`;
      sendError(reply, error.statusCode ?? 400, message);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.decorateRequest('caller', null);
  app.addSchema(ErrorBody);
  installErrorHandling(app);

  // useapi's own examples send `Content-Type: application/json` on GET and DELETE with no
  // body; an empty JSON body therefore means "no body", not a parse error.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    const body = String(text);
    if (body.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body));
    } catch (err) {
      done(
        Object.assign(new Error(`Malformed JSON body: ${(err as Error).message}`), { statusCode: 400 }),
        undefined,
      );
    }
  });
  // Raw upload bodies are parsed only inside the files route (routes/files.ts): elsewhere an
  // image/* or octet-stream body is refused with 415 before it is read.
  app.server.maxConnections = limits.maxConnections;
  const limiter = new RateLimiter(limits.rateLimitPerSecond, limits.rateLimitBurst);

  if (options.onRoute) app.addHook('onRoute', options.onRoute);
  if (deps.metrics) installHttpMetrics(app, deps.metrics);
  await app.register(swagger, openapiOptions);
  registerDocsRoutes(app);
  await app.register(healthRoutes, deps);
  if (deps.metrics)
    await app.register(metricsRoutes, { metrics: deps.metrics, token: deps.metricsToken ?? null });

  await app.register(adminRoutes, { ...deps, prefix: '/admin' });
  await app.register(dashboardRoutes, deps);
  await app.register(upstreamWebhookRoutes, { ...deps, bodyLimit: limits.webhookBodyLimitBytes });
  await app.register(
    async (v2) => {
      // onRequest, not preHandler: an unauthenticated caller gets 401 before its body is
      // read or validated (and never learns anything from a 400).
      v2.addHook('onRequest', requireUser(deps.auth));
      if (limiter.enabled) v2.addHook('onRequest', rateLimitHook(limiter));
      await v2.register(tenantRoutes, deps);
      await v2.register(callbackRoutes, deps);
      await v2.register(
        async (pixverse) => {
          await pixverse.register(accountRoutes, deps);
          await pixverse.register(fileRoutes, { ...deps, uploadLimitBytes: limits.uploadLimitBytes });
          await pixverse.register(jobRoutes, deps);
          await pixverse.register(videoOpsRoutes, deps);
          await pixverse.register(catalogRoutes, deps);
          await pixverse.register(schedulerRoutes, deps);
        },
        { prefix: '/pixverse' },
      );
    },
    { prefix: '/v2' },
  );
  return app;
}
