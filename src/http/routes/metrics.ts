/**
 * GET /metrics: Prometheus text exposition. With a metrics token configured, a scraper must send it
 * as a bearer token (Prometheus `authorization: { credentials: … }`); otherwise it is open, as
 * metrics endpoints usually are behind a private network.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { GatewayMetrics } from '../../metrics/metrics.ts';
import { Authenticator } from '../auth.ts';
import { sendError } from '../errors.ts';
import { errorResponses } from '../schemas.ts';

export interface MetricsRouteOptions {
  metrics: GatewayMetrics;
  /** Bearer token a scrape must carry; null leaves /metrics open. */
  token: string | null;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

export const metricsRoutes: FastifyPluginAsync<MetricsRouteOptions> = async (app, { metrics, token }) => {
  const expected = token ? digest(token) : null;
  app.get(
    '/metrics',
    {
      schema: { hide: true, response: { 200: Type.String(), ...errorResponses(401) } },
    },
    async (request, reply) => {
      if (expected) {
        const given = Authenticator.bearer(request.headers.authorization);
        // Hashes have equal lengths, so the comparison is constant-time whatever was sent.
        if (!given || !timingSafeEqual(digest(given), expected))
          return sendError(reply, 401, 'Unauthorized: /metrics needs the metrics token');
      }
      const text = await metrics.text();
      return reply.type(metrics.contentType).send(text);
    },
  );
};

/** Times every request into pixgate_http_request_duration_seconds, labelled by route pattern (not raw URL, which would explode the series). */
export function installHttpMetrics(app: FastifyInstance, metrics: GatewayMetrics): void {
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    done();
  });
}
