/** POST /videos/create: useapi body → PixVerse Platform text- or image-to-video request. */
import { Type, type Static } from '@sinclair/typebox';
import { badRequest } from '../../domain/errors.ts';
import type { Json, UpstreamRequest } from '../../domain/job.ts';
import { StringEnum, withCommon } from '../schemas.ts';
import { accountForFiles, parseFilePath } from './filePaths.ts';
import {
  ASPECT_RATIOS,
  checkAspectRatio,
  checkDuration,
  checkMotionMode,
  checkPromptLength,
  defaultQuality,
  platformModel,
  VIDEO_QUALITIES,
} from './videoRules.ts';

export const VideoCreateBody = withCommon({
  prompt: Type.Optional(Type.String({ maxLength: 5000 })),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  first_frame_path: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  duration: Type.Optional(Type.Integer({ minimum: 1, maximum: 15 })),
  quality: Type.Optional(StringEnum(VIDEO_QUALITIES)),
  aspect_ratio: Type.Optional(StringEnum(ASPECT_RATIOS)),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
  negative_prompt: Type.Optional(Type.String({ maxLength: 2048 })),
  motion_mode: Type.Optional(StringEnum(['normal', 'fast'] as const)),
  audio: Type.Optional(Type.Boolean()),
  multi_shot: Type.Optional(Type.Boolean()),
});
export type VideoCreateBody = Static<typeof VideoCreateBody>;

export interface Mapped {
  upstream: UpstreamRequest;
  /** Account the job must run on (pinned by `email` or by an uploaded file), or null. */
  email: string | null;
}

export function mapVideoCreate(body: VideoCreateBody): Mapped {
  const model = platformModel(body.model);
  const prompt = body.prompt?.trim();
  if (!prompt) throw badRequest('prompt is required');
  checkPromptLength(model, prompt);
  const quality = body.quality ?? defaultQuality(model);
  const duration = body.duration ?? 5;
  checkDuration({ model, duration, quality });
  checkMotionMode(model, body.motion_mode, duration, quality);
  if (body.audio && !['v5.5', 'v5.6', 'v6', 'c1'].includes(model)) throw badRequest(`audio needs model v5.5, v5.6, v6 or c1 (got ${model})`);
  if (body.multi_shot && !['v5.5', 'v6'].includes(model)) throw badRequest(`multi_shot needs model v5.5 or v6 (got ${model})`);

  const params: { [key: string]: Json } = { prompt, model, duration, quality };
  if (body.seed !== undefined) params['seed'] = body.seed;
  if (body.negative_prompt) params['negative_prompt'] = body.negative_prompt;
  if (body.motion_mode) params['motion_mode'] = body.motion_mode;
  if (body.audio !== undefined) params['generate_audio_switch'] = body.audio;
  if (body.multi_shot !== undefined) params['generate_multi_clip_switch'] = body.multi_shot;

  if (body.first_frame_path !== undefined) {
    // Image-to-video takes its aspect ratio from the image.
    if (body.aspect_ratio !== undefined) throw badRequest('aspect_ratio must not be sent with first_frame_path');
    const image = parseFilePath(body.first_frame_path, 'first_frame_path', 'image');
    params['img_id'] = image.id;
    return { upstream: { op: 'video.img', params }, email: accountForFiles(body.email, [image], 'first_frame_path') };
  }
  const aspect = body.aspect_ratio ?? '16:9';
  checkAspectRatio(model, aspect);
  params['aspect_ratio'] = aspect;
  return { upstream: { op: 'video.text', params }, email: body.email ?? null };
}
