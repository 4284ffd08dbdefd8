/** POST /music/create: useapi body → the simulator-backed music generation extension. */
import { Type, type Static } from '@sinclair/typebox';
import { badRequest } from '../../domain/errors.ts';
import type { Json } from '../../domain/job.ts';
import { StringEnum, withCommon } from '../schemas.ts';
import type { Mapped } from './videoCreate.ts';

export const MUSIC_MODELS = ['music-2.6', 'music-v1', 'lyria-3-pro-preview'] as const;
const PROMPT_LIMIT: Record<(typeof MUSIC_MODELS)[number], number> = { 'music-2.6': 2000, 'music-v1': 4000, 'lyria-3-pro-preview': 5000 };

export const MusicCreateBody = withCommon({
  prompt: Type.String({ minLength: 1, maxLength: 5000 }),
  model: Type.Optional(StringEnum(MUSIC_MODELS)),
  instrumental: Type.Optional(Type.Boolean()),
  lyrics: Type.Optional(Type.String({ minLength: 1, maxLength: 3500 })),
});
export type MusicCreateBody = Static<typeof MusicCreateBody>;

export function mapMusicCreate(body: MusicCreateBody): Mapped {
  const model = body.model ?? 'music-2.6';
  const prompt = body.prompt.trim();
  if (!prompt) throw badRequest('prompt is required');
  if (prompt.length > PROMPT_LIMIT[model]) throw badRequest(`prompt must be at most ${PROMPT_LIMIT[model]} characters for model ${model}`);
  if (body.lyrics !== undefined && body.instrumental) throw badRequest('lyrics cannot be combined with instrumental');
  if (body.lyrics !== undefined && model === 'lyria-3-pro-preview') throw badRequest('lyrics are not supported by model lyria-3-pro-preview');
  const params: { [key: string]: Json } = { prompt, model };
  if (body.instrumental !== undefined) params['instrumental'] = body.instrumental;
  if (body.lyrics !== undefined) params['lyrics'] = body.lyrics;
  return { upstream: { op: 'music.generate', params }, email: body.email ?? null };
}
