/**
 * The Fastify application: content-type handling that useapi clients rely on, the error
 * envelope, auth per route group, and the OpenAPI document generated from route schemas.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppDeps } from './context.ts';
import { installErrorHandling, sendError } from './errors.ts';
import { requireUser } from './guards.ts';
import { accountRoutes } from './routes/accounts.ts';
import { adminRoutes } from './routes/admin.ts';
import { fileRoutes, UPLOAD_LIMIT_BYTES } from './routes/files.ts';
import { jobRoutes } from './routes/jobs.ts';
import { videoOpsRoutes } from './routes/videoOps.ts';
import { catalogRoutes } from './routes/catalog.ts';
import { schedulerRoutes } from './routes/scheduler.ts';
import { tenantRoutes } from './routes/tenant.ts';
import { callbackRoutes } from './routes/callbacks.ts';
import { upstreamWebhookRoutes } from './routes/upstreamWebhook.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { ErrorBody } from './schemas.ts';
import { validatorCompiler } from './validation.ts';

export interface AppOptions {
  /** pino logger shared with the scheduler; without one the app logs nothing. */
  loggerInstance?: FastifyBaseLogger;
}

export async function buildApp(deps: AppDeps, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.loggerInstance ? { loggerInstance: options.loggerInstance } : { logger: false }),
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 1200 },
    bodyLimit: 1024 * 1024,
    // Router-level failures (bad percent-encoding, over-long path parameter) otherwise answer
    // Fastify's own body with a string `code`; keep useapi's envelope for them too.
    frameworkErrors: (error, request, reply) => {
      const full = request.url.split('?')[0]!;
      const path = full.length > 120 ? `${full.slice(0, 120)}…` : full;
      const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
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
      done(Object.assign(new Error(`Malformed JSON body: ${(err as Error).message}`), { statusCode: 400 }), undefined);
    }
  });
  // Uploads are raw bodies carrying the file's own Content-Type; the route checks the type.
  app.addContentTypeParser(/^(image|video|audio)\/|^application\/octet-stream/, { parseAs: 'buffer', bodyLimit: UPLOAD_LIMIT_BYTES }, (_request, body, done) =>
    done(null, body),
  );

  await app.register(swagger, {
    openapi: {
      info: { title: 'Pixgate', description: "Self-hosted PixVerse gateway, compatible with useapi.net's PixVerse API v2", version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.get('/health', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(adminRoutes, { ...deps, prefix: '/admin' });
  await app.register(dashboardRoutes, deps);
  await app.register(upstreamWebhookRoutes, deps);
  await app.register(async (v2) => {
    // onRequest, not preHandler: an unauthenticated caller gets 401 before its body is
    // read or validated (and never learns anything from a 400).
    v2.addHook('onRequest', requireUser(deps.auth));
    await v2.register(tenantRoutes, deps);
    await v2.register(callbackRoutes, deps);
    await v2.register(
      async (pixverse) => {
        await pixverse.register(accountRoutes, deps);
        await pixverse.register(fileRoutes, deps);
        await pixverse.register(jobRoutes, deps);
        await pixverse.register(videoOpsRoutes, deps);
        await pixverse.register(catalogRoutes, deps);
        await pixverse.register(schedulerRoutes, deps);
      },
      { prefix: '/pixverse' },
    );
  }, { prefix: '/v2' });
  return app;
}
