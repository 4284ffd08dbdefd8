/**
 * Public job ids in useapi's shape: user:<userId>-<provider>:<email>-<type>:<tail>.
 * The tail is the provider's job id, in the form the provider gives it (the provider alone knows
 * what its ids look like and reads the tail back; see Provider.parseIdTail).
 * Emails may contain '-' and ':' in odd cases, so ids are parsed from the right.
 * While a job is still being submitted it has no upstream id yet; it is then named
 * by its row as `pending-<rowId>` so the executing list can show every slot holder.
 * A job that entered through the queue is named `q<rowId>` for its whole life (its account
 * is chosen later), with its pinned email or `queue` in the email position.
 */
import { JOB_TYPES, type Job, type JobType } from './job.ts';

export interface JobRef {
  userId: number;
  /** The provider segment of the id. */
  provider: string;
  email: string;
  type: JobType;
  /** The tail as written when it names an upstream id (not yet read by the provider), or null for a pending or queued row. */
  upstreamId: string | null;
  /** Row id when the id is a pending or queued one. */
  rowId: number | null;
  /** True for the queue form, whose email part is the pinned email or `queue`. */
  queued: boolean;
}

const PENDING = 'pending-';
const QUEUED = 'q';
export const QUEUE_EMAIL = 'queue';
/** A provider id is a short lower-case name, so the segment before the email is unambiguous. */
const PROVIDER = '[a-z][a-z0-9]{0,31}';
/** Any provider's tail: ids (digits, UUIDs, resource paths) never hold spaces or '%'. */
const TAIL = '[A-Za-z0-9._~/-]{1,200}';
const ID_PATTERN = new RegExp(`^user:(\\d{1,15})-(${PROVIDER}):(.+)-(${JOB_TYPES.join('|')}):(${TAIL})$`);
const ROW_TAIL = new RegExp(`^(${PENDING}|${QUEUED})(\\d{1,15})$`);

export function formatJobId(
  userId: number,
  provider: string,
  email: string,
  type: JobType,
  upstreamId: string | null,
  rowId: number,
): string {
  const tail = upstreamId ?? `${PENDING}${rowId}`;
  return `user:${userId}-${provider}:${email}-${type}:${tail}`;
}

export function formatQueuedJobId(
  userId: number,
  provider: string,
  pinnedEmail: string | null,
  type: JobType,
  rowId: number,
): string {
  return `user:${userId}-${provider}:${pinnedEmail ?? QUEUE_EMAIL}-${type}:${QUEUED}${rowId}`;
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
  const provider = match[2]!;
  const email = match[3]!;
  const type = match[4] as JobType;
  const tail = match[5]!;
  if (!Number.isSafeInteger(userId) || email.length > 320) return null;
  const row = ROW_TAIL.exec(tail);
  if (row)
    return {
      userId,
      provider,
      email,
      type,
      upstreamId: null,
      rowId: Number(row[2]),
      queued: row[1] === QUEUED,
    };
  // `pending-…` and `q…` are the engine's; anything else of that shape is not a job id.
  if (tail.startsWith(PENDING) || /^q\d/.test(tail)) return null;
  return { userId, provider, email, type, upstreamId: tail, rowId: null, queued: false };
}

/** The id a client knows a job by, stable for the job's whole life. */
export function publicJobId(
  job: Pick<Job, 'id' | 'userId' | 'provider' | 'email' | 'pinnedEmail' | 'type' | 'upstreamId' | 'queuedAt'>,
): string {
  if (job.queuedAt !== null)
    return formatQueuedJobId(job.userId, job.provider, job.pinnedEmail, job.type, job.id);
  return formatJobId(
    job.userId,
    job.provider,
    job.email ?? job.pinnedEmail ?? QUEUE_EMAIL,
    job.type,
    job.upstreamId,
    job.id,
  );
}
