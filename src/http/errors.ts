/**
 * useapi's error envelope `{ "error": "...", "code": <status> }` for every failure:
 * validation errors name the field, 429s carry Retry-After, and nothing leaks a stack.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { storeRefusal } from '../app/index.ts';
import type { GatewayError } from '../domain/errors.ts';
import type { EngineError } from '../domain/outcomes.ts';
import { answerFor } from './outcomes.ts';

interface AjvIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

function fieldOf(issue: AjvIssue): string {
  return issue.instancePath.replace(/^\//, '').replace(/\//g, '.');
}

/** Turns the first schema violation into a sentence that names the field. */
export function describeValidation(issues: AjvIssue[], context: string | undefined): string {
  const issue = issues[0];
  if (!issue) return 'invalid request';
  const field = fieldOf(issue);
  const where =
    context === 'querystring' ? 'query parameter' : context === 'params' ? 'path parameter' : 'field';
  switch (issue.keyword) {
    case 'required':
      return `${String(issue.params['missingProperty'])} is required`;
    case 'additionalProperties':
      return `unknown ${where} "${String(issue.params['additionalProperty'])}"`;
    case 'type':
      return field
        ? `${field} must be ${String(issue.params['type'])}`
        : `request body must be a JSON ${String(issue.params['type'])}`;
    case 'enum':
      return `${field} must be one of: ${(issue.params['allowedValues'] as unknown[]).join(', ')}`;
    default:
      return `${field || context || 'request'} ${issue.message ?? 'is invalid'}`;
  }
}

export function sendError(
  reply: FastifyReply,
  status: number,
  message: string,
  retryAfterS: number | null = null,
  extra: Record<string, unknown> = {},
) {
  if (retryAfterS !== null) reply.header('Retry-After', String(retryAfterS));
  return reply
    .code(status)
    .type('application/json')
    .send({ error: message, code: status, ...extra });
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | GatewayError | EngineError, request, reply) => {
    const known = answerFor(error);
    if (known) return sendError(reply, known.status, known.message, known.retryAfterS, known.extra);
    const fastifyError = error as FastifyError & { validationContext?: string };
    if (fastifyError.validation) {
      return sendError(
        reply,
        400,
        describeValidation(fastifyError.validation as AjvIssue[], fastifyError.validationContext),
      );
    }
    const status = fastifyError.statusCode ?? 500;
    if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      // Fastify's text ("Unsupported Media Type") does not say what is wrong or what to send.
      const type =
        String(request.headers['content-type'] ?? '')
          .split(';')[0]!
          .trim() || 'missing';
      const hint = request.routeOptions.url?.endsWith('/files')
        ? 'send the raw file with its own Content-Type (image/png, image/jpeg, video/mp4, audio/mpeg, …)'
        : 'send the body as application/json';
      return sendError(reply, 415, `Content-Type ${type} is not supported here; ${hint}`);
    }
    if (status < 500) return sendError(reply, status, fastifyError.message);
    const unavailable = storeRefusal(error);
    if (unavailable) {
      request.log.warn({ err: error.message }, 'store unavailable');
      const { status, message, retryAfterS } = answerFor(unavailable)!;
      return sendError(reply, status, message, retryAfterS);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendError(reply, 500, 'Internal error');
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, `Route ${request.method} ${request.url.split('?')[0]} not found`),
  );
}
