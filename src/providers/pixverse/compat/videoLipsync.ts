/**
 * POST /videos/lipsync: a video (`video_id` or `video_path`) with either an uploaded
 * `audio_path` or TTS text (`prompt` ≤ 200 characters + `speaker_id`) → PixVerse `video.lip_sync`
 * (reference §3.8).
 */
import { Type, type Static } from '@sinclair/typebox';
import { badRequest } from '../../../domain/errors.ts';
import type { Json } from '../../../domain/job.ts';
import { withCommon } from '../../../http/schemas.ts';
import { parseFilePath } from './filePaths.ts';
import { charLength, exactlyOne, rejectWebAppOptions, requiredPrompt } from './rules/common.ts';
import { TTS_PROMPT_MAX } from './rules/sound.ts';
import { pinnedAccount, videoSource, type PinnedFile } from './sources.ts';
import type { Mapped } from './videoCreate.ts';

export const VideoLipsyncBody = withCommon({
  video_id: Type.Optional(Type.String({ minLength: 1, maxLength: 1200 })),
  video_path: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  audio_path: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  prompt: Type.Optional(Type.String({ maxLength: 1000 })),
  speaker_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  original_sound_switch: Type.Optional(Type.Boolean()),
  off_peak_mode: Type.Optional(Type.Boolean()),
});
export type VideoLipsyncBody = Static<typeof VideoLipsyncBody>;

export function mapVideoLipsync(body: VideoLipsyncBody): Mapped {
  rejectWebAppOptions(body as Record<string, unknown>);
  const params: { [key: string]: Json } = {};
  const files: PinnedFile[] = [];
  const source = videoSource(body, params, files);
  if (exactlyOne(body as Record<string, unknown>, 'audio_path', 'prompt') === 'audio_path') {
    if (body.speaker_id !== undefined)
      throw badRequest('speaker_id goes with prompt (TTS), not with audio_path');
    const audio = parseFilePath(body.audio_path!, 'audio_path', 'audio');
    params['audio_media_id'] = audio.id;
    files.push({ ref: audio, field: 'audio_path' });
  } else {
    const text = requiredPrompt(body.prompt);
    if (charLength(text) > TTS_PROMPT_MAX)
      throw badRequest(`prompt must be at most ${TTS_PROMPT_MAX} characters (TTS text)`);
    if (body.speaker_id === undefined)
      throw badRequest('speaker_id is required with prompt (see GET /videos/voices)');
    params['lip_sync_tts_content'] = text;
    params['lip_sync_tts_speaker_id'] = body.speaker_id;
  }
  if (body.original_sound_switch !== undefined) params['original_sound_switch'] = body.original_sound_switch;
  return {
    upstream: { op: 'video.lip_sync', params },
    email: pinnedAccount(body.email, files),
    ...(source ? { source } : {}),
  };
}
