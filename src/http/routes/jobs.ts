/**
 * Job creation (POST /videos/create), reads (GET /videos|images|music/{id}), lists (GET
 * /videos|images|music) from Pixgate's own records, and DELETE /videos|images/{id}.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { badRequest, notFound } from '../../domain/errors.ts';
import { parsePixverseJobId } from '../../providers/pixverse/compat/jobIds.ts';
import { publicJobId } from '../../domain/ids.ts';
import type { JobType } from '../../domain/job.ts';
import type { RouteDeps } from '../context.ts';
import { callerOf } from '../guards.ts';
import { submitJob } from '../submitJob.ts';
import { idempotentCreate } from '../idempotency.ts';
import { idKey, jobView } from '../../domain/jobView.ts';
import { mapVideoCreate, VideoCreateBody } from '../../providers/pixverse/compat/videoCreate.ts';
import { errorResponses, IdempotencyHeaders, JobIdParams } from '../schemas.ts';
import { normalizeEmail } from './accounts.ts';
import { resolveTemplateOutput } from '../../providers/pixverse/compat/templateKind.ts';

const JobView = Type.Object({}, { additionalProperties: true });

export const jobRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { jobs } = deps.services;

  // An image-output effect template (template_type 2) makes an image: answered with image_id.
  app.post(
    '/videos/create',
    {
      schema: {
        summary: 'Text- or image-to-video, effect templates (image templates answer image_id)',
        headers: IdempotencyHeaders,
        body: VideoCreateBody,
        response: {
          200: Type.Union([
            Type.Object({ video_id: Type.String() }),
            Type.Object({ image_id: Type.String() }),
          ]),
          ...errorResponses(400, 401, 404, 409, 412, 422, 429, 502, 596),
        },
      },
    },
    async (request, reply) => {
      const mapped = await resolveTemplateOutput(
        deps.services,
        callerOf(request).userId,
        mapVideoCreate(request.body),
      );
      const type: JobType = mapped.upstream.op === 'image.template' ? 'image' : 'video';
      // The answer key follows the job type: image templates answer image_id.
      return (await idempotentCreate(deps, request, reply, (claim) =>
        submitJob(deps, request, request.body, type, mapped, claim),
      )) as { video_id: string } | { image_id: string };
    },
  );

  function readRoute(path: string, type: JobType, label: string) {
    app.get(
      path,
      {
        schema: {
          summary: `One ${label} with its status`,
          params: JobIdParams,
          response: { 200: JobView, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const caller = callerOf(request);
        const ref = parsePixverseJobId(request.params.id);
        if (!ref) throw badRequest(`${idKey({ type })} "${request.params.id}" is not a valid id`);
        // useapi's GET /videos/{id} also serves the images of image templates (POST /videos/create).
        const accepted = ref.type === type || (type === 'video' && ref.type === 'image');
        if (!accepted) throw badRequest(`"${request.params.id}" is a ${ref.type} id, not a ${type} id`);
        const found = await jobs.read(caller.userId, ref);
        if (!found)
          throw notFound(`${label[0]!.toUpperCase()}${label.slice(1)} ${request.params.id} not found`);
        return found.place ? { ...jobView(found.job), ...found.place } : jobView(found.job);
      },
    );
  }

  readRoute('/videos/:id', 'video', 'video');
  readRoute('/images/:id', 'image', 'image');
  readRoute('/music/:id', 'music', 'music');

  function listRoute(path: string, type: JobType, defaultLimit: number) {
    app.get(
      path,
      {
        schema: {
          summary: `The caller's ${type} jobs (queued, running and final), newest first`,
          querystring: ListQuery,
          response: { 200: ListReply, ...errorResponses(400, 401) },
        },
      },
      async (request) => {
        const { userId } = callerOf(request);
        const limit = request.query.limit ?? defaultLimit;
        const offset = request.query.offset ?? 0;
        const email = request.query.email === undefined ? undefined : normalizeEmail(request.query.email);
        const page = await jobs.list(userId, {
          type,
          ...(email === undefined ? {} : { email }),
          limit,
          offset,
        });
        const next = offset + page.jobs.length;
        return {
          data: page.jobs.map(jobView),
          total: page.total,
          has_more: next < page.total,
          next_offset: next < page.total ? next : null,
        };
      },
    );
  }

  listRoute('/videos', 'video', 40);
  listRoute('/images', 'image', 50);
  listRoute('/music', 'music', 50);

  function deleteRoute(path: string, type: JobType, label: string) {
    app.delete(
      path,
      {
        schema: {
          summary: `Delete a ${label} from Pixgate (PixVerse keeps its copy)`,
          params: JobIdParams,
          response: { 200: DeleteReply, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const ref = parsePixverseJobId(request.params.id);
        if (!ref) throw badRequest(`${idKey({ type })} "${request.params.id}" is not a valid id`);
        if (ref.type !== type)
          throw badRequest(`"${request.params.id}" is a ${ref.type} id, not a ${type} id`);
        const done = await jobs.delete(callerOf(request).userId, ref);
        if (!done)
          throw notFound(`${label[0]!.toUpperCase()}${label.slice(1)} ${request.params.id} not found`);
        return {
          [idKey({ type })]: publicJobId(done.job),
          deleted: true,
          action: done.action,
          message: DELETE_MESSAGES[done.action],
        };
      },
    );
  }

  deleteRoute('/videos/:id', 'video', 'video');
  deleteRoute('/images/:id', 'image', 'image');
};

const ListQuery = Type.Object(
  {
    email: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })),
  },
  { additionalProperties: false },
);
const ListReply = Type.Object({
  data: Type.Array(JobView),
  total: Type.Integer(),
  has_more: Type.Boolean(),
  next_offset: Type.Union([Type.Integer(), Type.Null()]),
});
const DeleteReply = Type.Object({}, { additionalProperties: true });

/** What DELETE did, in words: the Platform API has no delete, so PixVerse's copy always stays. */
const DELETE_MESSAGES = {
  deleted:
    "Removed from Pixgate's lists and reads. PixVerse keeps its own copy: its Platform API has no delete.",
  untracked:
    'Still generating: Pixgate stopped tracking it (its slot is free, no callback will be sent) and removed it from lists and reads. PixVerse finishes and keeps its copy: its Platform API has no cancel or delete.',
  cancelled: "It was still waiting in Pixgate's queue and was never sent to PixVerse: cancelled and removed.",
} as const;
