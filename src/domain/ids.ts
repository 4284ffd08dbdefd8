/**
 * Public job ids in useapi's shape: user:<userId>-pixverse:<email>-<type>:<upstreamId>.
 * Emails may contain '-' and ':' in odd cases, so ids are parsed from the right.
 * While a job is still being submitted it has no upstream id yet; it is then named
 * by its row as `pending-<rowId>` so the executing list can show every slot holder.
 * A job that entered through the queue is named `q<rowId>` for its whole life (its account
 * is chosen later), with its pinned email or `queue` in the email position.
 */
import { JOB_TYPES, type Job, type JobType } from './job.ts';

export interface JobRef {
  userId: number;
  email: string;
  type: JobType;
  /** Upstream id (decimal digits) or null when the id names a pending row. */
  upstreamId: string | null;
  /** Row id when the id is a pending or queued one. */
  rowId: number | null;
  /** True for the queue form, whose email part is the pinned email or `queue`. */
  queued: boolean;
}

const PENDING = 'pending-';
const QUEUED = 'q';
export const QUEUE_EMAIL = 'queue';
const ID_PATTERN = new RegExp(`^user:(\\d{1,15})-pixverse:(.+)-(${JOB_TYPES.join('|')}):(\\d{1,30}|${PENDING}\\d{1,15}|${QUEUED}\\d{1,15})$`);

export function formatJobId(userId: number, email: string, type: JobType, upstreamId: string | null, rowId: number): string {
  const tail = upstreamId ?? `${PENDING}${rowId}`;
  return `user:${userId}-pixverse:${email}-${type}:${tail}`;
}

export function formatQueuedJobId(userId: number, pinnedEmail: string | null, type: JobType, rowId: number): string {
  return `user:${userId}-pixverse:${pinnedEmail ?? QUEUE_EMAIL}-${type}:${QUEUED}${rowId}`;
}

/** Accepts raw and percent-encoded ids. Returns null when the text is not a job id. */
export function parseJobId(text: string): JobRef | null {
  let raw = text;
  if (raw.includes('%')) {
    try {
      raw = decodeURIComponent(raw);
    } catch {
      return null;
    }
  }
  const match = ID_PATTERN.exec(raw.trim());
  if (!match) return null;
  const userId = Number(match[1]);
  const email = match[2]!;
  const type = match[3] as JobType;
  const tail = match[4]!;
  if (!Number.isSafeInteger(userId) || email.length > 320) return null;
  if (tail.startsWith(PENDING)) {
    return { userId, email, type, upstreamId: null, rowId: Number(tail.slice(PENDING.length)), queued: false };
  }
  if (tail.startsWith(QUEUED)) {
    return { userId, email, type, upstreamId: null, rowId: Number(tail.slice(QUEUED.length)), queued: true };
  }
  return { userId, email, type, upstreamId: tail.replace(/^0+(?=\d)/, ''), rowId: null, queued: false };
}

/** The id a client knows a job by, stable for the job's whole life. */
export function publicJobId(job: Pick<Job, 'id' | 'userId' | 'email' | 'pinnedEmail' | 'type' | 'upstreamId' | 'queuedAt'>): string {
  if (job.queuedAt !== null) return formatQueuedJobId(job.userId, job.pinnedEmail, job.type, job.id);
  return formatJobId(job.userId, job.email ?? job.pinnedEmail ?? QUEUE_EMAIL, job.type, job.upstreamId, job.id);
}
