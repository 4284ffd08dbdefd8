/** Authentication hooks for route groups. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Authenticator } from './auth.ts';
import { sendError } from './errors.ts';

export function requireUser(auth: Authenticator) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    request.caller = await auth.user(Authenticator.bearer(request.headers.authorization));
    if (!request.caller) return sendError(reply, 401, 'Unauthorized');
  };
}

export function requireAdmin(auth: Authenticator) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!auth.isAdmin(Authenticator.bearer(request.headers.authorization)))
      return sendError(reply, 401, 'Unauthorized');
  };
}

/** The authenticated caller; routes behind requireUser always have one. */
export function callerOf(request: FastifyRequest) {
  if (!request.caller) throw new Error('route is missing its auth hook');
  return request.caller;
}
