/**
 * Result documents for GET /video|image/result/{id} (reference §4, §3.15), derived from the
 * job and the current time — the status is never stored, so it cannot go stale. Result URLs point
 * at the simulator's own address (`media`), which serves the files (media.ts).
 */
import { dimensions, imageDimensions, shortSide } from './catalog.ts';
import { statusAt, type Job } from './account.ts';
import { RawInt, type WireValue } from './envelope.ts';
import type { ImageSpec, VideoSpec } from './validate/index.ts';
import { mediaPath } from './media.ts';

type Doc = { [key: string]: WireValue };

function times(job: Job, now: number, status: number): { create_time: string; modify_time: string } {
  const modified = status === 5 ? job.createdAt : status === 6 ? job.deletedAt! : Math.min(now, job.endAt);
  return {
    create_time: new Date(job.createdAt).toISOString(),
    modify_time: new Date(modified).toISOString(),
  };
}

/** Template id when the job used an effect template. */
function template(id: string | null): { template_id?: RawInt } {
  return id === null ? {} : { template_id: new RawInt(id) };
}

/** Credits still charged for the job: 0 once a moderated/failed job has been refunded. */
function creditsOf(job: Job, status: number): number {
  return status === 7 || status === 8 ? 0 : job.cost;
}

export function videoResult(job: Job, spec: VideoSpec, now: number, media: string): Doc {
  const status = statusAt(job, now);
  const done = status === 1;
  const short = shortSide(spec.quality);
  const { width, height } = dimensions(short, spec.aspectRatio);
  return {
    id: new RawInt(job.id),
    status,
    url: done ? media + mediaPath('video', job.id) : '',
    // Size and dimensions are only known once the file exists (reference §11.5).
    outputWidth: done ? width : 0,
    outputHeight: done ? height : 0,
    size: done ? Math.round(spec.duration * (short / 360) * 6) / 10 : 0,
    seed: job.seed,
    prompt: spec.prompt,
    negative_prompt: spec.negativePrompt,
    style: spec.style,
    resolution_ratio: short,
    has_audio: spec.audio,
    ...template(spec.templateId),
    ...times(job, now, status),
    credits: creditsOf(job, status),
  };
}

export function imageResult(job: Job, spec: ImageSpec, now: number, media: string): Doc {
  const status = statusAt(job, now);
  const done = status === 1;
  const { width, height } = imageDimensions(spec.quality, spec.aspectRatio);
  return {
    image_id: new RawInt(job.id),
    status,
    url: done ? media + mediaPath('image', job.id) : '',
    outputWidth: done ? width : 0,
    outputHeight: done ? height : 0,
    seed: job.seed,
    prompt: spec.prompt,
    template_id: new RawInt(spec.templateId),
    ...times(job, now, status),
    credits: creditsOf(job, status),
  };
}
