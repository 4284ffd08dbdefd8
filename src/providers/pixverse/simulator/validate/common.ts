/**
 * Checks shared by the create validators (reference §3): durations per model family, prompt
 * lengths, seeds, the lip-sync add-on, uploaded images, and the "exactly one of" rules.
 */
import { isModernModel, videoFamily } from '../catalog.ts';
import { ERR, SimError, fieldError } from '../envelope.ts';
import { charLength, type Fields } from '../fields.ts';
import { SPEAKER_IDS } from '../presets.ts';
import type { Lookup } from './specs.ts';

const SEED_MAX = 2_147_483_647;
export const LEGACY_PROMPT_MAX = 2048;
export const MODERN_PROMPT_MAX = 5000;
export const TTS_CONTENT_MAX = 200;

export function checkDuration(model: string, quality: string, duration: number): void {
  const family = videoFamily(model);
  if (family === 'free') {
    if (duration < 1 || duration > 15)
      throw fieldError(ERR.invalidParam, 'duration', `must be 1–15 for ${model}`);
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

export function checkPromptLength(field: string, text: string, max: number, code: number): void {
  // Cheap upper bound first: code points ≤ UTF-16 units.
  if (text.length > max && charLength(text) > max) {
    throw new SimError(code, `${field} exceeds ${max} characters`);
  }
}

/** The prompt limit of a model: 2048 before v5.5, 5000 from v5.5 on (reference §3). */
export function promptMax(model: string): number {
  return isModernModel(model) ? MODERN_PROMPT_MAX : LEGACY_PROMPT_MAX;
}

export function readSeed(f: Fields): number | null {
  const seed = f.int('seed');
  if (seed === undefined) return null;
  if (seed < 0 || seed > SEED_MAX) throw fieldError(ERR.invalidParam, 'seed', `must be 0–${SEED_MAX}`);
  return seed;
}

export function checkSpeaker(field: string, speaker: string): void {
  if (!SPEAKER_IDS.has(speaker)) throw fieldError(ERR.invalidParam, field, 'invalid speaker');
}

export function checkTtsContent(field: string, content: string): void {
  if (charLength(content) > TTS_CONTENT_MAX) {
    throw fieldError(ERR.invalidParam, field, `TTS text must be within ${TTS_CONTENT_MAX} characters`);
  }
}

/** The lip-sync add-on of a generation (text, img, transition). */
export function checkLipSyncAddOn(f: Fields): void {
  const on = f.bool('lip_sync_tts_switch') ?? false;
  const content = f.string('lip_sync_tts_content');
  const speaker = f.text('lip_sync_tts_speaker_id');
  if (speaker !== undefined) checkSpeaker('lip_sync_tts_speaker_id', speaker);
  if (content !== undefined) checkTtsContent('lip_sync_tts_content', content);
  if (on && (content === undefined || content.trim() === ''))
    throw fieldError(ERR.emptyParam, 'lip_sync_tts_content');
}

/** Native audio (generate_audio_switch) needs v5.5 or later. */
export function readAudio(f: Fields, model: string): boolean {
  const audio = f.bool('generate_audio_switch') ?? false;
  if (audio && !isModernModel(model)) {
    throw fieldError(
      ERR.invalidParam,
      'generate_audio_switch',
      `native audio needs v5.5 or later, not ${model}`,
    );
  }
  return audio;
}

/** An img_id that must be an image uploaded by the caller (400032 otherwise). */
export function checkImage(lookup: Lookup, field: string, id: string): void {
  if (lookup.upload(id) !== 'image') throw fieldError(ERR.invalidImageId, field, id);
}

/** Exactly one of two fields: both → 400017, neither → 400011. Returns the one present. */
export function exactlyOne(f: Fields, a: string, b: string): string {
  const hasA = f.present(a);
  const hasB = f.present(b);
  if (hasA && hasB) throw fieldError(ERR.invalidParam, a, `cannot be combined with ${b}`);
  if (!hasA && !hasB) throw fieldError(ERR.emptyParam, `${a} or ${b}`);
  return hasA ? a : b;
}
