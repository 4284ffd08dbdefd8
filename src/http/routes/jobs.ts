/** Job creation (POST /videos|images|music/create) and reads (GET /videos|images|music/{id}). */
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { checkCallbackUrl } from '../../callbacks/ssrf.ts';
import { badRequest, notFound } from '../../domain/errors.ts';
import { parseJobId } from '../../domain/ids.ts';
import { PRIORITIES, type Json, type JobType, type PriorityName } from '../../domain/job.ts';
import { publicId } from '../../scheduler/views.ts';
import type { AppDeps } from '../context.ts';
import { callerOf } from '../guards.ts';
import { idKey, jobView } from '../../domain/jobView.ts';
import { ImageCreateBody, mapImageCreate } from '../compat/imageCreate.ts';
import { mapMusicCreate, MusicCreateBody } from '../compat/musicCreate.ts';
import { mapVideoCreate, VideoCreateBody, type Mapped } from '../compat/videoCreate.ts';
import { errorResponses, JobIdParams } from '../schemas.ts';

interface CreateRoute<B extends TSchema> {
  path: string;
  type: JobType;
  body: B;
  map: (body: B['static']) => Mapped;
  summary: string;
}

const JobView = Type.Object({}, { additionalProperties: true });

interface CommonFields {
  email?: string;
  maxJobs?: number;
  replyUrl?: string;
  replyRef?: string;
  queue?: boolean;
  priority?: PriorityName;
}

export const jobRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, deps) => {
  const { scheduler } = deps;

  function createRoute<B extends TSchema>(route: CreateRoute<B>) {
    const key = route.type === 'music' ? 'audio_id' : `${route.type}_id`;
    app.post(route.path, {
      schema: {
        summary: route.summary,
        body: route.body,
        response: { 200: Type.Object({ [key]: Type.String() }), ...errorResponses(400, 401, 404, 412, 422, 429, 502, 596) },
      },
    }, async (request: FastifyRequest) => {
      const caller = callerOf(request);
      const body = request.body as B['static'] & CommonFields;
      const mapped = route.map(body);
      if (body.replyUrl !== undefined) await checkCallbackUrl(body.replyUrl, deps.callbackPolicy);
      const job = await scheduler.submit({
        userId: caller.userId,
        tokenId: caller.tokenId,
        email: mapped.email?.toLowerCase() ?? null,
        maxJobs: body.maxJobs ?? null,
        type: route.type,
        upstream: mapped.upstream,
        request: body as { [key: string]: Json },
        replyUrl: body.replyUrl ?? (await scheduler.user(caller.userId))?.replyUrl ?? null,
        replyRef: body.replyRef ?? null,
        queue: body.queue ?? null,
        priority: PRIORITIES[body.priority ?? 'normal'],
      });
      return { [key]: publicId(job) };
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
