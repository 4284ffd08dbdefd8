/**
 * PixVerse run times: the defaults the duration estimator starts from before it has seen jobs
 * finish, and the run time PixVerse itself reports in a finished job's result document.
 */
import type { JobType } from '../../domain/job.ts';
import type { RunTimeInput, StatusResult } from '../../scheduler/provider.ts';

/** PixVerse's published ranges for a 5 s 720p video, an image and a music track. */
const DEFAULTS: Record<JobType, number> = { video: 60_000, image: 15_000, music: 45_000 };
const QUALITY_FACTOR: Record<string, number> = { '360p': 0.6, '540p': 0.75, '720p': 1, '1080p': 1.5 };

function qualityOf(job: RunTimeInput): string | null {
  const quality = job.upstream.params['quality'];
  return typeof quality === 'string' ? quality : null;
}

/** Output quality changes the run time most, so jobs learn per type and quality. */
export function runClass(job: RunTimeInput): string {
  return `${job.type}:${qualityOf(job) ?? ''}`;
}

export function defaultRunMs(job: RunTimeInput): number {
  const quality = qualityOf(job);
  const factor = quality !== null ? (QUALITY_FACTOR[quality] ?? 1) : 1;
  const duration = job.upstream.params['duration'];
  // Each second past the 5 s default adds about 8 %.
  const lengthFactor = typeof duration === 'number' ? 1 + 0.08 * (duration - 5) : 1;
  return Math.round(DEFAULTS[job.type] * factor * lengthFactor);
}

/** From the result's `create_time` and `modify_time`, when both are there and in order. */
export function reportedRunMs(status: StatusResult): number | null {
  const created = Date.parse(String(status.raw['create_time'] ?? ''));
  const modified = Date.parse(String(status.raw['modify_time'] ?? ''));
  return Number.isFinite(created) && Number.isFinite(modified) && modified > created
    ? modified - created
    : null;
}
