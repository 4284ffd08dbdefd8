/**
 * PixVerse video model rules (Platform API reference §3), checked before any credit is
 * spent so a bad combination gets a 400 naming the field.
 */
import { badRequest } from '../../../domain/errors.ts';

export const VIDEO_MODELS = ['v6', 'v5.6', 'v5.5', 'v5', 'v4.5', 'v4', 'v3.5', 'c1', 'pixverse-c1'] as const;
export const VIDEO_QUALITIES = ['360p', '540p', '720p', '1080p'] as const;
export const ASPECT_RATIOS = ['16:9', '4:3', '1:1', '3:4', '9:16', '2:3', '3:2', '21:9'] as const;

/** Models served by the PixVerse web app only; useapi clients may name them. */
const WEB_ONLY = /^(seedance|kling|grok|veo|sora|happyhorse|flux|wan|minimax|gemini|v5-fast)/;

export interface VideoSettings {
  model: string;
  duration: number;
  quality: string;
}

/** The Platform API model name for a useapi model name. */
export function platformModel(model: string | undefined): string {
  const name = model ?? 'v6';
  if (WEB_ONLY.test(name)) {
    throw badRequest(
      `model "${name}" is only offered by the PixVerse web app and is not available through the PixVerse Platform API`,
    );
  }
  if (!(VIDEO_MODELS as readonly string[]).includes(name))
    throw badRequest(`model must be one of: ${VIDEO_MODELS.join(', ')}`);
  return name === 'pixverse-c1' ? 'c1' : name;
}

function isV6Family(model: string): boolean {
  return model === 'v6' || model === 'c1';
}

export function defaultQuality(model: string): string {
  return isV6Family(model) ? '720p' : '540p';
}

/** Checks duration × quality × model; returns the allowed durations text on error. */
export function checkDuration(settings: VideoSettings): void {
  const { model, duration, quality } = settings;
  if (isV6Family(model)) {
    if (duration < 1 || duration > 15) throw badRequest(`duration must be 1…15 seconds for model ${model}`);
    return;
  }
  const allowed = model === 'v5.5' || model === 'v5.6' ? [5, 8, 10] : [5, 8];
  if (!allowed.includes(duration))
    throw badRequest(`duration must be one of ${allowed.join(', ')} for model ${model}`);
  const longest = allowed[allowed.length - 1]!;
  if (quality === '1080p' && duration === longest)
    throw badRequest(`duration ${duration} is not available at 1080p for model ${model}`);
}

export function checkAspectRatio(model: string, aspect: string): void {
  const wide = ['2:3', '3:2', '21:9'];
  if (wide.includes(aspect) && !isV6Family(model))
    throw badRequest(`aspect_ratio ${aspect} needs model v6 or c1`);
}

export function checkMotionMode(
  model: string,
  motion: string | undefined,
  duration: number,
  quality: string,
): void {
  if (motion !== 'fast') return;
  if (['v5', 'v5.5', 'v5.6', 'v6', 'c1'].includes(model))
    throw badRequest(`motion_mode fast is not supported by model ${model}`);
  if (duration !== 5) throw badRequest('motion_mode fast needs duration 5');
  if (quality === '1080p') throw badRequest('motion_mode fast is not available at 1080p');
}

export function checkPromptLength(model: string, prompt: string): void {
  const limit = ['v5.5', 'v5.6', 'v6', 'c1'].includes(model) ? 5000 : 2048;
  if (prompt.length > limit)
    throw badRequest(`prompt must be at most ${limit} characters for model ${model}`);
}
