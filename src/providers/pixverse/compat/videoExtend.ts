/** POST /videos/extend: continue a video (`video_id` or uploaded `video_path`) → PixVerse `video.extend`. */
import { Type, type Static } from '@sinclair/typebox';
import { badRequest } from '../../../domain/errors.ts';
import type { Json } from '../../../domain/job.ts';
import { StringEnum, withCommon } from '../../../http/schemas.ts';
import { endpointModel, rejectWebAppOptions, requiredPrompt } from './rules/common.ts';
import { NATIVE_AUDIO_MODELS } from './rules/sound.ts';
import { pinnedAccount, videoSource, type PinnedFile } from './sources.ts';
import type { Mapped } from './videoCreate.ts';
import { checkDuration, checkPromptLength, defaultQuality, VIDEO_QUALITIES } from './videoRules.ts';

export const EXTEND_MODELS = ['v5', 'v5.5', 'v5.6', 'v6', 'c1'] as const;
export const EXTEND_DEFAULT_MODEL = 'v6';

export const VideoExtendBody = withCommon({
  video_id: Type.Optional(Type.String({ minLength: 1, maxLength: 1200 })),
  video_path: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  prompt: Type.Optional(Type.String({ maxLength: 5000 })),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  duration: Type.Optional(Type.Integer({ minimum: 1, maximum: 15 })),
  quality: Type.Optional(StringEnum(VIDEO_QUALITIES)),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
  audio: Type.Optional(Type.Boolean()),
  off_peak_mode: Type.Optional(Type.Boolean()),
});
export type VideoExtendBody = Static<typeof VideoExtendBody>;

export function mapVideoExtend(body: VideoExtendBody): Mapped {
  rejectWebAppOptions(body as Record<string, unknown>);
  const params: { [key: string]: Json } = {};
  const files: PinnedFile[] = [];
  const source = videoSource(body, params, files);
  const model = endpointModel(body.model, EXTEND_MODELS, EXTEND_DEFAULT_MODEL, '/videos/extend');
  const prompt = requiredPrompt(body.prompt);
  checkPromptLength(model, prompt);
  const quality = body.quality ?? defaultQuality(model);
  const duration = body.duration ?? 5;
  checkDuration({ model, duration, quality });
  if (body.audio && !(NATIVE_AUDIO_MODELS as readonly string[]).includes(model)) {
    throw badRequest(`audio needs model ${NATIVE_AUDIO_MODELS.join(', ')} (got ${model})`);
  }
  Object.assign(params, { prompt, model, duration, quality });
  if (body.seed !== undefined) params['seed'] = body.seed;
  if (body.audio !== undefined) params['generate_audio_switch'] = body.audio;
  return {
    upstream: { op: 'video.extend', params },
    email: pinnedAccount(body.email, files),
    ...(source ? { source } : {}),
  };
}
