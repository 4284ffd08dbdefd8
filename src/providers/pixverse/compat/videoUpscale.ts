/** POST /videos/upscale: a completed video of this tenant → PixVerse `video.upscale`, on its account. */
import { Type, type Static } from '@sinclair/typebox';
import type { Json } from '../../../domain/job.ts';
import { withCommon } from '../../../http/schemas.ts';
import { rejectWebAppOptions } from './rules/common.ts';
import { parseVideoId } from './sources.ts';
import type { Mapped } from './videoCreate.ts';

export const VideoUpscaleBody = withCommon({
  video_id: Type.String({ minLength: 1, maxLength: 1200 }),
  off_peak_mode: Type.Optional(Type.Boolean()),
});
export type VideoUpscaleBody = Static<typeof VideoUpscaleBody>;

export function mapVideoUpscale(body: VideoUpscaleBody): Mapped {
  rejectWebAppOptions(body as Record<string, unknown>);
  const params: { [key: string]: Json } = {};
  const source = {
    field: 'video_id',
    id: body.video_id,
    ref: parseVideoId(body.video_id, 'video_id'),
    param: 'source_video_id',
  };
  return { upstream: { op: 'video.upscale', params }, email: body.email?.toLowerCase() ?? null, source };
}
