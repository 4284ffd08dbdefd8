/** The scheduler views: GET /scheduler, GET /scheduler/available, DELETE /scheduler/{id}. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { QueueSnapshot } from '../../app/jobs.ts';
import { badRequest } from '../../domain/errors.ts';
import { publicJobId } from '../../domain/ids.ts';
import type { RouteDeps } from '../context.ts';
import { parsePixverseJobId } from '../../providers/pixverse/compat/jobIds.ts';
import { callerOf } from '../guards.ts';
import { errorResponses, JobIdParams, StringEnum } from '../schemas.ts';

export const ExecutingItem = Type.Object(
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
export const AvailableRow = Type.Object(
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

export const QueuedItem = Type.Object(
  {
    id: Type.String(),
    type: StringEnum(['video', 'image', 'music'] as const),
    position: Type.Integer(),
    estimatedStart: Type.Union([Type.String(), Type.Null()]),
    queued: Type.String(),
    email: Type.Optional(Type.String()),
    priority: Type.Integer(),
    replyRef: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const AvailableView = Type.Object({
  executing: Type.Array(ExecutingItem),
  available: Type.Array(AvailableRow),
  queuedCount: Type.Integer(),
  queued: Type.Array(QueuedItem),
});
const UntrackQuery = Type.Object(
  {
    callback: Type.Optional(
      Type.Boolean({ description: "true: still send the job's final callback to its replyUrl" }),
    ),
  },
  { additionalProperties: false },
);

/** Queued jobs listed in /scheduler/available (the count covers all). */
const QUEUE_LISTED = 100;

export const schedulerRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { jobs } = deps.services;

  app.get(
    '/scheduler',
    {
      schema: {
        summary: 'Jobs currently holding a slot',
        response: { 200: Type.Array(ExecutingItem), ...errorResponses(401) },
      },
    },
    async (request, reply) => {
      const body = await jobs.executingJson(callerOf(request).userId);
      // A string payload is sent as is: it is the JSON already rendered from the same shape.
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  );

  app.get(
    '/scheduler/available',
    {
      schema: {
        summary: 'Running jobs and per-account capacity',
        response: {
          200: AvailableView,
          ...errorResponses(401),
        },
      },
    },
    async (request, reply) => {
      // Rendered once per tenant per second while nothing changes: polling clients are cheap.
      const body = await jobs.availableJson(callerOf(request).userId, QUEUE_LISTED, queuedItem);
      // A string payload is sent as is: it is the JSON already rendered from the same shape.
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  );

  // Untracking is not cancelling: PixVerse has no cancel, so a job already sent goes on and is paid
  // for; Pixgate frees its slot now and still learns its result (GET shows it, follow-ups accept it).
  app.delete(
    '/scheduler/:id',
    {
      schema: {
        summary: 'Stop tracking a job and free its slot (the generation goes on; its result stays readable)',
        params: JobIdParams,
        querystring: UntrackQuery,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const ref = parsePixverseJobId(id);
      if (!ref) throw badRequest(`id "${id}" is not a valid job id`);
      await jobs.untrack(callerOf(request).userId, ref, id, request.query.callback === true);
      return reply.code(204).send(null);
    },
  );
};

function queuedItem({ job, position, estimatedStart }: QueueSnapshot['items'][number]) {
  const item: typeof QueuedItem.static = {
    id: publicJobId(job),
    type: job.type,
    position,
    estimatedStart: Number.isFinite(estimatedStart) ? new Date(estimatedStart).toISOString() : null,
    queued: new Date(job.queuedAt ?? job.createdAt).toISOString(),
    priority: job.priority,
  };
  if (job.pinnedEmail) item.email = job.pinnedEmail;
  if (job.replyRef) item.replyRef = job.replyRef;
  return item;
}
