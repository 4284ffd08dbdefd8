/**
 * Operations on an existing video (reference §3.7–3.14): extend, lip sync, sound effect, restyle,
 * mimic (motion control), modify and upscale. Each reads its source with readSourceVideo; the output
 * keeps the source's aspect ratio and, unless the endpoint sets it, its quality and length.
 */
import { EDIT_QUALITIES } from '../catalog.ts';
import { ERR, fieldError } from '../envelope.ts';
import { Fields, type Body } from '../fields.ts';
import {
  editCost,
  generationCost,
  lipSyncCost,
  mimicCost,
  soundEffectCost,
  upscaleCost,
} from '../pricing.ts';
import { RESTYLE_IDS } from '../presets.ts';
import {
  MODERN_PROMPT_MAX,
  checkImage,
  checkPromptLength,
  checkSpeaker,
  checkTtsContent,
  exactlyOne,
  readSeed,
} from './common.ts';
import { readGeneration } from './generate.ts';
import { readAudioMedia, readSourceVideo } from './sources.ts';
import { videoSpec, type Lookup, type SourceVideo, type VideoSpec } from './specs.ts';

/** Output of an edit: the source's shape, overridden by what the endpoint decides. */
function edited(
  mode: VideoSpec['mode'],
  source: SourceVideo,
  fields: Partial<VideoSpec> & { cost: number },
): VideoSpec {
  return videoSpec({
    mode,
    model: source.model,
    quality: source.quality,
    duration: source.duration,
    aspectRatio: source.aspectRatio,
    sourceVideoId: source.videoId,
    ...fields,
  });
}

/** Extend: the output is the source plus `duration` seconds, priced as a generation of `duration`. */
export function validateExtend(body: Body, lookup: Lookup): VideoSpec {
  const f = new Fields(body);
  const source = readSourceVideo(f, lookup);
  const g = readGeneration(f, { aspect: false });
  const cost = generationCost({
    model: g.model,
    quality: g.quality,
    duration: g.duration,
    audio: g.audio,
    fast: g.motionMode === 'fast',
  });
  return edited('extend', source, {
    ...g,
    aspectRatio: source.aspectRatio,
    duration: source.duration + g.duration,
    cost,
  });
}

/** Exactly one video source and exactly one audio source: audio_media_id xor speaker + TTS text. */
export function validateLipSync(body: Body, lookup: Lookup): VideoSpec {
  const f = new Fields(body);
  // The lip sync guide reports an unknown source_video_id under 400017 (reference §3.8).
  const source = readSourceVideo(f, lookup, { missingCode: ERR.invalidParam });
  const tts = f.present('lip_sync_tts_speaker_id') || f.present('lip_sync_tts_content');
  if (tts && f.present('audio_media_id')) {
    throw fieldError(
      ERR.invalidParam,
      'audio_media_id',
      'cannot be combined with lip_sync_tts_speaker_id/lip_sync_tts_content',
    );
  }
  f.bool('original_sound_switch');
  let text: string | null = null;
  if (tts) {
    const speaker = f.text('lip_sync_tts_speaker_id');
    if (speaker === undefined || speaker === '') throw fieldError(ERR.emptyParam, 'lip_sync_tts_speaker_id');
    checkSpeaker('lip_sync_tts_speaker_id', speaker);
    text = f.string('lip_sync_tts_content', true);
    checkTtsContent('lip_sync_tts_content', text);
  } else if (f.present('audio_media_id')) {
    readAudioMedia(f, lookup);
  } else {
    throw fieldError(ERR.emptyParam, 'audio_media_id or lip_sync_tts_content');
  }
  return edited('lip_sync', source, {
    prompt: text ?? '',
    audio: true,
    cost: lipSyncCost(source.duration, text),
  });
}

/** sound_effect_content is optional (generated when empty); `prompt` is accepted as its alias. */
export function validateSoundEffect(body: Body, lookup: Lookup): VideoSpec {
  const f = new Fields(body);
  const source = readSourceVideo(f, lookup);
  f.bool('original_sound_switch');
  const content = f.string('sound_effect_content') ?? f.string('prompt') ?? '';
  checkPromptLength('sound_effect_content', content, MODERN_PROMPT_MAX, ERR.promptTooLong);
  return edited('sound_effect', source, {
    prompt: content,
    audio: true,
    soundEffect: true,
    cost: soundEffectCost(source.duration),
  });
}

/** restyle_id (from /video/restyle/list) xor restyle_prompt (≤5000 characters). */
export function validateRestyle(body: Body, lookup: Lookup): VideoSpec {
  const f = new Fields(body);
  const source = readSourceVideo(f, lookup);
  const which = exactlyOne(f, 'restyle_id', 'restyle_prompt');
  let prompt = '';
  if (which === 'restyle_id') {
    const id = f.id('restyle_id', true);
    if (!RESTYLE_IDS.has(id))
      throw fieldError(ERR.invalidParam, 'restyle_id', `${id} is not in the restyle list`);
  } else {
    prompt = f.string('restyle_prompt', true);
    checkPromptLength('restyle_prompt', prompt, MODERN_PROMPT_MAX, ERR.promptTooLong);
  }
  const seed = readSeed(f);
  return edited('restyle', source, { prompt, seed, cost: editCost(source.quality, source.duration) });
}

/** Motion control: the source's motion applied to the subject of img_id; 360p–720p. */
export function validateMimic(body: Body, lookup: Lookup): VideoSpec {
  const f = new Fields(body);
  const source = readSourceVideo(f, lookup);
  const imgId = f.id('img_id', true);
  checkImage(lookup, 'img_id', imgId);
  const quality = f.oneOf('quality', EDIT_QUALITIES, true);
  return edited('mimic', source, {
    quality,
    cost: mimicCost(quality, source.duration),
    creditField: 'credit',
  });
}

const MODIFY_MAX_REFS = 3;

/** Prompt edit with `@selection<n>` (mask_ids[n]) and `@img<n>` (img_ids[n]) mentions; 360p–720p. */
export function validateModify(body: Body, lookup: Lookup): VideoSpec {
  const f = new Fields(body);
  const source = readSourceVideo(f, lookup);
  const prompt = f.string('prompt', true);
  checkPromptLength('prompt', prompt, MODERN_PROMPT_MAX, ERR.promptTooLong);
  const quality = f.oneOf('quality', EDIT_QUALITIES, true);
  const imgIds = f.ids('img_ids') ?? [];
  const maskIds = f.strings('mask_ids') ?? [];
  if (imgIds.length > MODIFY_MAX_REFS)
    throw fieldError(ERR.invalidParam, 'img_ids', `at most ${MODIFY_MAX_REFS}`);
  if (maskIds.length > MODIFY_MAX_REFS)
    throw fieldError(ERR.invalidParam, 'mask_ids', `at most ${MODIFY_MAX_REFS}`);
  for (const id of imgIds) checkImage(lookup, 'img_ids', id);
  const keyframe = f.int('keyframe_ids');
  if (keyframe !== undefined && keyframe < 1)
    throw fieldError(ERR.invalidParam, 'keyframe_ids', 'must be ≥ 1');
  for (const match of prompt.matchAll(/@(selection|img)(\d+)/g)) {
    const [, what, index] = match;
    const count = what === 'img' ? imgIds.length : maskIds.length;
    if (Number(index) >= count) {
      throw fieldError(
        ERR.invalidParam,
        'prompt',
        `@${what}${index} has no matching ${what === 'img' ? 'img_ids' : 'mask_ids'} entry`,
      );
    }
  }
  const seed = readSeed(f);
  return edited('modify', source, { prompt, quality, seed, cost: editCost(quality, source.duration) });
}

/** Upscale a completed video (or an uploaded one) to 1080p. */
export function validateUpscale(body: Body, lookup: Lookup): VideoSpec {
  const f = new Fields(body);
  const source = readSourceVideo(f, lookup);
  return edited('upscale', source, { quality: '1080p', cost: upscaleCost(source.duration) });
}
