/**
 * POST /upstream/pixverse/webhook: where PixVerse reports the end of a job (the URL an operator
 * gives the webhook in the PixVerse console). Not a tenant route: PixVerse sends no bearer token;
 * the delivery is authenticated by its signature against the job's account webhook secret.
 *
 * PixVerse retries until it gets exactly `200 ok`, so only a delivery that was acted on (or is a
 * duplicate of one) gets it; anything else answers the usual error envelope and is delivered again.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppDeps } from '../context.ts';
import { sendError } from '../errors.ts';
import { errorResponses } from '../schemas.ts';

export const WEBHOOK_PATH = '/upstream/pixverse/webhook';

export const upstreamWebhookRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, deps) => {
  // The signature covers the body as sent (numbers as written, int64 ids), so the route gets the
  // raw text and the provider adapter parses it; encapsulated, this parser stays on this route.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, text, done) => done(null, String(text)));

  app.post(WEBHOOK_PATH, {
    schema: {
      summary: 'PixVerse webhook receiver (signed with the account webhook secret; answers "ok")',
      security: [],
      body: Type.String({ description: 'The delivery as PixVerse sends it: {"id", "status", "url", …}' }),
      response: { 200: Type.Literal('ok'), ...errorResponses(400, 401, 404, 409) },
    },
  }, async (request, reply) => {
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const outcome = await deps.scheduler.upstreamWebhook(header, request.body);
    if (!outcome.ok) {
      request.log.info({ status: outcome.status, error: outcome.error }, 'webhook delivery refused');
      return sendError(reply, outcome.status, outcome.error);
    }
    return reply.code(200).type('text/plain; charset=utf-8').send('ok');
  });
};
