/**
 * Upstream operations the gateway can ask for, and the Platform API path each maps to.
 * `params` of an UpstreamRequest are the Platform API body fields, passed through as they are; ids
 * are decimal strings in memory and are written to the wire as JSON integers (see ID_FIELDS, at any
 * depth, e.g. `image_references[].img_id`). Other integers (duration, seed, keyframe_id) are numbers.
 *
 * Body fields as the simulator accepts them (= the Platform API, reference §3). R = required,
 * "a | b" = exactly one of them. Every create answers `{video_id|image_id, credits|credit}`.
 *
 * | op                     | path                               | fields |
 * |------------------------|------------------------------------|--------|
 * | video.text             | /video/text/generate               | R prompt, model, duration, quality, aspect_ratio; negative_prompt, seed, style, motion_mode, camera_movement, template_id, generate_audio_switch (v5.5+), generate_multi_clip_switch, sound_effect_switch, sound_effect_content, lip_sync_tts_switch, lip_sync_tts_content, lip_sync_tts_speaker_id, water_mark, webhook_id |
 * | video.img              | /video/img/generate                | R prompt (any string with template_id), model, duration, quality, img_id (or img_ids with a multi-image template_id); the text fields except aspect_ratio |
 * | video.transition       | /video/transition/generate         | R prompt, model, duration, quality, first_frame_img, last_frame_img (img ids); motion_mode, seed, negative_prompt, generate_audio_switch (v5.5+), sound_effect_*, lip_sync_tts_* |
 * | video.multi_transition | /video/multi_transition/generate   | R model (v3.5/v4/v4.5/v5), quality, multi_transition: 2–7 × {img_id, duration, prompt?}; seed. Segment duration 1–8 s (1–5 with 3+ items), last item 0 or omitted, total 1–30 s |
 * | video.fusion           | /video/fusion/generate             | R prompt, model (v4.5/v5/v5.5/v5.6/v6/c1), duration, quality, aspect_ratio, image_references: [{type subject|background, img_id, ref_name}] (≤3 on v4.5/v5, ≤7 later; prompt says "@ref_name " for each); seed, generate_audio_switch (v5.6/v6/c1) |
 * | video.extend           | /video/extend/generate             | R source_video_id | video_media_id, prompt, model, duration, quality; seed, motion_mode, style, negative_prompt, generate_audio_switch |
 * | video.lip_sync         | /video/lip_sync/generate           | R source_video_id | video_media_id; R audio_media_id | (lip_sync_tts_speaker_id "1".."14"/"Auto" + lip_sync_tts_content ≤200 chars); original_sound_switch |
 * | video.sound_effect     | /video/sound_effect/generate       | R source_video_id | video_media_id; sound_effect_content (or prompt; auto when empty), original_sound_switch |
 * | video.restyle          | /video/restyle/generate            | R source_video_id | video_media_id; R restyle_id (from the restyles catalog) | restyle_prompt (≤5000); seed |
 * | video.swap             | /video/swap/generate               | R source_video_id | video_media_id, keyframe_id (int), mask_id (string from /video/mask/selection), img_id, quality (360p/540p/720p) |
 * | video.mimic            | /video/mimic/generate              | R source_video_id | video_media_id, img_id, quality (360p/540p/720p). Answers `credit`. 701002/701003 when no subject/person |
 * | video.modify           | /video/modify/generate             | R source_video_id | video_media_id, prompt (≤5000, "@selection<n>" → mask_ids[n], "@img<n>" → img_ids[n]), quality (360p/540p/720p); img_ids (≤3), mask_ids (≤3 strings), keyframe_ids (int), seed |
 * | video.upscale          | /video/upscale/generate            | R source_video_id | video_media_id (output 1080p) |
 * | image.template         | /image/template/generate           | R img_ids (as many as the template's effect_type), template_id (an image template, template_type 2). Answers `image_id`, `credit` |
 *
 * Sources: source_video_id must be a completed video of the same API key (unknown → 500008, or
 * 400017 on lip sync; deleted → 500064; not completed → 400017); video_media_id / audio_media_id must
 * be an uploaded video / audio (400017 otherwise); img ids must be uploaded images (400032).
 * template_id: unknown or wrong kind → 400017, not activated → 500070, 720p/1080p unsupported → 500071.
 *
 * Catalogues (Upstream.catalog): voices → GET /video/lip_sync/tts_list (`data: [{speaker_id, name}]`),
 * restyles → GET /video/restyle/list (`data: [{restyle_id, restyle_name, thumbnail_url}]`), effects →
 * GET /video/effects/templates/list (`effect_items: [{template_id, display_name, display_prompt,
 * effect_type "1".."3", template_type 1|2, qualities, duration, activated, credits, thumbnail_url}]`).
 */
import type { JobType } from '../../../domain/job.ts';
import type { CatalogKind } from '../../../scheduler/provider.ts';

export interface OperationSpec {
  path: string;
  /** Which result endpoint tracks the job. */
  type: JobType;
  /** PixVerse sends a webhook at the end of the job when the body carries `webhook_id` (only these two). */
  webhook?: true;
}

export const OPERATIONS: Record<string, OperationSpec> = {
  'video.text': { path: '/video/text/generate', type: 'video', webhook: true },
  'video.img': { path: '/video/img/generate', type: 'video', webhook: true },
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
  'image.template': { path: '/image/template/generate', type: 'image' },
};

/**
 * Status reads per job type. Music has none: the Platform API documents no music operation, so a
 * music job (from an older Pixgate that had one) cannot be followed upstream.
 */
export const RESULT_PATHS: Partial<Record<JobType, string>> = {
  video: '/video/result/',
  image: '/image/result/',
};

export interface CatalogSpec {
  path: string;
  /** Query parameter names of the page number and size (the templates list uses its own). */
  pageParam: string;
  sizeParam: string;
}

export const CATALOGS: Record<CatalogKind, CatalogSpec> = {
  voices: { path: '/video/lip_sync/tts_list', pageParam: 'page_num', sizeParam: 'page_size' },
  restyles: { path: '/video/restyle/list', pageParam: 'page_num', sizeParam: 'page_size' },
  effects: { path: '/video/effects/templates/list', pageParam: 'page', sizeParam: 'pageSize' },
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
  'restyle_id',
]);
