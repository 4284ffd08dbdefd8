/** POST /videos/restyle: a preset (`restyle_id`) or a style prompt → PixVerse `video.restyle` (reference §3.11). */
import { Type, type Static } from '@sinclair/typebox';
import type { Json } from '../../../domain/job.ts';
import { withCommon } from '../../../http/schemas.ts';
import {
  checkLength,
  endpointModel,
  exactlyOne,
  rejectWebAppOptions,
  requiredPrompt,
} from './rules/common.ts';
import { pinnedAccount, videoSource, type PinnedFile } from './sources.ts';
import { Int64Id, type Mapped } from './videoCreate.ts';

/** useapi's only restyle model; the Platform endpoint has no model field (it is implied). */
export const RESTYLE_MODELS = ['v4'] as const;
export const RESTYLE_PROMPT_MAX = 5000;

export const VideoRestyleBody = withCommon({
  video_id: Type.Optional(Type.String({ minLength: 1, maxLength: 1200 })),
  video_path: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  restyle_id: Type.Optional(Int64Id),
  prompt: Type.Optional(Type.String({ maxLength: RESTYLE_PROMPT_MAX })),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
  off_peak_mode: Type.Optional(Type.Boolean()),
});
export type VideoRestyleBody = Static<typeof VideoRestyleBody>;

export function mapVideoRestyle(body: VideoRestyleBody): Mapped {
  rejectWebAppOptions(body as Record<string, unknown>);
  const params: { [key: string]: Json } = {};
  const files: PinnedFile[] = [];
  const source = videoSource(body, params, files);
  endpointModel(body.model, RESTYLE_MODELS, 'v4', '/videos/restyle');
  if (exactlyOne(body as Record<string, unknown>, 'restyle_id', 'prompt') === 'restyle_id') {
    // An int64: kept as its digits, written to the wire as a JSON integer (ID_FIELDS).
    params['restyle_id'] = String(body.restyle_id);
  } else {
    const prompt = requiredPrompt(body.prompt);
    checkLength('prompt', prompt, RESTYLE_PROMPT_MAX);
    params['restyle_prompt'] = prompt;
  }
  if (body.seed !== undefined) params['seed'] = body.seed;
  return {
    upstream: { op: 'video.restyle', params },
    email: pinnedAccount(body.email, files),
    ...(source ? { source } : {}),
  };
}
