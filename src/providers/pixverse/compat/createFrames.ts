/** POST /videos/create-frames: first + last frame → PixVerse `video.transition` (reference §3.5). */
import { Type, type Static } from '@sinclair/typebox';
import type { Json } from '../../../domain/job.ts';
import { StringEnum, withCommon } from '../../../http/schemas.ts';
import { parseFilePath } from './filePaths.ts';
import { endpointModel, rejectWebAppOptions, requiredPrompt } from './rules/common.ts';
import { addSound, SoundFields } from './rules/sound.ts';
import { pinnedAccount } from './sources.ts';
import type { Mapped } from './videoCreate.ts';
import { checkDuration, checkPromptLength, defaultQuality, VIDEO_QUALITIES } from './videoRules.ts';

export const FRAMES_MODELS = ['v3.5', 'v4', 'v4.5', 'v5', 'v5.5', 'v5.6', 'v6', 'c1'] as const;
export const FRAMES_DEFAULT_MODEL = 'v5.6';

const Path = Type.String({ minLength: 1, maxLength: 1024 });

export const CreateFramesBody = withCommon({
  first_frame_path: Path,
  last_frame_path: Path,
  prompt: Type.Optional(Type.String({ maxLength: 5000 })),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  duration: Type.Optional(Type.Integer({ minimum: 1, maximum: 15 })),
  quality: Type.Optional(StringEnum(VIDEO_QUALITIES)),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
  ...SoundFields,
  preview_mode: Type.Optional(Type.Boolean()),
  off_peak_mode: Type.Optional(Type.Boolean()),
});
export type CreateFramesBody = Static<typeof CreateFramesBody>;

export function mapCreateFrames(body: CreateFramesBody): Mapped {
  rejectWebAppOptions(body as Record<string, unknown>);
  const model = endpointModel(body.model, FRAMES_MODELS, FRAMES_DEFAULT_MODEL, '/videos/create-frames');
  const prompt = requiredPrompt(body.prompt);
  checkPromptLength(model, prompt);
  const quality = body.quality ?? defaultQuality(model);
  const duration = body.duration ?? 5;
  checkDuration({ model, duration, quality });
  const first = parseFilePath(body.first_frame_path, 'first_frame_path', 'image');
  const last = parseFilePath(body.last_frame_path, 'last_frame_path', 'image');

  const params: { [key: string]: Json } = {
    prompt,
    model,
    duration,
    quality,
    first_frame_img: first.id,
    last_frame_img: last.id,
  };
  if (body.seed !== undefined) params['seed'] = body.seed;
  addSound(body, model, params);
  const email = pinnedAccount(body.email, [
    { ref: first, field: 'first_frame_path' },
    { ref: last, field: 'last_frame_path' },
  ]);
  return { upstream: { op: 'video.transition', params }, email };
}
