/**
 * Audio options of the generation endpoints (Platform reference §3 "Audio" and "Lip-sync add-on"):
 *
 * - `audio` → `generate_audio_switch`, native audio of v5.5, v5.6, v6 and c1;
 * - `auto_sound` / `sound_effect_prompt` → `sound_effect_switch` / `sound_effect_content`, the
 *   legacy sound-effect add-on of models up to v5 and of effect templates;
 * - `lip_sync_tts_prompt` / `lip_sync_tts_speaker_id` → `lip_sync_tts_switch` / `_content` /
 *   `_speaker_id`, the TTS lip-sync add-on of models up to v5 (and templates).
 */
import { Type } from '@sinclair/typebox';
import { badRequest } from '../../../../domain/errors.ts';
import type { Json } from '../../../../domain/job.ts';
import { charLength } from './common.ts';

export const NATIVE_AUDIO_MODELS = ['v5.5', 'v5.6', 'v6', 'c1'] as const;
export const LEGACY_ADDON_MODELS = ['v3.5', 'v4', 'v4.5', 'v5'] as const;
export const TTS_PROMPT_MAX = 200;
export const SOUND_PROMPT_MAX = 2048;

export const SoundFields = {
  audio: Type.Optional(Type.Boolean()),
  auto_sound: Type.Optional(Type.Boolean()),
  sound_effect_prompt: Type.Optional(Type.String({ maxLength: SOUND_PROMPT_MAX })),
  lip_sync_tts_prompt: Type.Optional(Type.String({ maxLength: 1000 })),
  lip_sync_tts_speaker_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
};

export interface SoundBody {
  audio?: boolean;
  auto_sound?: boolean;
  sound_effect_prompt?: string;
  lip_sync_tts_prompt?: string;
  lip_sync_tts_speaker_id?: string;
}

/**
 * Adds the audio fields to `params`. `model` is the Platform model, or null for an effect
 * template (whose model the template decides: native audio is not available there).
 */
export function addSound(body: SoundBody, model: string | null, params: { [key: string]: Json }): void {
  const legacy = model === null || (LEGACY_ADDON_MODELS as readonly string[]).includes(model);
  if (body.audio !== undefined) {
    if (model === null) {
      if (body.audio)
        throw badRequest(
          "audio is not available with template_id; use auto_sound for a template's sound effects",
        );
    } else {
      if (body.audio && !(NATIVE_AUDIO_MODELS as readonly string[]).includes(model)) {
        throw badRequest(
          `audio needs model ${NATIVE_AUDIO_MODELS.join(', ')} (got ${model}); models up to v5 take auto_sound instead`,
        );
      }
      params['generate_audio_switch'] = body.audio;
    }
  }

  const soundPrompt = body.sound_effect_prompt?.trim();
  if (body.auto_sound === false && soundPrompt)
    throw badRequest('sound_effect_prompt needs auto_sound true (or leave auto_sound out)');
  const wantsSound = body.auto_sound === true || !!soundPrompt;
  if (wantsSound) {
    if (!legacy)
      throw badRequest(
        `auto_sound and sound_effect_prompt need model ${LEGACY_ADDON_MODELS.join(', ')} or a template_id (got ${model}); use audio for native audio`,
      );
    params['sound_effect_switch'] = true;
    if (soundPrompt) params['sound_effect_content'] = soundPrompt;
  }

  const ttsPrompt = body.lip_sync_tts_prompt?.trim();
  if (body.lip_sync_tts_speaker_id !== undefined && !ttsPrompt)
    throw badRequest('lip_sync_tts_speaker_id needs lip_sync_tts_prompt');
  if (body.lip_sync_tts_prompt !== undefined && !ttsPrompt)
    throw badRequest('lip_sync_tts_prompt must not be blank');
  if (ttsPrompt) {
    if (!legacy)
      throw badRequest(
        `lip_sync_tts_prompt needs model ${LEGACY_ADDON_MODELS.join(', ')} or a template_id (got ${model})`,
      );
    if (charLength(ttsPrompt) > TTS_PROMPT_MAX)
      throw badRequest(`lip_sync_tts_prompt must be at most ${TTS_PROMPT_MAX} characters`);
    params['lip_sync_tts_switch'] = true;
    params['lip_sync_tts_content'] = ttsPrompt;
    params['lip_sync_tts_speaker_id'] = body.lip_sync_tts_speaker_id ?? 'Auto';
  }
}
