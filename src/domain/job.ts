/** Job model shared by every layer. Pure data, no I/O. */

export const JOB_TYPES = ['video', 'image', 'music'] as const;

export const PRIORITIES = { high: 1, normal: 0, low: -1 } as const;
export type PriorityName = keyof typeof PRIORITIES;
export type JobType = (typeof JOB_TYPES)[number];

export const JOB_STATES = [
  'queued',
  'submitting',
  'running',
  'completed',
  'failed',
  'moderated',
  'cancelled',
  'timed_out',
] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States that hold an account slot (design: a slot is held from `submitting` until a terminal state). */
export const SLOT_STATES: readonly JobState[] = ['submitting', 'running'];
export const TERMINAL_STATES: readonly JobState[] = [
  'completed',
  'failed',
  'moderated',
  'cancelled',
  'timed_out',
];

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.includes(state);
}

export function holdsSlot(state: JobState): boolean {
  return SLOT_STATES.includes(state);
}

/** JSON-compatible value, used for stored request/response documents. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * What the scheduler asks the upstream to run. `op` names one of the provider's operations
 * (its own names, opaque to the engine); `params` is the provider body with ids kept as strings.
 */
export interface UpstreamRequest {
  op: string;
  params: { [key: string]: Json };
}

export interface Job {
  /** Internal row id; never shown to clients except inside a pending id. */
  id: number;
  userId: number;
  tokenId: number | null;
  /** The provider running the job (Provider.id): the `<provider>` segment of its public id. */
  provider: string;
  /** The account running the job; null while an unpinned job waits in the queue. */
  email: string | null;
  /** The account the client pinned (`email`, or the account an operation's input names). */
  pinnedEmail: string | null;
  type: JobType;
  state: JobState;
  /** The provider's job id, always text because some exceed 2^53 (Provider.parseIdTail reads it back). */
  upstreamId: string | null;
  /** Client request id sent with the create call (the provider's trace id); reused only to reconcile after a crash. */
  traceId: string;
  upstream: UpstreamRequest;
  /** The client's request body, for GET echoes. */
  request: { [key: string]: Json };
  replyUrl: string | null;
  replyRef: string | null;
  /** Scheduling priority within its token's share of the queue: 1 high, 0 normal, -1 low. */
  priority: number;
  /**
   * Order within one priority of a token's queue, lowest first: epoch ms of queueing minus the job's
   * expected run time (least laxity first; see domain/policy/queueOrder.ts). Null for jobs never queued.
   */
  queueRank: number | null;
  /** Per-request maxJobs override, applied when the job takes a slot. */
  maxJobsOverride: number | null;
  /** Epoch ms. `queuedAt` is set only for jobs that entered through the queue (their id form). */
  createdAt: number;
  queuedAt: number | null;
  /** When the slot was reserved; null while queued. */
  startedAt: number | null;
  finishedAt: number | null;
  resultUrl: string | null;
  error: string | null;
  /** Last raw upstream status code and result document, as the provider reported them. */
  upstreamStatus: number | null;
  result: { [key: string]: Json } | null;
  pollCount: number;
  nextPollAt: number | null;
  leaseToken: string | null;
  leaseExpiresAt: number | null;
  /**
   * When DELETE /scheduler/{id} stopped tracking the job (epoch ms), or null. An untracked job holds
   * no slot, but it is still polled (a backstop poll) so its result stays readable; it sends its
   * final callback only when `untrackCallback` is set.
   */
  untrackedAt: number | null;
  untrackCallback: boolean;
  /** When DELETE /videos|images/{id} hid the job from lists and reads (epoch ms), or null. */
  deletedAt: number | null;
}

/** True when the job holds an account slot now: in flight and still tracked. */
export function occupiesSlot(job: Pick<Job, 'state' | 'untrackedAt'>): boolean {
  return holdsSlot(job.state) && job.untrackedAt === null;
}

/** Terminal outcome written by a compare-and-swap transition. */
export interface JobOutcome {
  state: Extract<JobState, 'completed' | 'failed' | 'moderated' | 'cancelled' | 'timed_out'>;
  resultUrl?: string | null;
  error?: string | null;
  upstreamStatus?: number | null;
  result?: { [key: string]: Json } | null;
}
