/** POST /images/create: useapi body → PixVerse image generation. */
import { Type, type Static } from '@sinclair/typebox';
import { badRequest } from '../../domain/errors.ts';
import type { Json } from '../../domain/job.ts';
import { StringEnum, withCommon } from '../schemas.ts';
import { accountForFiles, parseFilePath, type FileRef } from './filePaths.ts';
import type { Mapped } from './videoCreate.ts';

export const IMAGE_MODELS = [
  'qwen-image',
  'nano-banana',
  'nano-banana-2',
  'nano-banana-pro',
  'seedream-4.0',
  'seedream-4.5',
  'seedream-5.0-lite',
  'seedream-5.0-pro',
  'kling-3.0',
  'gpt-image-2.0',
] as const;
export const IMAGE_QUALITIES = ['720p', '1080p', '1k', '2k', '4k'] as const;
export const IMAGE_ASPECTS = ['1:1', '16:9', '9:16', '4:3', '3:4', '3:2', '2:3', '21:9'] as const;

const referenceFields = Object.fromEntries(
  Array.from({ length: 4 }, (_, i) => [`image_path_${i + 1}`, Type.Optional(Type.String({ minLength: 1, maxLength: 1024 }))]),
);

export const ImageCreateBody = withCommon({
  prompt: Type.String({ minLength: 1, maxLength: 5000 }),
  model: Type.Optional(StringEnum(IMAGE_MODELS)),
  quality: Type.Optional(StringEnum(IMAGE_QUALITIES)),
  aspect_ratio: Type.Optional(StringEnum(IMAGE_ASPECTS)),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
  create_count: Type.Optional(Type.Integer({ minimum: 1, maximum: 1 })),
  ...referenceFields,
});
export type ImageCreateBody = Static<typeof ImageCreateBody>;

export function mapImageCreate(body: ImageCreateBody): Mapped {
  const prompt = body.prompt.trim();
  if (!prompt) throw badRequest('prompt is required');
  const params: { [key: string]: Json } = {
    prompt,
    model: body.model ?? 'qwen-image',
    quality: body.quality ?? '1080p',
    aspect_ratio: body.aspect_ratio ?? '1:1',
  };
  if (body.seed !== undefined) params['seed'] = body.seed;
  const refs: FileRef[] = [];
  for (let i = 1; i <= 4; i++) {
    const path = (body as Record<string, unknown>)[`image_path_${i}`];
    if (typeof path === 'string') refs.push(parseFilePath(path, `image_path_${i}`, 'image'));
  }
  if (refs.length > 0) params['img_ids'] = refs.map((ref) => ref.id);
  return { upstream: { op: 'image.generate', params }, email: accountForFiles(body.email, refs, 'image_path_1') };
}
