/**
 * useapi's video job endpoints beyond POST /videos/create (create-frames, create-transition,
 * create-fusion, extend, modify, restyle, lipsync, motion-control, upscale), each mapped to a
 * PixVerse Platform operation and run through `scheduler.submit` like any job, and the useapi
 * endpoints the Platform API cannot serve, which answer 501 saying so.
 *
 * Operations on an existing video run on the account the id names: the route resolves the id
 * (403 for another tenant's id, 404 when unknown, 400 unless COMPLETED) and pins the job there.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { badRequest, GatewayError, notFound } from '../../domain/errors.ts';
import { statusName } from '../../domain/status.ts';
import type { JobService } from '../../app/jobs.ts';
import type { RouteDeps } from '../context.ts';
import { callerOf } from '../guards.ts';
import { submitJob, type CreateBody } from '../submitJob.ts';
import { idempotentCreate } from '../idempotency.ts';
import { errorResponses, IdempotencyHeaders } from '../schemas.ts';
import { CreateFramesBody, mapCreateFrames } from '../../providers/pixverse/compat/createFrames.ts';
import { CreateFusionBody, mapCreateFusion } from '../../providers/pixverse/compat/createFusion.ts';
import {
  CreateTransitionBody,
  mapCreateTransition,
} from '../../providers/pixverse/compat/createTransition.ts';
import { mapMotionControl, MotionControlBody } from '../../providers/pixverse/compat/motionControl.ts';
import { accountForSource } from '../../providers/pixverse/compat/sources.ts';
import { NOT_AVAILABLE, NOT_AVAILABLE_READS } from '../../providers/pixverse/compat/unavailable.ts';
import type { Mapped } from '../../providers/pixverse/compat/videoCreate.ts';
import { mapVideoExtend, VideoExtendBody } from '../../providers/pixverse/compat/videoExtend.ts';
import { mapVideoLipsync, VideoLipsyncBody } from '../../providers/pixverse/compat/videoLipsync.ts';
import { mapVideoModify, VideoModifyBody } from '../../providers/pixverse/compat/videoModify.ts';
import { mapVideoRestyle, VideoRestyleBody } from '../../providers/pixverse/compat/videoRestyle.ts';
import { mapVideoUpscale, VideoUpscaleBody } from '../../providers/pixverse/compat/videoUpscale.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Fills in the source video of an operation on an existing id: its upstream id goes into the
 * Platform body and the job is pinned to the account that made it.
 */
export async function resolveSource(
  jobs: JobService,
  userId: number,
  mapped: Mapped,
): Promise<{ upstream: Mapped['upstream']; email: string | null }> {
  const { source } = mapped;
  if (!source) return mapped;
  const job = await jobs.find(userId, source.ref);
  if (!job) throw notFound(`Video ${source.id} not found`);
  if (job.state !== 'completed' || job.upstreamId === null || job.email === null) {
    throw badRequest(
      `${source.field} ${source.id} is ${statusName(job.state)}; this operation needs a COMPLETED video`,
    );
  }
  const email = accountForSource(mapped.email, job.email, source);
  return {
    upstream: {
      op: mapped.upstream.op,
      params: { ...mapped.upstream.params, [source.param]: job.upstreamId },
    },
    email,
  };
}

export const videoOpsRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { jobs } = deps.services;

  /** Route options of a job route; `body` stays its own type so the handler's request.body is typed from it. */
  const jobRoute = <B extends TSchema>(body: B, summary: string) => ({
    schema: {
      summary,
      headers: IdempotencyHeaders,
      body,
      response: {
        200: Type.Object({ video_id: Type.String() }),
        ...errorResponses(400, 401, 403, 404, 409, 412, 422, 429, 502, 596),
      },
    },
  });

  async function create(request: FastifyRequest, reply: FastifyReply, body: CreateBody, map: () => Mapped) {
    const mapped = await resolveSource(jobs, callerOf(request).userId, map());
    // Every job of these routes is a video, so the answer is `{ video_id }`.
    return (await idempotentCreate(deps, request, reply, (claim) =>
      submitJob(deps, request, body, 'video', mapped, claim),
    )) as { video_id: string };
  }

  app.post(
    '/videos/create-frames',
    jobRoute(CreateFramesBody, 'Video from a first and a last frame'),
    (request, reply) => create(request, reply, request.body, () => mapCreateFrames(request.body)),
  );
  app.post(
    '/videos/create-transition',
    jobRoute(CreateTransitionBody, 'Video through 2–7 keyframes'),
    (request, reply) => create(request, reply, request.body, () => mapCreateTransition(request.body)),
  );
  app.post(
    '/videos/create-fusion',
    jobRoute(CreateFusionBody, 'Video from reference images named in the prompt'),
    (request, reply) => create(request, reply, request.body, () => mapCreateFusion(request.body)),
  );
  app.post('/videos/extend', jobRoute(VideoExtendBody, 'Extend a video'), (request, reply) =>
    create(request, reply, request.body, () => mapVideoExtend(request.body)),
  );
  app.post('/videos/modify', jobRoute(VideoModifyBody, 'Modify a video with a prompt'), (request, reply) =>
    create(request, reply, request.body, () => mapVideoModify(request.body)),
  );
  app.post(
    '/videos/restyle',
    jobRoute(VideoRestyleBody, 'Restyle a video with a preset or a prompt'),
    (request, reply) => create(request, reply, request.body, () => mapVideoRestyle(request.body)),
  );
  app.post(
    '/videos/lipsync',
    jobRoute(VideoLipsyncBody, 'Lip-sync a video to audio or TTS text'),
    (request, reply) => create(request, reply, request.body, () => mapVideoLipsync(request.body)),
  );
  app.post(
    '/videos/motion-control',
    jobRoute(MotionControlBody, 'Animate a character image with the motion of a video'),
    (request, reply) => create(request, reply, request.body, () => mapMotionControl(request.body)),
  );
  app.post('/videos/upscale', jobRoute(VideoUpscaleBody, 'Upscale a completed video'), (request, reply) =>
    create(request, reply, request.body, () => mapVideoUpscale(request.body)),
  );

  // useapi endpoints with no PixVerse Platform API operation: a clear 501, never a fake job.
  for (const [path, message] of Object.entries(NOT_AVAILABLE)) {
    app.post(
      path,
      {
        // A path parameter is input the router can refuse (400) before the 501.
        schema: {
          summary: 'Not available through the PixVerse Platform API',
          response: path.includes(':') ? errorResponses(400, 401, 501) : errorResponses(401, 501),
        },
      },
      async () => {
        throw new GatewayError(501, message);
      },
    );
  }
  for (const [path, message] of Object.entries(NOT_AVAILABLE_READS)) {
    app.get(
      path,
      {
        // A path parameter is input the router can refuse (400) before the 501.
        schema: {
          summary: 'Not available through the PixVerse Platform API',
          response: path.includes(':') ? errorResponses(400, 401, 501) : errorResponses(401, 501),
        },
      },
      async () => {
        throw new GatewayError(501, message);
      },
    );
  }
};
