/**
 * POST /videos/create: useapi body → PixVerse Platform text-to-video, image-to-video or effect
 * template request.
 *
 * - no `template_id`: `prompt` (+ `first_frame_path`) → `video.text` / `video.img`;
 * - `template_id`: the template decides model and length (`model` must not be sent). With images
 *   (`first_frame_path`, plus `last_frame_path` for two-image effects, or `frame_1_path`…
 *   `frame_5_path` for multi-input effects) → `video.img` with `img_id` / `img_ids`; without
 *   images → `video.text`.
 */
import { Type, type Static, type TUnsafe } from '@sinclair/typebox';
import { badRequest } from '../../../domain/errors.ts';
import type { Json, UpstreamRequest } from '../../../domain/job.ts';
import { StringEnum, withCommon } from '../../../http/schemas.ts';
import { accountForFiles, parseFilePath } from './filePaths.ts';
import { checkLength, numbered, rejectWebAppOptions, requireContiguous } from './rules/common.ts';
import { addSound, SoundFields } from './rules/sound.ts';
import { pinnedAccount, type PinnedFile, type SourcePlan } from './sources.ts';
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

/** Multi-input effect templates take up to five images (useapi `frame_1_path`…`frame_5_path`). */
export const TEMPLATE_FRAMES_MAX = 5;
/**
 * What a template job sends where the Platform wants a value the template overrides (reference
 * §3.4: "duration: send 5", "model is irrelevant (send any valid model)"). v5 is the model whose
 * sound-effect and lip-sync add-ons templates use.
 */
export const TEMPLATE_MODEL = 'v5';
export const TEMPLATE_DURATION = 5;
export const TEMPLATE_DEFAULT_QUALITY = '540p';
/** Template prompts are ignored by PixVerse but still bounded by the template model's limit. */
const TEMPLATE_PROMPT_MAX = 2048;
const TEMPLATE_ASPECTS = ['16:9', '4:3', '1:1', '3:4', '9:16'] as const;

const Path = Type.String({ minLength: 1, maxLength: 1024 });
/**
 * An int64 id (template_id, restyle_id): a JSON integer, or its decimal digits (needed beyond
 * 2^53, where a JSON number would lose digits).
 */
export const Int64Id = Type.Unsafe<number | string>({
  type: ['integer', 'string'],
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  pattern: '^[1-9][0-9]{0,18}$',
  // The type spells the `type` keyword: the Fastify type provider infers handler types from it.
}) as TUnsafe<number | string> & { type: ['integer', 'string'] };

const frameFields = Object.fromEntries(
  Array.from({ length: TEMPLATE_FRAMES_MAX }, (_, i) => [`frame_${i + 1}_path`, Type.Optional(Path)]),
);

export const VideoCreateBody = withCommon({
  prompt: Type.Optional(Type.String({ maxLength: 5000 })),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  first_frame_path: Type.Optional(Path),
  last_frame_path: Type.Optional(Path),
  ...frameFields,
  template_id: Type.Optional(Int64Id),
  duration: Type.Optional(Type.Integer({ minimum: 1, maximum: 15 })),
  quality: Type.Optional(StringEnum(VIDEO_QUALITIES)),
  aspect_ratio: Type.Optional(StringEnum(ASPECT_RATIOS)),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
  negative_prompt: Type.Optional(Type.String({ maxLength: 2048 })),
  motion_mode: Type.Optional(StringEnum(['normal', 'fast'] as const)),
  multi_shot: Type.Optional(Type.Boolean()),
  ...SoundFields,
  preview_mode: Type.Optional(Type.Boolean()),
  off_peak_mode: Type.Optional(Type.Boolean()),
});
export type VideoCreateBody = Static<typeof VideoCreateBody>;

export interface Mapped {
  upstream: UpstreamRequest;
  /** Account the job must run on (pinned by `email` or by an uploaded file), or null. */
  email: string | null;
  /** An existing video the operation works on; the route resolves it (and its account). */
  source?: SourcePlan;
}

type Params = { [key: string]: Json };

export function mapVideoCreate(body: VideoCreateBody): Mapped {
  const raw = body as Record<string, unknown>;
  rejectWebAppOptions(raw);
  const frames = numbered<string>(raw, (i) => `frame_${i}_path`, TEMPLATE_FRAMES_MAX);
  if (frames.length > 0 && (body.first_frame_path !== undefined || body.last_frame_path !== undefined)) {
    const other = body.first_frame_path !== undefined ? 'first_frame_path' : 'last_frame_path';
    throw badRequest(
      `${frames[0]!.field} cannot be combined with ${other}; multi-input templates take frame_1_path…frame_5_path only`,
    );
  }
  if (body.last_frame_path !== undefined && body.first_frame_path === undefined)
    throw badRequest('last_frame_path needs first_frame_path');
  if (body.template_id !== undefined) return mapTemplate(body, frames);
  if (frames.length > 0) {
    throw badRequest(
      `${frames[0]!.field} needs template_id (multi-input effect templates); for keyframe videos use POST /videos/create-transition`,
    );
  }
  if (body.last_frame_path !== undefined) {
    throw badRequest(
      'last_frame_path needs template_id here (a two-image effect); for first + last frame videos use POST /videos/create-frames',
    );
  }

  const model = platformModel(body.model);
  const prompt = body.prompt?.trim();
  if (!prompt) throw badRequest('prompt is required');
  checkPromptLength(model, prompt);
  const quality = body.quality ?? defaultQuality(model);
  const duration = body.duration ?? 5;
  checkDuration({ model, duration, quality });
  checkMotionMode(model, body.motion_mode, duration, quality);
  if (body.multi_shot && !['v5.5', 'v6'].includes(model))
    throw badRequest(`multi_shot needs model v5.5 or v6 (got ${model})`);

  const params: Params = { prompt, model, duration, quality };
  if (body.seed !== undefined) params['seed'] = body.seed;
  if (body.negative_prompt) params['negative_prompt'] = body.negative_prompt;
  if (body.motion_mode) params['motion_mode'] = body.motion_mode;
  addSound(body, model, params);
  if (body.multi_shot !== undefined) params['generate_multi_clip_switch'] = body.multi_shot;

  if (body.first_frame_path !== undefined) {
    // Image-to-video takes its aspect ratio from the image.
    if (body.aspect_ratio !== undefined)
      throw badRequest('aspect_ratio must not be sent with first_frame_path');
    const image = parseFilePath(body.first_frame_path, 'first_frame_path', 'image');
    params['img_id'] = image.id;
    return {
      upstream: { op: 'video.img', params },
      email: accountForFiles(body.email, [image], 'first_frame_path'),
    };
  }
  const aspect = body.aspect_ratio ?? '16:9';
  checkAspectRatio(model, aspect);
  params['aspect_ratio'] = aspect;
  return { upstream: { op: 'video.text', params }, email: body.email ?? null };
}

/** An effect template: the template decides model, length and motion. */
function mapTemplate(
  body: VideoCreateBody,
  frames: { index: number; field: string; value: string }[],
): Mapped {
  if (body.model !== undefined)
    throw badRequest('model must not be sent with template_id: the effect template decides the model');
  for (const field of ['motion_mode', 'multi_shot'] as const) {
    if (body[field] !== undefined)
      throw badRequest(`${field} must not be sent with template_id: the effect template decides it`);
  }
  const templateId = String(body.template_id);
  const prompt = body.prompt?.trim() ?? '';
  checkLength('prompt', prompt, TEMPLATE_PROMPT_MAX, ' with template_id');
  const params: Params = {
    template_id: templateId,
    prompt,
    model: TEMPLATE_MODEL,
    // PixVerse takes the length from the template; useapi ignores `duration` with templates too.
    duration: TEMPLATE_DURATION,
    quality: body.quality ?? TEMPLATE_DEFAULT_QUALITY,
  };
  if (body.seed !== undefined) params['seed'] = body.seed;
  if (body.negative_prompt) params['negative_prompt'] = body.negative_prompt;
  addSound(body, null, params);

  const images: PinnedFile[] = [];
  if (frames.length > 0) {
    requireContiguous(frames, (i) => `frame_${i}_path`);
    if (frames.length < 2)
      throw badRequest(
        'frame_2_path is required with frame_1_path (multi-input templates take 2…5 images; for one image use first_frame_path)',
      );
    for (const frame of frames)
      images.push({ ref: parseFilePath(frame.value, frame.field, 'image'), field: frame.field });
  } else if (body.first_frame_path !== undefined) {
    images.push({
      ref: parseFilePath(body.first_frame_path, 'first_frame_path', 'image'),
      field: 'first_frame_path',
    });
    if (body.last_frame_path !== undefined)
      images.push({
        ref: parseFilePath(body.last_frame_path, 'last_frame_path', 'image'),
        field: 'last_frame_path',
      });
  }

  if (images.length === 0) {
    const aspect = body.aspect_ratio ?? '16:9';
    if (!(TEMPLATE_ASPECTS as readonly string[]).includes(aspect))
      throw badRequest(`aspect_ratio must be one of: ${TEMPLATE_ASPECTS.join(', ')} with template_id`);
    params['aspect_ratio'] = aspect;
    return { upstream: { op: 'video.text', params }, email: body.email?.toLowerCase() ?? null };
  }
  if (body.aspect_ratio !== undefined)
    throw badRequest(
      `aspect_ratio must not be sent with ${images[0]!.field}: the video takes the image's aspect ratio`,
    );
  if (images.length === 1) params['img_id'] = images[0]!.ref.id;
  else params['img_ids'] = images.map((image) => image.ref.id);
  return { upstream: { op: 'video.img', params }, email: pinnedAccount(body.email, images) };
}
