/**
 * Probes for load balancers and orchestrators: /healthz (the process answers), /readyz (the store
 * answers and every migration this code knows is applied; 503 while the instance drains on
 * SIGTERM, so it is taken out of rotation before it stops accepting), and the older /health.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteDeps } from '../context.ts';
import { sendError } from '../errors.ts';
import { errorResponses } from '../schemas.ts';

/** A store slower than this to answer a trivial read is not ready to serve. */
const STORE_DEADLINE_MS = 2_000;

const tags = ['health'];

export const healthRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process answers',
        tags,
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health',
    {
      schema: {
        summary: 'Liveness (kept for older probes; same as /healthz)',
        tags,
        security: [],
        response: { 200: Type.Object({ ok: Type.Literal(true) }) },
      },
    },
    async () => ({ ok: true as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the store answers and its migrations are applied; 503 while draining',
        tags,
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ready') }), ...errorResponses(503) },
      },
    },
    async (_request, reply) => {
      if (deps.draining?.()) return sendError(reply, 503, 'draining: the instance is shutting down');
      let timer: NodeJS.Timeout | undefined;
      try {
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${STORE_DEADLINE_MS} ms`)),
            STORE_DEADLINE_MS,
          );
        });
        const pending = await Promise.race([deps.services.system.pendingMigrations(), deadline]);
        if (pending > 0) return sendError(reply, 503, `${pending} store migration(s) pending`);
      } catch (err) {
        return sendError(
          reply,
          503,
          `store unavailable: ${err instanceof Error ? err.message : String(err)}`,
        );
      } finally {
        clearTimeout(timer);
      }
      return { status: 'ready' as const };
    },
  );
};
