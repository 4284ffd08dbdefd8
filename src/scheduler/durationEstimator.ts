/**
 * Expected run time of a job, used to time its polls and to estimate Retry-After.
 * Starts from the provider's static defaults (per job type, quality, length …) and then learns
 * from jobs it saw finish (exponentially weighted, per the provider's run class), so the
 * schedule adapts to the real upstream, or to a simulator running at another speed.
 */
import type { JobType } from '../domain/job.ts';
import type { Provider, RunTimeInput } from './provider.ts';

const WEIGHT = 0.2;

/** The provider's part of the estimate. */
export type RunTimeDefaults = Pick<Provider, 'runClass' | 'defaultRunMs'>;

/** Without a provider's defaults (a fixed estimate, tests): one class per job type, one minute each. */
const FLAT: RunTimeDefaults = { runClass: (job) => job.type, defaultRunMs: () => 60_000 };

export class DurationEstimator {
  private readonly learned = new Map<string, number>();

  /** `fixedMs` overrides everything (tests and the demo simulator know their speed). */
  constructor(
    private readonly fixedMs: number | null = null,
    private readonly defaults: RunTimeDefaults = FLAT,
  ) {}

  expected(job: RunTimeInput): number {
    if (this.fixedMs !== null) return this.fixedMs;
    return this.learned.get(this.defaults.runClass(job)) ?? this.defaults.defaultRunMs(job);
  }

  /** A job of `type` with nothing else known about it (queue-wide estimates). */
  typical(type: JobType): number {
    return this.expected({ type, upstream: { op: '', params: {} } });
  }

  /** Records how long a finished job actually ran. */
  observe(job: RunTimeInput, ranMs: number): void {
    if (!(ranMs > 0)) return;
    const key = this.defaults.runClass(job);
    const previous = this.learned.get(key);
    this.learned.set(key, previous === undefined ? ranMs : Math.round(previous * (1 - WEIGHT) + ranMs * WEIGHT));
  }
}
