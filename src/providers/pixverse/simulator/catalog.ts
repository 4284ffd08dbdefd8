/**
 * What the Platform API accepts (reference §3), as data. Validation and pricing read these tables,
 * so adding a model or a quality is a one-line change here.
 */

export const VIDEO_MODELS = ['v3.5', 'v4', 'v4.5', 'v5', 'v5.5', 'v5.6', 'v6', 'c1'] as const;
export const VIDEO_QUALITIES = ['360p', '540p', '720p', '1080p'] as const;
export const BASE_ASPECTS = ['16:9', '4:3', '1:1', '3:4', '9:16'] as const;
export const WIDE_ASPECTS = [...BASE_ASPECTS, '2:3', '3:2', '21:9'] as const;
export const MOTION_MODES = ['normal', 'fast'] as const;
export const STYLES = ['anime', '3d_animation', 'clay', 'comic', 'cyberpunk'] as const;
export const CAMERA_MOVEMENTS = [
  'horizontal_left',
  'horizontal_right',
  'vertical_up',
  'vertical_down',
  'zoom_in',
  'zoom_out',
  'crane_up',
  'quickly_zoom_in',
  'quickly_zoom_out',
  'smooth_zoom_in',
  'camera_rotation',
  'robo_arm',
  'super_dolly_out',
  'whip_pan',
  'hitchcock',
  'left_follow',
  'right_follow',
  'pan_left',
  'pan_right',
  'fix_bg',
] as const;
/** Qualities of the editing endpoints that stop at 720p (mimic, swap, modify; reference §3.12–3.14). */
export const EDIT_QUALITIES = ['360p', '540p', '720p'] as const;
/** Fusion: v4.5 and later (reference §3.10); multi-transition: v5 and earlier (§3.6). */
export const FUSION_MODELS = ['v4.5', 'v5', 'v5.5', 'v5.6', 'v6', 'c1'] as const;
export const MULTI_TRANSITION_MODELS = ['v3.5', 'v4', 'v4.5', 'v5'] as const;

export type VideoFamily = 'legacy' | 'mid' | 'free';

/** v3.5…v5: 5/8 s; v5.5/v5.6: 5/8/10 s; v6/c1: any 1–15 s (billed per second). */
export function videoFamily(model: string): VideoFamily {
  if (model === 'v6' || model === 'c1') return 'free';
  if (model === 'v5.5' || model === 'v5.6') return 'mid';
  return 'legacy';
}

/** v5.5 and later: 5000-char prompts, native audio, no "fast" motion. */
export function isModernModel(model: string): boolean {
  return videoFamily(model) !== 'legacy';
}

/** "fast" motion exists only before v5. */
export function supportsFastMotion(model: string): boolean {
  return model === 'v3.5' || model === 'v4' || model === 'v4.5';
}

export const IMAGE_MODELS = [
  'qwen-image',
  'nano-banana',
  'nano-banana-2',
  'nano-banana-pro',
  'seedream-4.0',
  'seedream-4.5',
  'seedream-5.0-lite',
  'seedream-5.0-pro',
  'kling-3.0',
  'gpt-image-2.0',
] as const;
export const IMAGE_QUALITIES = ['512p', '720p', '1080p', '1k', '2k', '4k'] as const;
export const IMAGE_MAX_COUNT = 4;

/** Short side in pixels for a video quality ("720p" → 720). */
export function shortSide(quality: string): number {
  return Number.parseInt(quality, 10) || 720;
}

/**
 * Output size for a short side and an aspect ratio. Matches the reference table for the five base
 * ratios (e.g. 540p 4:3 → 720×540); other ratios round the long side to an even number.
 */
export function dimensions(short: number, aspect: string): { width: number; height: number } {
  const [a, b] = aspect.split(':').map(Number) as [number, number];
  if (!a || !b) return { width: short, height: short };
  const long = (n: number, d: number) => Math.round((short * n) / d / 2) * 2;
  return a >= b ? { width: long(a, b), height: short } : { width: short, height: long(b, a) };
}

/** Image qualities: "<n>p" is the short side, "<n>k" the long side in units of 1024. */
export function imageDimensions(quality: string, aspect: string): { width: number; height: number } {
  if (quality.endsWith('k')) {
    const longSide = (Number.parseInt(quality, 10) || 1) * 1024;
    const [a, b] = aspect.split(':').map(Number) as [number, number];
    if (!a || !b) return { width: longSide, height: longSide };
    const other = Math.round((longSide * Math.min(a, b)) / Math.max(a, b) / 2) * 2;
    return a >= b ? { width: longSide, height: other } : { width: other, height: longSide };
  }
  return dimensions(shortSide(quality), aspect);
}
