/** POST /videos/modify: edit a video with a prompt → PixVerse `video.modify` (reference §3.14). */
import { Type, type Static } from '@sinclair/typebox';
import { badRequest } from '../../../domain/errors.ts';
import type { Json } from '../../../domain/job.ts';
import { StringEnum, withCommon } from '../../../http/schemas.ts';
import { checkLength, endpointModel, rejectWebAppOptions, requiredPrompt } from './rules/common.ts';
import { pinnedAccount, videoSource, type PinnedFile } from './sources.ts';
import type { Mapped } from './videoCreate.ts';

/** useapi's only modify model; the Platform endpoint has no model field (it is implied). */
export const MODIFY_MODELS = ['v5.5'] as const;
export const MODIFY_QUALITIES = ['360p', '540p', '720p'] as const;
export const MODIFY_PROMPT_MAX = 5000;

export const VideoModifyBody = withCommon({
  video_id: Type.Optional(Type.String({ minLength: 1, maxLength: 1200 })),
  video_path: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  prompt: Type.Optional(Type.String({ maxLength: MODIFY_PROMPT_MAX })),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  quality: Type.Optional(StringEnum(MODIFY_QUALITIES)),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
  off_peak_mode: Type.Optional(Type.Boolean()),
});
export type VideoModifyBody = Static<typeof VideoModifyBody>;

export function mapVideoModify(body: VideoModifyBody): Mapped {
  rejectWebAppOptions(body as Record<string, unknown>);
  const params: { [key: string]: Json } = {};
  const files: PinnedFile[] = [];
  const source = videoSource(body, params, files);
  endpointModel(body.model, MODIFY_MODELS, 'v5.5', '/videos/modify');
  const prompt = requiredPrompt(body.prompt);
  checkLength('prompt', prompt, MODIFY_PROMPT_MAX);
  // PixVerse reads "@img<n>" / "@selection<n>" as references to reference images and masks,
  // which useapi's modify has no fields for: such a prompt could only be refused upstream.
  const mention = /@(img|selection)\d+/.exec(prompt);
  if (mention)
    throw badRequest(
      `prompt must not contain ${mention[0]}: masks and reference images are not available on /videos/modify`,
    );
  Object.assign(params, { prompt, quality: body.quality ?? '540p' });
  if (body.seed !== undefined) params['seed'] = body.seed;
  return {
    upstream: { op: 'video.modify', params },
    email: pinnedAccount(body.email, files),
    ...(source ? { source } : {}),
  };
}
