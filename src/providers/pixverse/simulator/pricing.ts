/**
 * Credit prices, charged at submit and refunded on status 7/8 (reference §9). Approximations where
 * the reference has no table (restyle, swap, modify, upscale, multi-transition tiers): they only need
 * to be plausible, stable and visible in /account/balance. Validators call these and store the
 * result in the job spec.
 */
import { videoFamily } from './catalog.ts';

/** Per 5-second clip for v3.5…v5.6 (the official v5 table). */
const PER_CLIP: Record<string, number> = { '360p': 45, '540p': 45, '720p': 60, '1080p': 120 };
/** Per second for v6/c1, which the Platform bills by the second. */
const PER_SECOND: Record<string, number> = { '360p': 6, '540p': 9, '720p': 12, '1080p': 24 };
/** Mimic (motion control): 9, 10 or 12 credits per second (reference §3.13). */
const MIMIC_PER_SECOND: Record<string, number> = { '360p': 9, '540p': 10, '720p': 12 };
const SOUND_EFFECT_PER_5S = 10;
const LIP_SYNC_PER_SECOND = 4;
const LIP_SYNC_TTS_BYTES_PER_UNIT = 15;
const MASK_SELECTION = 5;

export interface GenerationPricing {
  model: string;
  quality: string;
  duration: number;
  audio?: boolean;
  fast?: boolean;
  soundEffect?: boolean;
}

/** text, img, transition, fusion and extend (priced on the requested length). */
export function generationCost(g: GenerationPricing): number {
  let cost: number;
  if (videoFamily(g.model) === 'free') {
    cost = (PER_SECOND[g.quality] ?? 12) * g.duration;
    if (g.audio) cost = Math.round(cost * 1.25);
  } else {
    // 8 s and 10 s clips cost two 5 s clips; "fast" motion doubles the price.
    cost = (PER_CLIP[g.quality] ?? 60) * (g.duration > 5 ? 2 : 1);
    if (g.fast) cost *= 2;
  }
  if (g.soundEffect) cost += soundEffectCost(g.duration);
  return cost;
}

/** Number of started 5-second clips (8 s → 2, 13 s → 3). */
function clips(seconds: number): number {
  return Math.max(1, Math.ceil(seconds / 5));
}

/** Multi-transition: tiered by total length (details not published): one clip price per 5 s. */
export function multiTransitionCost(quality: string, totalSeconds: number): number {
  return (PER_CLIP[quality] ?? 60) * clips(totalSeconds);
}

/** +10 credits per 5 s, rounded (5 s → 10, 8 s → 20, 10 s → 20). */
export function soundEffectCost(seconds: number): number {
  return SOUND_EFFECT_PER_5S * Math.max(1, Math.round(seconds / 5));
}

/** 4 credits per second of uploaded audio, or per 15 UTF-8 bytes of TTS text (rounded up). */
export function lipSyncCost(audioSeconds: number | null, ttsText: string | null): number {
  if (ttsText !== null)
    return (
      LIP_SYNC_PER_SECOND * Math.max(1, Math.ceil(Buffer.byteLength(ttsText) / LIP_SYNC_TTS_BYTES_PER_UNIT))
    );
  return LIP_SYNC_PER_SECOND * Math.max(1, Math.ceil(audioSeconds ?? 5));
}

export function mimicCost(quality: string, seconds: number): number {
  return (MIMIC_PER_SECOND[quality] ?? 12) * Math.max(1, Math.ceil(seconds));
}

/** Restyle, swap and modify: one clip price of the output quality per started 5 s. */
export function editCost(quality: string, seconds: number): number {
  return (PER_CLIP[quality] ?? 60) * clips(seconds);
}

/** Upscale to 1080p: half the 1080p clip price per started 5 s. */
export function upscaleCost(seconds: number): number {
  return (PER_CLIP['1080p']! / 2) * clips(seconds);
}

export function maskSelectionCost(): number {
  return MASK_SELECTION;
}
