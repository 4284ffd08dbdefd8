/** The scheduler views: GET /scheduler, GET /scheduler/available, DELETE /scheduler/{id}. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { parseJobId } from '../../domain/ids.ts';
import { executingList, schedulerAvailable } from '../../scheduler/views.ts';
import type { AppDeps } from '../context.ts';
import { sendError } from '../errors.ts';
import { callerOf } from '../guards.ts';
import { errorResponses, JobIdParams, StringEnum } from '../schemas.ts';

const ExecutingItem = Type.Object(
  {
    id: Type.String(),
    type: StringEnum(['video', 'image', 'music'] as const),
    started: Type.String(),
    elapsed: Type.String(),
    replyUrl: Type.Optional(Type.String()),
    replyRef: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

// useapi's row plus non-breaking health fields.
const AvailableRow = Type.Object(
  {
    email: Type.String(),
    maxJobs: Type.Integer(),
    executing: Type.Integer(),
    available: Type.Integer(),
    state: Type.String(),
    reason: Type.Optional(Type.String()),
    cooldownUntil: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const schedulerRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, deps) => {
  const { store, scheduler, now } = deps;

  app.get('/scheduler', {
    schema: { summary: 'Jobs currently holding a slot', response: { 200: Type.Array(ExecutingItem), ...errorResponses(401) } },
  }, async (request) => executingList(store, callerOf(request).userId, now()));

  app.get('/scheduler/available', {
    schema: {
      summary: 'Running jobs and per-account capacity',
      response: { 200: Type.Object({ executing: Type.Array(ExecutingItem), available: Type.Array(AvailableRow) }), ...errorResponses(401) },
    },
  }, async (request) => schedulerAvailable(store, callerOf(request).userId, now()));

  app.delete('/scheduler/:id', {
    schema: { summary: 'Stop tracking a job and free its slot', params: JobIdParams, response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) } },
  }, async (request, reply) => {
    const id = request.params.id;
    const ref = parseJobId(id);
    if (!ref) return sendError(reply, 400, `id "${id}" is not a valid job id`);
    const cancelled = await scheduler.cancel(callerOf(request).userId, ref);
    if (!cancelled) return sendError(reply, 404, `Unable to locate running ${id}`);
    return reply.code(204).send(null);
  });
};
