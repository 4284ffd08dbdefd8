/**
 * Generations from a prompt and optional frames: /video/text, /video/img (also effect templates) and
 * /video/transition (reference §3.3–3.5). The shared generation fields are read by readGeneration.
 */
import {
  BASE_ASPECTS,
  CAMERA_MOVEMENTS,
  MOTION_MODES,
  STYLES,
  VIDEO_MODELS,
  VIDEO_QUALITIES,
  WIDE_ASPECTS,
  supportsFastMotion,
  videoFamily,
} from '../catalog.ts';
import { ERR, fieldError } from '../envelope.ts';
import { Fields, type Body } from '../fields.ts';
import { generationCost } from '../pricing.ts';
import {
  LEGACY_PROMPT_MAX,
  checkDuration,
  checkImage,
  checkLipSyncAddOn,
  checkPromptLength,
  promptMax,
  readAudio,
  readSeed,
} from './common.ts';
import { videoSpec, type Lookup, type VideoSpec } from './specs.ts';
import { checkTemplate } from './templates.ts';

/** Aspect ratios a model accepts: v6/c1 add 2:3, 3:2 and 21:9. */
export function aspectsFor(model: string): readonly string[] {
  return videoFamily(model) === 'free' ? WIDE_ASPECTS : BASE_ASPECTS;
}

interface Generation {
  prompt: string;
  negativePrompt: string;
  model: string;
  duration: number;
  quality: string;
  aspectRatio: string;
  motionMode: 'normal' | 'fast';
  seed: number | null;
  style: string;
  audio: boolean;
  soundEffect: boolean;
  multiClip: boolean;
}

/**
 * The fields every generation shares. `aspect`: read aspect_ratio (text-to-video) or take 16:9 from
 * the image; `promptOptional`: templates ignore the prompt ("send any string").
 */
export function readGeneration(f: Fields, opts: { aspect: boolean; promptOptional?: boolean }): Generation {
  const prompt = opts.promptOptional ? (f.string('prompt') ?? '') : f.string('prompt', true);
  const model = f.oneOf('model', VIDEO_MODELS, true);
  const duration = f.int('duration', true);
  const quality = f.oneOf('quality', VIDEO_QUALITIES, true);
  // Image-based generations take their aspect from the image; the simulator reports 16:9 for them.
  const aspectRatio = opts.aspect ? f.oneOf('aspect_ratio', aspectsFor(model), true) : '16:9';

  checkDuration(model, quality, duration);
  checkPromptLength('prompt', prompt, promptMax(model), ERR.promptTooLong);
  const negativePrompt = f.string('negative_prompt') ?? '';
  checkPromptLength('negative_prompt', negativePrompt, LEGACY_PROMPT_MAX, ERR.negativePromptTooLong);

  const motionMode = f.oneOf('motion_mode', MOTION_MODES) ?? 'normal';
  if (motionMode === 'fast') {
    if (!supportsFastMotion(model))
      throw fieldError(ERR.invalidParam, 'motion_mode', `fast is not supported on ${model}`);
    if (duration !== 5) throw fieldError(ERR.invalidParam, 'motion_mode', 'fast requires duration 5');
    if (quality === '1080p')
      throw fieldError(ERR.invalidParam, 'motion_mode', 'fast is not available at 1080p');
  }
  const seed = readSeed(f);
  const style = f.oneOf('style', STYLES) ?? '';
  f.oneOf('camera_movement', CAMERA_MOVEMENTS);
  const audio = readAudio(f, model);
  const multiClip = f.bool('generate_multi_clip_switch') ?? false;
  const soundEffect = f.bool('sound_effect_switch') ?? false;
  f.string('sound_effect_content');
  checkLipSyncAddOn(f);
  f.bool('water_mark');
  // Type-checked on every generation, but only text/img act on it (validateVideo).
  f.text('webhook_id');
  return {
    prompt,
    negativePrompt,
    model,
    duration,
    quality,
    aspectRatio,
    motionMode,
    seed,
    style,
    audio,
    soundEffect,
    multiClip,
  };
}

function toSpec(mode: VideoSpec['mode'], g: Generation, extra: Partial<VideoSpec> = {}): VideoSpec {
  const duration = extra.duration ?? g.duration;
  const cost = generationCost({
    model: g.model,
    quality: g.quality,
    duration,
    audio: g.audio,
    fast: g.motionMode === 'fast',
    soundEffect: g.soundEffect,
  });
  return videoSpec({ mode, ...g, cost, ...extra });
}

/** POST /video/text/generate and /video/img/generate. */
export function validateVideo(body: Body, mode: 'text' | 'img', lookup: Lookup): VideoSpec {
  const f = new Fields(body);
  const templateId = f.id('template_id') ?? null;
  const g = readGeneration(f, { aspect: mode === 'text', promptOptional: templateId !== null });
  let images: number | undefined;
  if (mode === 'img') images = checkImages(f, templateId, lookup);
  const webhookId = readWebhook(f, lookup);
  if (templateId === null) return toSpec(mode, g, { webhookId });
  // The template decides the real length (the request sends 5).
  const template = checkTemplate(templateId, {
    type: 1,
    quality: g.quality,
    ...(images !== undefined ? { images } : {}),
  });
  return toSpec(mode, g, { templateId, duration: template.duration || g.duration, webhookId });
}

/**
 * webhook_id names a webhook created on the console (here: /_sim/webhooks). An empty one is no
 * webhook, as SDKs send "" for unset strings; an unknown one is refused before anything is charged.
 */
function readWebhook(f: Fields, lookup: Lookup): string | null {
  const id = f.text('webhook_id')?.trim();
  if (!id) return null;
  if (!lookup.webhook(id))
    throw fieldError(ERR.invalidParam, 'webhook_id', `${id.slice(0, 64)} is not a webhook of this account`);
  return id;
}

/** img_id is required, except for multi-image templates, which send img_ids instead. Returns the image count. */
function checkImages(f: Fields, templateId: string | null, lookup: Lookup): number {
  const imgIds = f.ids('img_ids');
  if (imgIds !== undefined && templateId === null) {
    throw fieldError(ERR.invalidParam, 'img_ids', 'is only accepted with template_id');
  }
  const imgId = imgIds !== undefined && imgIds.length > 0 ? f.id('img_id') : f.id('img_id', true);
  if (imgId !== undefined) checkImage(lookup, 'img_id', imgId);
  for (const id of imgIds ?? []) checkImage(lookup, 'img_ids', id);
  return (imgId !== undefined ? 1 : 0) + (imgIds?.length ?? 0);
}

/** POST /video/transition/generate: first_frame_img → last_frame_img (reference §3.5). */
export function validateTransition(body: Body, lookup: Lookup): VideoSpec {
  const f = new Fields(body);
  const g = readGeneration(f, { aspect: false });
  const first = f.id('first_frame_img', true);
  const last = f.id('last_frame_img', true);
  checkImage(lookup, 'first_frame_img', first);
  checkImage(lookup, 'last_frame_img', last);
  return toSpec('transition', g);
}
