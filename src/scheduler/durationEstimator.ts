/**
 * What the gateway believes a job will run, used to time its polls and to estimate Retry-After.
 * Starts from the provider's static defaults (per job type, quality, length …) and then learns the
 * distribution from jobs it saw finish (domain/policy/durations.ts), per the provider's run class,
 * so the schedule adapts to the real upstream, or to a simulator running at another speed.
 */
import type { JobType } from '../domain/job.ts';
import { learnDuration, meanMs, priorBelief, type DurationBelief } from '../domain/policy/durations.ts';
import type { Provider, RunTimeInput } from './provider.ts';

/** The provider's part of the estimate. */
export type RunTimeDefaults = Pick<Provider, 'runClass' | 'defaultRunMs'>;

/** Without a provider's defaults (a fixed estimate, tests): one class per job type, one minute each. */
const FLAT: RunTimeDefaults = { runClass: (job) => job.type, defaultRunMs: () => 60_000 };

export class DurationEstimator {
  private readonly learned = new Map<string, DurationBelief>();

  /** `fixedMs` overrides everything (tests and the demo simulator know their speed). */
  constructor(
    private readonly fixedMs: number | null = null,
    private readonly defaults: RunTimeDefaults = FLAT,
  ) {}

  /** The run-time distribution believed for jobs like this one. */
  belief(job: RunTimeInput): DurationBelief {
    if (this.fixedMs !== null) return priorBelief(this.fixedMs);
    return this.learned.get(this.defaults.runClass(job)) ?? priorBelief(this.defaults.defaultRunMs(job));
  }

  /** Expected (mean) run time. */
  expected(job: RunTimeInput): number {
    if (this.fixedMs !== null) return this.fixedMs;
    return Math.round(meanMs(this.belief(job)));
  }

  /** A job of `type` with nothing else known about it (queue-wide estimates). */
  typical(type: JobType): number {
    return this.expected({ type, upstream: { op: '', params: {} } });
  }

  /** Records how long a finished job actually ran. */
  observe(job: RunTimeInput, ranMs: number): void {
    if (!(ranMs > 0) || this.fixedMs !== null) return;
    this.learned.set(this.defaults.runClass(job), learnDuration(this.belief(job), ranMs));
  }
}
