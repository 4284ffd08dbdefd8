/**
 * Seeded pseudo-random numbers. Tests and benches pass `seed` so durations and failure draws
 * repeat run to run; without a seed the simulator picks one from the OS.
 */
import { randomInt } from 'node:crypto';

/** Returns floats in [0, 1). */
export type Rng = () => number;

/** mulberry32: tiny, fast and good enough for simulated latencies (not for anything secret). */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomSeed(): number {
  return randomInt(0, 2 ** 31);
}

/** Integer uniformly drawn from [min, max] (both inclusive). */
export function uniformInt(rng: Rng, min: number, max: number): number {
  if (max <= min) return min;
  return min + Math.floor(rng() * (max - min + 1));
}

/**
 * Independent streams from one seed, so that e.g. uploading one more image does not shift
 * every later job duration (ids and outcomes draw from different streams).
 */
export function deriveSeed(seed: number, stream: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(stream, 0xc2b2ae35)) >>> 0;
}
