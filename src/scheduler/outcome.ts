/** Maps an upstream status to the job's terminal outcome, or null while it is still running. */
import type { JobOutcome } from '../domain/job.ts';
import type { StatusResult } from './provider.ts';

/** `provider` is the provider's display name, for the error a client reads. */
export function outcomeOf(status: StatusResult, provider: string): JobOutcome | null {
  const base = { upstreamStatus: status.code, result: status.raw };
  switch (status.state) {
    case 'pending':
      return null;
    case 'completed':
      return { ...base, state: 'completed', resultUrl: status.url };
    case 'moderated':
      return { ...base, state: 'moderated', error: `${provider} content moderation rejected the generation` };
    case 'deleted':
      return { ...base, state: 'failed', error: `the generation was deleted at ${provider}` };
    case 'failed':
      return { ...base, state: 'failed', error: `${provider} reported the generation failed` };
  }
}
