/**
 * POST /videos/create-transition: `frame_1_path`…`frame_7_path` with `duration_i_to_j` and
 * `prompt_i_to_j` per segment → PixVerse `video.multi_transition` (reference §3.6):
 * `multi_transition: [{ img_id, duration, prompt }, …, { img_id }]` (the last image ends the video).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { badRequest } from '../../../domain/errors.ts';
import type { Json } from '../../../domain/job.ts';
import { StringEnum, withCommon } from '../../../http/schemas.ts';
import { parseFilePath } from './filePaths.ts';
import {
  checkLength,
  endpointModel,
  numbered,
  rejectWebAppOptions,
  requireContiguous,
} from './rules/common.ts';
import {
  durationField,
  frameField,
  promptField,
  segmentDurations,
  TRANSITION_FRAMES_MAX,
  TRANSITION_FRAMES_MIN,
  TRANSITION_MODELS,
} from './rules/multiTransition.ts';
import { SoundFields } from './rules/sound.ts';
import { pinnedAccount, type PinnedFile } from './sources.ts';
import type { Mapped } from './videoCreate.ts';
import { defaultQuality, VIDEO_QUALITIES } from './videoRules.ts';

export const TRANSITION_DEFAULT_MODEL = 'v5';
const SEGMENT_PROMPT_MAX = 2048;

const perFrame: Record<string, TSchema> = {};
for (let i = 1; i <= TRANSITION_FRAMES_MAX; i++)
  perFrame[frameField(i)] = Type.Optional(Type.String({ minLength: 1, maxLength: 1024 }));
for (let i = 1; i < TRANSITION_FRAMES_MAX; i++) {
  perFrame[durationField(i)] = Type.Optional(Type.Integer({ minimum: 1, maximum: 8 }));
  perFrame[promptField(i)] = Type.Optional(Type.String({ maxLength: 5000 }));
}

export const CreateTransitionBody = withCommon({
  ...perFrame,
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  quality: Type.Optional(StringEnum(VIDEO_QUALITIES)),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
  ...SoundFields,
  preview_mode: Type.Optional(Type.Boolean()),
  off_peak_mode: Type.Optional(Type.Boolean()),
});
export type CreateTransitionBody = Static<typeof CreateTransitionBody>;

export function mapCreateTransition(body: CreateTransitionBody): Mapped {
  const raw = body as Record<string, unknown>;
  rejectWebAppOptions(raw);
  for (const field of Object.keys(SoundFields)) {
    // `false` asks for no sound, which is what a keyframe transition has.
    if (raw[field] !== undefined && raw[field] !== false) {
      throw badRequest(
        `${field} is not available for keyframe transitions through the PixVerse Platform API (its multi-transition operation has no audio options)`,
      );
    }
  }
  const model = endpointModel(
    body.model,
    TRANSITION_MODELS,
    TRANSITION_DEFAULT_MODEL,
    '/videos/create-transition',
  );
  const frames = numbered<string>(raw, frameField, TRANSITION_FRAMES_MAX);
  if (frames.length < TRANSITION_FRAMES_MIN) {
    throw badRequest(
      `${frameField(frames.length + 1)} is required: a transition needs ${TRANSITION_FRAMES_MIN}…${TRANSITION_FRAMES_MAX} frames (frame_1_path, frame_2_path, …)`,
    );
  }
  requireContiguous(frames, frameField);
  const count = frames.length;
  // Segment fields beyond the last frame would be silently meaningless.
  for (let i = count; i < TRANSITION_FRAMES_MAX; i++) {
    for (const field of [durationField(i), promptField(i)]) {
      if (raw[field] !== undefined) throw badRequest(`${field} needs ${frameField(i + 1)}`);
    }
  }
  const durations = segmentDurations(count, (i) => raw[durationField(i)] as number | undefined);

  const files: PinnedFile[] = frames.map((frame) => ({
    ref: parseFilePath(frame.value, frame.field, 'image'),
    field: frame.field,
  }));
  const items: { [key: string]: Json }[] = files.map((file, index) => {
    const item: { [key: string]: Json } = { img_id: file.ref.id };
    if (index < count - 1) {
      item['duration'] = durations[index]!;
      const prompt = (raw[promptField(index + 1)] as string | undefined)?.trim();
      if (prompt) {
        checkLength(promptField(index + 1), prompt, SEGMENT_PROMPT_MAX, ` for model ${model}`);
        item['prompt'] = prompt;
      }
    }
    return item;
  });

  const params: { [key: string]: Json } = {
    model,
    quality: body.quality ?? defaultQuality(model),
    multi_transition: items,
  };
  if (body.seed !== undefined) params['seed'] = body.seed;
  return { upstream: { op: 'video.multi_transition', params }, email: pinnedAccount(body.email, files) };
}
