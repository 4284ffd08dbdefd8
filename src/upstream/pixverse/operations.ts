/**
 * Upstream operations the gateway can ask for, and the Platform API path each maps to.
 * `params` of an UpstreamRequest are the Platform API body fields; ids are decimal strings
 * and are written back to the wire as JSON integers (see ID_FIELDS).
 */
import type { JobType } from '../../domain/job.ts';

export interface OperationSpec {
  path: string;
  /** Which result endpoint tracks the job. */
  type: JobType;
}

export const OPERATIONS: Record<string, OperationSpec> = {
  'video.text': { path: '/video/text/generate', type: 'video' },
  'video.img': { path: '/video/img/generate', type: 'video' },
  'video.transition': { path: '/video/transition/generate', type: 'video' },
  'video.multi_transition': { path: '/video/multi_transition/generate', type: 'video' },
  'video.extend': { path: '/video/extend/generate', type: 'video' },
  'video.lip_sync': { path: '/video/lip_sync/generate', type: 'video' },
  'video.sound_effect': { path: '/video/sound_effect/generate', type: 'video' },
  'video.fusion': { path: '/video/fusion/generate', type: 'video' },
  'video.restyle': { path: '/video/restyle/generate', type: 'video' },
  'video.swap': { path: '/video/swap/generate', type: 'video' },
  'video.mimic': { path: '/video/mimic/generate', type: 'video' },
  'video.modify': { path: '/video/modify/generate', type: 'video' },
  'video.upscale': { path: '/video/upscale/generate', type: 'video' },
  'image.generate': { path: '/image/generate', type: 'image' },
  'image.template': { path: '/image/template/generate', type: 'image' },
  // Music is a gateway extension of the Platform API, served by the simulator.
  'music.generate': { path: '/music/generate', type: 'music' },
};

export const RESULT_PATHS: Record<JobType, string> = {
  video: '/video/result/',
  image: '/image/result/',
  music: '/music/result/',
};

/** Body fields that carry int64 ids: kept as strings in memory, sent as JSON integers. */
export const ID_FIELDS = new Set([
  'img_id',
  'img_ids',
  'template_id',
  'source_video_id',
  'video_media_id',
  'audio_media_id',
  'first_frame_img',
  'last_frame_img',
]);
