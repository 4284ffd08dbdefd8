/** Reads the fields a client needs out of useapi's prefixed job document. */
import type { JobDocument, JobType } from './types.ts';

const PREFIX: Record<JobType, string> = { video: 'video', image: 'image', music: 'audio' };

export interface JobStatus {
  id: string;
  type: JobType;
  /** Gateway state: queued, submitting, running, completed, failed, moderated, cancelled, timed_out. */
  state: string;
  /** useapi's name: QUEUED, GENERATING, COMPLETED, FAILED, MODERATED. */
  statusName: string;
  final: boolean;
  email: string | null;
  url: string | null;
  error: string | null;
  createdAt: string | null;
  startedAt: string | null;
  queuePosition: number | null;
  queueEta: string | null;
}

const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);

export function jobStatus(type: JobType, doc: JobDocument): JobStatus {
  const prefix = PREFIX[type];
  const position = doc['queue_position'];
  return {
    id: str(doc[`${prefix}_id`]) ?? '',
    type,
    state: str(doc['state']) ?? 'unknown',
    statusName: str(doc[`${prefix}_status_name`]) ?? 'UNKNOWN',
    final: doc[`${prefix}_status_final`] === true,
    email: str(doc['email']),
    url: str(doc[type === 'image' ? 'image_url' : 'url']),
    error: str(doc['error']),
    createdAt: str(doc['created_at']),
    startedAt: str(doc['started']),
    queuePosition: typeof position === 'number' ? position : null,
    queueEta: str(doc['queue_eta']),
  };
}

/** The JSON key of a create answer: `video_id`, `image_id`, `audio_id`. */
export function idKeyOf(type: JobType): string {
  return `${PREFIX[type]}_id`;
}
