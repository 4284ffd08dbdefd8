/** Job creation (POST /videos|images|music/create) and reads (GET /videos|images|music/{id}). */
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest, notFound } from '../../domain/errors.ts';
import { parseJobId } from '../../domain/ids.ts';
import type { JobType } from '../../domain/job.ts';
import type { AppDeps } from '../context.ts';
import { callerOf } from '../guards.ts';
import { submitJob } from '../submitJob.ts';
import { idempotentCreate } from '../idempotency.ts';
import { idKey, jobView } from '../../domain/jobView.ts';
import { ImageCreateBody, mapImageCreate } from '../compat/imageCreate.ts';
import { mapMusicCreate, MusicCreateBody } from '../compat/musicCreate.ts';
import { mapVideoCreate, VideoCreateBody, type Mapped } from '../compat/videoCreate.ts';
import { errorResponses, IdempotencyHeaders, JobIdParams } from '../schemas.ts';

interface CreateRoute<B extends TSchema> {
  path: string;
  type: JobType;
  body: B;
  map: (body: B['static']) => Mapped;
  summary: string;
}

const JobView = Type.Object({}, { additionalProperties: true });


export const jobRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, deps) => {
  const { scheduler } = deps;

  function createRoute<B extends TSchema>(route: CreateRoute<B>) {
    const key = route.type === 'music' ? 'audio_id' : `${route.type}_id`;
    app.post(route.path, {
      schema: {
        summary: route.summary,
        headers: IdempotencyHeaders,
        body: route.body,
        response: { 200: Type.Object({ [key]: Type.String() }), ...errorResponses(400, 401, 404, 409, 412, 422, 429, 502, 596) },
      },
    }, async (request: FastifyRequest, reply: FastifyReply) => {
      const mapped = route.map(request.body as B['static']);
      return idempotentCreate(deps, request, reply, (claim) => submitJob(deps, request, route.type, mapped, claim));
    });
  }

  createRoute({ path: '/videos/create', type: 'video', body: VideoCreateBody, map: mapVideoCreate, summary: 'Text- or image-to-video' });
  createRoute({ path: '/images/create', type: 'image', body: ImageCreateBody, map: mapImageCreate, summary: 'Text-to-image' });
  createRoute({ path: '/music/create', type: 'music', body: MusicCreateBody, map: mapMusicCreate, summary: 'Generate a song or instrumental' });

  function readRoute(path: string, type: JobType, label: string) {
    app.get(path, {
      schema: { summary: `One ${label} with its status`, params: JobIdParams, response: { 200: JobView, ...errorResponses(400, 401, 403, 404) } },
    }, async (request) => {
      const caller = callerOf(request);
      const ref = parseJobId(request.params.id);
      if (!ref) throw badRequest(`${idKey({ type })} "${request.params.id}" is not a valid id`);
      if (ref.type !== type) throw badRequest(`"${request.params.id}" is a ${ref.type} id, not a ${type} id`);
      const job = await scheduler.findJob(caller.userId, ref);
      if (!job) throw notFound(`${label[0]!.toUpperCase()}${label.slice(1)} ${request.params.id} not found`);
      if (job.state !== 'queued') return jobView(job);
      return { ...jobView(job), ...(await scheduler.queuePlace(caller.userId, job.id)) };
    });
  }

  readRoute('/videos/:id', 'video', 'video');
  readRoute('/images/:id', 'image', 'image');
  readRoute('/music/:id', 'music', 'music');
};
