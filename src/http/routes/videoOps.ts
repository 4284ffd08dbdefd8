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
import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest, GatewayError, notFound } from '../../domain/errors.ts';
import { statusName } from '../../domain/status.ts';
import type { Scheduler } from '../../scheduler/scheduler.ts';
import type { AppDeps } from '../context.ts';
import { callerOf } from '../guards.ts';
import { submitJob } from '../submitJob.ts';
import { idempotentCreate } from '../idempotency.ts';
import { errorResponses, IdempotencyHeaders } from '../schemas.ts';
import { CreateFramesBody, mapCreateFrames } from '../../providers/pixverse/compat/createFrames.ts';
import { CreateFusionBody, mapCreateFusion } from '../../providers/pixverse/compat/createFusion.ts';
import { CreateTransitionBody, mapCreateTransition } from '../../providers/pixverse/compat/createTransition.ts';
import { mapMotionControl, MotionControlBody } from '../../providers/pixverse/compat/motionControl.ts';
import { accountForSource } from '../../providers/pixverse/compat/sources.ts';
import { NOT_AVAILABLE, NOT_AVAILABLE_READS } from '../../providers/pixverse/compat/unavailable.ts';
import type { Mapped } from '../../providers/pixverse/compat/videoCreate.ts';
import { mapVideoExtend, VideoExtendBody } from '../../providers/pixverse/compat/videoExtend.ts';
import { mapVideoLipsync, VideoLipsyncBody } from '../../providers/pixverse/compat/videoLipsync.ts';
import { mapVideoModify, VideoModifyBody } from '../../providers/pixverse/compat/videoModify.ts';
import { mapVideoRestyle, VideoRestyleBody } from '../../providers/pixverse/compat/videoRestyle.ts';
import { mapVideoUpscale, VideoUpscaleBody } from '../../providers/pixverse/compat/videoUpscale.ts';


/**
 * Fills in the source video of an operation on an existing id: its upstream id goes into the
 * Platform body and the job is pinned to the account that made it.
 */
export async function resolveSource(scheduler: Scheduler, userId: number, mapped: Mapped): Promise<{ upstream: Mapped['upstream']; email: string | null }> {
  const { source } = mapped;
  if (!source) return mapped;
  const job = await scheduler.findJob(userId, source.ref);
  if (!job) throw notFound(`Video ${source.id} not found`);
  if (job.state !== 'completed' || job.upstreamId === null || job.email === null) {
    throw badRequest(`${source.field} ${source.id} is ${statusName(job.state)}; this operation needs a COMPLETED video`);
  }
  const email = accountForSource(mapped.email, job.email, source);
  return { upstream: { op: mapped.upstream.op, params: { ...mapped.upstream.params, [source.param]: job.upstreamId } }, email };
}

export const videoOpsRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, deps) => {
  const { scheduler } = deps;

  function jobRoute<B extends TSchema>(path: string, body: B, map: (body: B['static']) => Mapped, summary: string) {
    app.post(path, {
      schema: {
        summary,
        headers: IdempotencyHeaders,
        body,
        response: { 200: Type.Object({ video_id: Type.String() }), ...errorResponses(400, 401, 403, 404, 409, 412, 422, 429, 502, 596) },
      },
    }, async (request: FastifyRequest, reply: FastifyReply) => {
      const mapped = await resolveSource(scheduler, callerOf(request).userId, map(request.body as B['static']));
      // Every job of these routes is a video, so the answer is `{ video_id }`.
      return (await idempotentCreate(deps, request, reply, (claim) => submitJob(deps, request, 'video', mapped, claim))) as { video_id: string };
    });
  }

  jobRoute('/videos/create-frames', CreateFramesBody, mapCreateFrames, 'Video from a first and a last frame');
  jobRoute('/videos/create-transition', CreateTransitionBody, mapCreateTransition, 'Video through 2–7 keyframes');
  jobRoute('/videos/create-fusion', CreateFusionBody, mapCreateFusion, 'Video from reference images named in the prompt');
  jobRoute('/videos/extend', VideoExtendBody, mapVideoExtend, 'Extend a video');
  jobRoute('/videos/modify', VideoModifyBody, mapVideoModify, 'Modify a video with a prompt');
  jobRoute('/videos/restyle', VideoRestyleBody, mapVideoRestyle, 'Restyle a video with a preset or a prompt');
  jobRoute('/videos/lipsync', VideoLipsyncBody, mapVideoLipsync, 'Lip-sync a video to audio or TTS text');
  jobRoute('/videos/motion-control', MotionControlBody, mapMotionControl, 'Animate a character image with the motion of a video');
  jobRoute('/videos/upscale', VideoUpscaleBody, mapVideoUpscale, 'Upscale a completed video');

  // useapi endpoints with no PixVerse Platform API operation: a clear 501, never a fake job.
  for (const [path, message] of Object.entries(NOT_AVAILABLE)) {
    app.post(path, {
      // A path parameter is input the router can refuse (400) before the 501.
      schema: { summary: 'Not available through the PixVerse Platform API', response: path.includes(':') ? errorResponses(400, 401, 501) : errorResponses(401, 501) },
    }, async () => {
      throw new GatewayError(501, message);
    });
  }
  for (const [path, message] of Object.entries(NOT_AVAILABLE_READS)) {
    app.get(path, {
      // A path parameter is input the router can refuse (400) before the 501.
      schema: { summary: 'Not available through the PixVerse Platform API', response: path.includes(':') ? errorResponses(400, 401, 501) : errorResponses(401, 501) },
    }, async () => {
      throw new GatewayError(501, message);
    });
  }
};
