/** Client-visible status names (useapi's `*_status_name`) derived from our job states. */
import type { Job, JobState } from './job.ts';

export type StatusName = 'QUEUED' | 'GENERATING' | 'COMPLETED' | 'FAILED' | 'MODERATED';

const NAMES: Record<JobState, StatusName> = {
  queued: 'QUEUED',
  submitting: 'QUEUED',
  running: 'GENERATING',
  completed: 'COMPLETED',
  failed: 'FAILED',
  moderated: 'MODERATED',
  cancelled: 'FAILED',
  timed_out: 'FAILED',
};

/** useapi-style numeric status: 1 done, 5 queued, 7 moderated, 8 failed, 10 generating. */
const CODES: Record<StatusName, number> = {
  COMPLETED: 1,
  QUEUED: 5,
  MODERATED: 7,
  FAILED: 8,
  GENERATING: 10,
};

export function statusName(state: JobState): StatusName {
  return NAMES[state];
}

export function statusCode(state: JobState): number {
  return CODES[NAMES[state]];
}

export function isFinalStatus(job: Pick<Job, 'state'>): boolean {
  const name = NAMES[job.state];
  return name === 'COMPLETED' || name === 'FAILED' || name === 'MODERATED';
}
