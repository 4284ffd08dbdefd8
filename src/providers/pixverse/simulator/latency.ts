/**
 * Model-based job durations (reference §10), used when the `durationMs` option is not set: a
 * lognormal per output quality whose median and p90 come from the table below (σ = ln(p90/median) /
 * z₀.₉ ≈ 0.40 with the defaults, close to the reference's σ ≈ 0.35), scaled by
 *   1 + 0.08 × (seconds − 5), ×1.15 with audio, ×1.2 multi-clip, ×0.6 "fast" motion,
 *   × uniform 0.8–1.5 for editing operations (extend, lip sync, restyle …),
 * and finally by the `timeScale` option (0.01 turns a 60 s job into 0.6 s).
 */
import { EDITING_MODES, type JobSpec } from './validate/index.ts';

export interface Latency {
  medianMs: number;
  p90Ms: number;
}

/** 5 s video without audio, per quality (reference §10). */
export const DEFAULT_LATENCY: Readonly<Record<string, Latency>> = {
  '360p': { medianMs: 35_000, p90Ms: 60_000 },
  '540p': { medianMs: 45_000, p90Ms: 75_000 },
  '720p': { medianMs: 60_000, p90Ms: 100_000 },
  '1080p': { medianMs: 90_000, p90Ms: 150_000 },
};
/** Images and songs (not in the reference's table; plausible values). */
export const IMAGE_LATENCY: Latency = { medianMs: 15_000, p90Ms: 30_000 };

const Z90 = 1.2815515655446004;

/** Three uniform draws in [0, 1): two for the normal variate, one for the editing factor. */
export type Draws = readonly [number, number, number];

function lognormal(base: Latency, scale: number, u1: number, u2: number): number {
  const sigma = base.p90Ms > base.medianMs ? Math.log(base.p90Ms / base.medianMs) / Z90 : 0;
  // Box–Muller; 1 − u keeps the logarithm finite.
  const z = Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  return base.medianMs * scale * Math.exp(sigma * z);
}

export function modelDurationMs(
  spec: JobSpec,
  table: Readonly<Record<string, Latency>>,
  timeScale: number,
  draws: Draws,
): number {
  const [u1, u2, u3] = draws;
  let base: Latency;
  let scale = 1;
  if (spec.kind === 'video') {
    base = table[spec.quality] ?? table['720p'] ?? DEFAULT_LATENCY['720p']!;
    scale = Math.max(0.3, 1 + 0.08 * (spec.duration - 5));
    if (spec.audio) scale *= 1.15;
    if (spec.multiClip) scale *= 1.2;
    if (spec.motionMode === 'fast') scale *= 0.6;
    if (EDITING_MODES.has(spec.mode)) scale *= 0.8 + 0.7 * u3;
  } else {
    base = IMAGE_LATENCY;
  }
  return Math.max(1, Math.round(lognormal(base, scale, u1, u2) * timeScale));
}
