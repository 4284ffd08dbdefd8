/**
 * Credit prices, charged at submit and refunded on status 7/8 (reference §9). Deliberately a small
 * table: the gateway only needs costs that are plausible, stable and visible in /account/balance.
 */
import { videoFamily } from './catalog.ts';
import type { JobSpec, VideoSpec } from './validate.ts';

/** Per 5-second clip for v3.5…v5.6 (the official v5 table). */
const PER_CLIP: Record<string, number> = { '360p': 45, '540p': 45, '720p': 60, '1080p': 120 };
/** Per second for v6/c1, which the Platform bills by the second. */
const PER_SECOND: Record<string, number> = { '360p': 6, '540p': 9, '720p': 12, '1080p': 24 };
const SOUND_EFFECT_PER_5S = 10;
const IMAGE_EACH = 5;
const MUSIC_EACH = 10;

export function costOf(spec: JobSpec): number {
  switch (spec.kind) {
    case 'video':
      return videoCost(spec);
    case 'image':
      return IMAGE_EACH * spec.count;
    case 'music':
      return MUSIC_EACH;
  }
}

function videoCost(spec: VideoSpec): number {
  let cost: number;
  if (videoFamily(spec.model) === 'free') {
    cost = (PER_SECOND[spec.quality] ?? 12) * spec.duration;
    if (spec.audio) cost = Math.round(cost * 1.25);
  } else {
    // 8 s and 10 s clips cost two 5 s clips; "fast" motion doubles the price.
    cost = (PER_CLIP[spec.quality] ?? 60) * (spec.duration > 5 ? 2 : 1);
    if (spec.motionMode === 'fast') cost *= 2;
  }
  if (spec.soundEffect) cost += SOUND_EFFECT_PER_5S * Math.max(1, Math.round(spec.duration / 5));
  return cost;
}
