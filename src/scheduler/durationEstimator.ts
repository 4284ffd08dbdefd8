/**
 * What the gateway believes a job will run, used to time its polls and to estimate Retry-After.
 * Starts from static defaults per job type and quality (PixVerse's published ranges) and then
 * learns the distribution from jobs it saw finish (domain/policy/durations.ts), so the schedule
 * adapts to the real upstream, or to a simulator running at another speed.
 */
import type { Job, JobType } from '../domain/job.ts';
import { learnDuration, meanMs, priorBelief, type DurationBelief } from '../domain/policy/durations.ts';

const DEFAULTS: Record<JobType, number> = { video: 60_000, image: 15_000, music: 45_000 };
const QUALITY_FACTOR: Record<string, number> = { '360p': 0.6, '540p': 0.75, '720p': 1, '1080p': 1.5 };

export class DurationEstimator {
  private readonly learned = new Map<string, DurationBelief>();

  /** `fixedMs` overrides everything (tests and the demo simulator know their speed). */
  constructor(private readonly fixedMs: number | null = null) {}

  private key(job: Pick<Job, 'type' | 'upstream'>): string {
    const quality = job.upstream.params['quality'];
    return `${job.type}:${typeof quality === 'string' ? quality : ''}`;
  }

  private staticDefault(job: Pick<Job, 'type' | 'upstream'>): number {
    const quality = job.upstream.params['quality'];
    const factor = typeof quality === 'string' ? (QUALITY_FACTOR[quality] ?? 1) : 1;
    const duration = job.upstream.params['duration'];
    const lengthFactor = typeof duration === 'number' ? 1 + 0.08 * (duration - 5) : 1;
    return Math.round(DEFAULTS[job.type] * factor * lengthFactor);
  }

  /** The run-time distribution believed for jobs like this one. */
  belief(job: Pick<Job, 'type' | 'upstream'>): DurationBelief {
    if (this.fixedMs !== null) return priorBelief(this.fixedMs);
    return this.learned.get(this.key(job)) ?? priorBelief(this.staticDefault(job));
  }

  /** Expected (mean) run time. */
  expected(job: Pick<Job, 'type' | 'upstream'>): number {
    if (this.fixedMs !== null) return this.fixedMs;
    return Math.round(meanMs(this.belief(job)));
  }

  /** Records how long a finished job actually ran. */
  observe(job: Pick<Job, 'type' | 'upstream'>, ranMs: number): void {
    if (!(ranMs > 0) || this.fixedMs !== null) return;
    this.learned.set(this.key(job), learnDuration(this.belief(job), ranMs));
  }
}
