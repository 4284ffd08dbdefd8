/** The JSON a client gets from GET /videos|images|music/{id}, and the body of its callbacks. */
import { publicJobId } from './ids.ts';
import type { Job, Json } from './job.ts';
import { isFinalStatus, statusCode, statusName } from './status.ts';
import { isoUtc } from './time.ts';

const PREFIX = { video: 'video', image: 'image', music: 'audio' } as const;
const ECHOED = [
  'model',
  'prompt',
  'quality',
  'duration',
  'aspect_ratio',
  'seed',
  'negative_prompt',
  'motion_mode',
  'instrumental',
];

export function idKey(job: Pick<Job, 'type'>): string {
  return `${PREFIX[job.type]}_id`;
}

export function jobView(job: Job): { [key: string]: Json } {
  const prefix = PREFIX[job.type];
  const view: { [key: string]: Json } = {
    [`${prefix}_id`]: publicJobId(job),
    [`${prefix}_status`]: statusCode(job.state),
    [`${prefix}_status_name`]: statusName(job.state),
    [`${prefix}_status_final`]: isFinalStatus(job),
    state: job.state,
    email: job.email,
    type: job.type,
    upstream_id: job.upstreamId,
    created_at: isoUtc(job.createdAt),
    priority: job.priority,
  };
  if (job.queuedAt !== null) view['queued_at'] = isoUtc(job.queuedAt);
  if (job.startedAt !== null) view['started'] = isoUtc(job.startedAt);
  for (const key of ECHOED) {
    const value = job.upstream.params[key];
    if (value !== undefined) view[key] = value;
  }
  if (job.finishedAt !== null) view['finished_at'] = isoUtc(job.finishedAt);
  if (job.resultUrl !== null) view[job.type === 'image' ? 'image_url' : 'url'] = job.resultUrl;
  const result = job.result ?? {};
  if (typeof result['outputWidth'] === 'number') view['output_width'] = result['outputWidth'];
  if (typeof result['outputHeight'] === 'number') view['output_height'] = result['outputHeight'];
  if (job.error !== null) view['error'] = job.error;
  // Untracked (DELETE /scheduler/{id}): no slot held, still followed to its end.
  if (job.untrackedAt !== null) view['untracked_at'] = isoUtc(job.untrackedAt);
  if (job.replyUrl !== null) view['replyUrl'] = job.replyUrl;
  if (job.replyRef !== null) view['replyRef'] = job.replyRef;
  return view;
}
