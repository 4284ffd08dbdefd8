/** Maps an upstream status to the job's terminal outcome, or null while it is still running. */
import type { JobOutcome } from '../domain/job.ts';
import type { StatusResult } from './provider.ts';

export function outcomeOf(status: StatusResult): JobOutcome | null {
  const base = { upstreamStatus: status.code, result: status.raw };
  switch (status.state) {
    case 'pending':
      return null;
    case 'completed':
      return { ...base, state: 'completed', resultUrl: status.url };
    case 'moderated':
      return { ...base, state: 'moderated', error: 'PixVerse content moderation rejected the generation' };
    case 'deleted':
      return { ...base, state: 'failed', error: 'the generation was deleted at PixVerse' };
    case 'failed':
      return { ...base, state: 'failed', error: 'PixVerse reported the generation failed' };
  }
}

/** How long the job ran according to PixVerse's own timestamps, when it reports them. */
export function upstreamRunMs(status: StatusResult): number | null {
  const created = Date.parse(String(status.raw['create_time'] ?? ''));
  const modified = Date.parse(String(status.raw['modify_time'] ?? ''));
  return Number.isFinite(created) && Number.isFinite(modified) && modified > created ? modified - created : null;
}
