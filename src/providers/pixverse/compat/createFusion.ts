/** POST /videos/create-fusion: reference images + a prompt naming them → PixVerse `video.fusion`. */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { badRequest } from '../../../domain/errors.ts';
import type { Json } from '../../../domain/job.ts';
import { StringEnum, withCommon } from '../../../http/schemas.ts';
import { parseFilePath } from './filePaths.ts';
import {
  endpointModel,
  numbered,
  rejectThirdPartyFields,
  rejectWebAppOptions,
  requireContiguous,
  requiredPrompt,
} from './rules/common.ts';
import {
  FUSION_AUDIO_MODELS,
  FUSION_FRAMES_MAX,
  FUSION_MODELS,
  fusionMaxImages,
  fusionPrompt,
  refName,
} from './rules/fusion.ts';
import { pinnedAccount, type PinnedFile } from './sources.ts';
import type { Mapped } from './videoCreate.ts';
import {
  ASPECT_RATIOS,
  checkAspectRatio,
  checkDuration,
  checkPromptLength,
  defaultQuality,
  VIDEO_QUALITIES,
} from './videoRules.ts';

export const FUSION_DEFAULT_MODEL = 'c1';
const frameField = (i: number) => `frame_${i}_path`;
/** Seedance-only inputs of useapi's fusion endpoint. */
const SEEDANCE_FIELDS = [
  'video_1_path',
  'video_2_path',
  'video_3_path',
  'audio_1_path',
  'audio_2_path',
  'audio_3_path',
];

const perFrame: Record<string, TSchema> = {};
for (let i = 1; i <= 9; i++)
  perFrame[frameField(i)] = Type.Optional(Type.String({ minLength: 1, maxLength: 1024 }));
for (const field of SEEDANCE_FIELDS) perFrame[field] = Type.Optional(Type.String({ maxLength: 1024 }));

export const CreateFusionBody = withCommon({
  ...perFrame,
  prompt: Type.Optional(Type.String({ maxLength: 5000 })),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  duration: Type.Optional(Type.Integer({ minimum: 1, maximum: 15 })),
  quality: Type.Optional(StringEnum(VIDEO_QUALITIES)),
  aspect_ratio: Type.Optional(StringEnum(ASPECT_RATIOS)),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
  audio: Type.Optional(Type.Boolean()),
  off_peak_mode: Type.Optional(Type.Boolean()),
});
export type CreateFusionBody = Static<typeof CreateFusionBody>;

export function mapCreateFusion(body: CreateFusionBody): Mapped {
  const raw = body as Record<string, unknown>;
  rejectWebAppOptions(raw);
  rejectThirdPartyFields(raw, SEEDANCE_FIELDS, 'Seedance 2.0 models');
  const model = endpointModel(body.model, FUSION_MODELS, FUSION_DEFAULT_MODEL, '/videos/create-fusion');
  const frames = numbered<string>(raw, frameField, 9);
  if (frames.length === 0)
    throw badRequest('frame_1_path is required: fusion needs at least one reference image');
  requireContiguous(frames, frameField);
  const max = fusionMaxImages(model);
  if (frames.length > max)
    throw badRequest(
      `${frameField(max + 1)} is one image too many: model ${model} takes at most ${max} reference images`,
    );
  if (frames.length > FUSION_FRAMES_MAX)
    throw badRequest(`fusion takes at most ${FUSION_FRAMES_MAX} reference images`);

  const prompt = fusionPrompt(requiredPrompt(body.prompt), frames.length);
  checkPromptLength(model, prompt);
  const quality = body.quality ?? defaultQuality(model);
  const duration = body.duration ?? 5;
  checkDuration({ model, duration, quality });
  const aspect = body.aspect_ratio ?? '16:9';
  checkAspectRatio(model, aspect);
  if (body.audio && !(FUSION_AUDIO_MODELS as readonly string[]).includes(model)) {
    throw badRequest(
      `audio needs model ${FUSION_AUDIO_MODELS.join(', ')} on /videos/create-fusion (got ${model})`,
    );
  }

  const files: PinnedFile[] = frames.map((frame) => ({
    ref: parseFilePath(frame.value, frame.field, 'image'),
    field: frame.field,
  }));
  const params: { [key: string]: Json } = {
    prompt,
    model,
    duration,
    quality,
    aspect_ratio: aspect,
    image_references: files.map((file, index) => ({
      type: 'subject',
      img_id: file.ref.id,
      ref_name: refName(index + 1),
    })),
  };
  if (body.seed !== undefined) params['seed'] = body.seed;
  if (body.audio !== undefined) params['generate_audio_switch'] = body.audio;
  return { upstream: { op: 'video.fusion', params }, email: pinnedAccount(body.email, files) };
}
