/**
 * Keyframe transitions (Platform reference §3.6, `video.multi_transition`): 2–7 images; segment
 * i→i+1 lasts 1–8 s with two images and 1–5 s with three or more; the whole video lasts at most
 * 30 s. Models v3.5, v4, v4.5 and v5.
 */
import { badRequest } from '../../../../domain/errors.ts';

export const TRANSITION_MODELS = ['v3.5', 'v4', 'v4.5', 'v5'] as const;
export const TRANSITION_FRAMES_MIN = 2;
export const TRANSITION_FRAMES_MAX = 7;
export const TRANSITION_TOTAL_MAX = 30;
export const TRANSITION_DEFAULT_SEGMENT = 5;

export const frameField = (i: number) => `frame_${i}_path`;
export const durationField = (i: number) => `duration_${i}_to_${i + 1}`;
export const promptField = (i: number) => `prompt_${i}_to_${i + 1}`;

/** Longest segment for a number of frames. */
export function segmentMax(frames: number): number {
  return frames >= 3 ? 5 : 8;
}

/**
 * Segment durations for `frames` images, from the request's `duration_i_to_j` values (missing
 * ones default to 5 s, capped at the segment maximum). Throws a 400 naming the field.
 */
export function segmentDurations(frames: number, given: (i: number) => number | undefined): number[] {
  const max = segmentMax(frames);
  const out: number[] = [];
  for (let i = 1; i < frames; i++) {
    const value = given(i);
    if (value !== undefined && (value < 1 || value > max)) {
      throw badRequest(`${durationField(i)} must be 1…${max} seconds with ${frames} frames`);
    }
    out.push(value ?? Math.min(TRANSITION_DEFAULT_SEGMENT, max));
  }
  const total = out.reduce((sum, d) => sum + d, 0);
  if (total > TRANSITION_TOTAL_MAX) {
    throw badRequest(
      `the durations add up to ${total} seconds; duration_1_to_2…duration_${frames - 1}_to_${frames} must total at most ${TRANSITION_TOTAL_MAX}`,
    );
  }
  return out;
}
