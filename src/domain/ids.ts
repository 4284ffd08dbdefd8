/**
 * Public job ids in useapi's shape: user:<userId>-pixverse:<email>-<type>:<upstreamId>.
 * Emails may contain '-' and ':' in odd cases, so ids are parsed from the right.
 * While a job is still being submitted it has no upstream id yet; it is then named
 * by its row as `pending-<rowId>` so the executing list can show every slot holder.
 */
import { JOB_TYPES, type JobType } from './job.ts';

export interface JobRef {
  userId: number;
  email: string;
  type: JobType;
  /** Upstream id (decimal digits) or null when the id names a pending row. */
  upstreamId: string | null;
  /** Row id when the id is a pending one. */
  rowId: number | null;
}

const PENDING = 'pending-';
const ID_PATTERN = new RegExp(`^user:(\\d{1,15})-pixverse:(.+)-(${JOB_TYPES.join('|')}):(\\d{1,30}|${PENDING}\\d{1,15})$`);

export function formatJobId(userId: number, email: string, type: JobType, upstreamId: string | null, rowId: number): string {
  const tail = upstreamId ?? `${PENDING}${rowId}`;
  return `user:${userId}-pixverse:${email}-${type}:${tail}`;
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
    return { userId, email, type, upstreamId: null, rowId: Number(tail.slice(PENDING.length)) };
  }
  return { userId, email, type, upstreamId: tail.replace(/^0+(?=\d)/, ''), rowId: null };
}
