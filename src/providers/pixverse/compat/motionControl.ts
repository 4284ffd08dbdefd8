/**
 * POST /videos/motion-control: a character image (`frame_1_path`) moved like the person in a
 * video (`video_1_path`) → PixVerse `video.mimic` (reference §3.13; no 1080p).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Json } from '../../../domain/job.ts';
import { StringEnum, withCommon } from '../../../http/schemas.ts';
import { parseFilePath } from './filePaths.ts';
import { endpointModel, rejectWebAppOptions } from './rules/common.ts';
import { pinnedAccount } from './sources.ts';
import type { Mapped } from './videoCreate.ts';

/** useapi's only motion-control model; the Platform endpoint has no model field (it is implied). */
export const MIMIC_MODELS = ['v5.6'] as const;
export const MIMIC_QUALITIES = ['360p', '540p', '720p'] as const;

export const MotionControlBody = withCommon({
  frame_1_path: Type.String({ minLength: 1, maxLength: 1024 }),
  video_1_path: Type.String({ minLength: 1, maxLength: 1024 }),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  quality: Type.Optional(StringEnum(MIMIC_QUALITIES)),
  off_peak_mode: Type.Optional(Type.Boolean()),
});
export type MotionControlBody = Static<typeof MotionControlBody>;

export function mapMotionControl(body: MotionControlBody): Mapped {
  rejectWebAppOptions(body as Record<string, unknown>);
  endpointModel(body.model, MIMIC_MODELS, 'v5.6', '/videos/motion-control');
  const image = parseFilePath(body.frame_1_path, 'frame_1_path', 'image');
  const video = parseFilePath(body.video_1_path, 'video_1_path', 'video');
  const params: { [key: string]: Json } = {
    img_id: image.id,
    video_media_id: video.id,
    quality: body.quality ?? '720p',
  };
  const email = pinnedAccount(body.email, [
    { ref: image, field: 'frame_1_path' },
    { ref: video, field: 'video_1_path' },
  ]);
  return { upstream: { op: 'video.mimic', params }, email };
}
