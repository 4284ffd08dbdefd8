/**
 * Request validation for the create endpoints (reference §3). Each validator turns a parsed body
 * into a spec the engine can run, or throws a SimError carrying the ErrCode PixVerse would answer.
 * New endpoints add a validator here and reuse the Fields readers.
 */
import {
  BASE_ASPECTS, CAMERA_MOVEMENTS, DEFAULT_MUSIC_MODEL, IMAGE_MAX_COUNT, IMAGE_MODELS, IMAGE_QUALITIES,
  MOTION_MODES, MUSIC_MODELS, STYLES, TTS_SPEAKERS, VIDEO_MODELS, VIDEO_QUALITIES, WIDE_ASPECTS,
  isModernModel, supportsFastMotion, videoFamily,
} from './catalog.ts';
import { ERR, SimError, fieldError } from './envelope.ts';
import { charLength, Fields, type Body } from './fields.ts';

export interface VideoSpec {
  kind: 'video';
  mode: 'text' | 'img';
  prompt: string;
  negativePrompt: string;
  style: string;
  model: string;
  quality: string;
  duration: number;
  aspectRatio: string;
  motionMode: 'normal' | 'fast';
  seed: number | null;
  audio: boolean;
  soundEffect: boolean;
  templateId: string | null;
}

export interface ImageSpec {
  kind: 'image';
  prompt: string;
  model: string;
  quality: string;
  aspectRatio: string;
  seed: number | null;
  count: number;
}

export interface MusicSpec {
  kind: 'music';
  prompt: string;
  model: string;
  instrumental: boolean;
  lyrics: string;
}

export type JobSpec = VideoSpec | ImageSpec | MusicSpec;

/** Whether an uploaded img_id belongs to the calling key. */
export type UploadCheck = (imgId: string) => boolean;

const SEED_MAX = 2_147_483_647;
const LEGACY_PROMPT_MAX = 2048;
const MODERN_PROMPT_MAX = 5000;
const TTS_CONTENT_MAX = 200;

export function validateVideo(body: Body, mode: 'text' | 'img', hasUpload: UploadCheck): VideoSpec {
  const f = new Fields(body);
  const templateId = f.id('template_id') ?? null;
  // Template videos ignore the prompt ("send any string"), so an empty one is accepted there.
  const prompt = templateId ? (f.string('prompt') ?? '') : f.string('prompt', true);
  const model = f.oneOf('model', VIDEO_MODELS, true);
  const duration = f.int('duration', true);
  const quality = f.oneOf('quality', VIDEO_QUALITIES, true);
  // Image-to-video takes its aspect from the image; the simulator reports 16:9 for it.
  const aspectRatio =
    mode === 'text' ? f.oneOf('aspect_ratio', videoFamily(model) === 'free' ? WIDE_ASPECTS : BASE_ASPECTS, true) : '16:9';

  checkDuration(model, quality, duration);
  checkPromptLength('prompt', prompt, isModernModel(model) ? MODERN_PROMPT_MAX : LEGACY_PROMPT_MAX, ERR.promptTooLong);
  const negativePrompt = f.string('negative_prompt') ?? '';
  checkPromptLength('negative_prompt', negativePrompt, LEGACY_PROMPT_MAX, ERR.negativePromptTooLong);

  const motionMode = f.oneOf('motion_mode', MOTION_MODES) ?? 'normal';
  if (motionMode === 'fast') {
    if (!supportsFastMotion(model)) throw fieldError(ERR.invalidParam, 'motion_mode', `fast is not supported on ${model}`);
    if (duration !== 5) throw fieldError(ERR.invalidParam, 'motion_mode', 'fast requires duration 5');
    if (quality === '1080p') throw fieldError(ERR.invalidParam, 'motion_mode', 'fast is not available at 1080p');
  }

  const seed = readSeed(f);
  const style = f.oneOf('style', STYLES) ?? '';
  f.oneOf('camera_movement', CAMERA_MOVEMENTS);
  const audio = f.bool('generate_audio_switch') ?? false;
  if (audio && !isModernModel(model)) {
    throw fieldError(ERR.invalidParam, 'generate_audio_switch', `native audio needs v5.5 or later, not ${model}`);
  }
  f.bool('generate_multi_clip_switch');
  const soundEffect = f.bool('sound_effect_switch') ?? false;
  f.string('sound_effect_content');
  checkLipSync(f);
  f.bool('water_mark');
  f.text('webhook_id');

  if (mode === 'img') checkImages(f, templateId, hasUpload);
  return {
    kind: 'video', mode, prompt, negativePrompt, style, model, quality, duration, aspectRatio,
    motionMode, seed, audio, soundEffect, templateId,
  };
}

export function validateImage(body: Body, hasUpload: UploadCheck): ImageSpec {
  const f = new Fields(body);
  const prompt = f.string('prompt', true);
  const model = f.oneOf('model', IMAGE_MODELS, true);
  const quality = f.oneOf('quality', IMAGE_QUALITIES, true);
  const aspectRatio = f.oneOf('aspect_ratio', WIDE_ASPECTS, true);
  checkPromptLength('prompt', prompt, MODERN_PROMPT_MAX, ERR.promptTooLong);
  const seed = readSeed(f);
  for (const id of f.ids('img_ids') ?? []) {
    if (!hasUpload(id)) throw fieldError(ERR.invalidImageId, 'img_ids', id);
  }
  const count = f.int('create_count') ?? 1;
  if (count < 1 || count > IMAGE_MAX_COUNT) {
    throw fieldError(ERR.invalidParam, 'create_count', `must be 1–${IMAGE_MAX_COUNT}`);
  }
  return { kind: 'image', prompt, model, quality, aspectRatio, seed, count };
}

export function validateMusic(body: Body): MusicSpec {
  const f = new Fields(body);
  const prompt = f.string('prompt', true);
  checkPromptLength('prompt', prompt, 2000, ERR.promptTooLong);
  const model = f.oneOf('model', MUSIC_MODELS) ?? DEFAULT_MUSIC_MODEL;
  const instrumental = f.bool('instrumental') ?? false;
  const lyrics = f.string('lyrics') ?? '';
  if (instrumental && lyrics.trim() !== '') {
    throw fieldError(ERR.invalidParam, 'lyrics', 'cannot be combined with instrumental');
  }
  checkPromptLength('lyrics', lyrics, 3500, ERR.invalidParam);
  return { kind: 'music', prompt, model, instrumental, lyrics };
}

function checkDuration(model: string, quality: string, duration: number): void {
  const family = videoFamily(model);
  if (family === 'free') {
    if (duration < 1 || duration > 15) throw fieldError(ERR.invalidParam, 'duration', `must be 1–15 for ${model}`);
    return;
  }
  const allowed = family === 'mid' ? [5, 8, 10] : [5, 8];
  if (!allowed.includes(duration)) {
    throw fieldError(ERR.invalidParam, 'duration', `must be one of ${allowed.join(', ')} for ${model}`);
  }
  // The longest duration is not offered at 1080p — except on v5, whose price table lists 8 s 1080p
  // (reference §3 and §9 both single v5 out from v3.5–v4.5 here).
  if (quality === '1080p' && duration === allowed[allowed.length - 1] && model !== 'v5') {
    throw fieldError(ERR.invalidParam, 'duration', `${duration} is not available at 1080p on ${model}`);
  }
}

function checkPromptLength(field: string, text: string, max: number, code: number): void {
  // Cheap upper bound first: code points ≤ UTF-16 units.
  if (text.length > max && charLength(text) > max) {
    throw new SimError(code, `${field} exceeds ${max} characters`);
  }
}

function readSeed(f: Fields): number | null {
  const seed = f.int('seed');
  if (seed === undefined) return null;
  if (seed < 0 || seed > SEED_MAX) throw fieldError(ERR.invalidParam, 'seed', `must be 0–${SEED_MAX}`);
  return seed;
}

function checkLipSync(f: Fields): void {
  const on = f.bool('lip_sync_tts_switch') ?? false;
  const content = f.string('lip_sync_tts_content');
  const speaker = f.text('lip_sync_tts_speaker_id');
  if (speaker !== undefined && !TTS_SPEAKERS.includes(speaker)) {
    throw fieldError(ERR.invalidParam, 'lip_sync_tts_speaker_id', 'invalid speaker');
  }
  if (content !== undefined && charLength(content) > TTS_CONTENT_MAX) {
    throw fieldError(ERR.invalidParam, 'lip_sync_tts_content', `must be within ${TTS_CONTENT_MAX} characters`);
  }
  if (on && (content === undefined || content.trim() === '')) throw fieldError(ERR.emptyParam, 'lip_sync_tts_content');
}

/** img_id is required, except for multi-image templates, which send img_ids instead. */
function checkImages(f: Fields, templateId: string | null, hasUpload: UploadCheck): void {
  const imgIds = f.ids('img_ids');
  if (imgIds !== undefined && templateId === null) {
    throw fieldError(ERR.invalidParam, 'img_ids', 'is only accepted with template_id');
  }
  const imgId = imgIds !== undefined && imgIds.length > 0 ? f.id('img_id') : f.id('img_id', true);
  for (const id of imgId !== undefined ? [imgId, ...(imgIds ?? [])] : imgIds ?? []) {
    if (!hasUpload(id)) throw fieldError(ERR.invalidImageId, imgId === id ? 'img_id' : 'img_ids', id);
  }
}
