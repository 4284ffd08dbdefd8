/**
 * When to ask the provider about a running job. A generation takes about as long as its
 * expected duration, so the first look is just before that and later looks back off
 * geometrically: most jobs finish within 2-3 polls instead of one poll every 5 s.
 */
export interface PollPolicy {
  /** Fraction of the expected duration at which the first poll happens. */
  firstAt: number;
  /** Second poll waits this fraction of the expected duration; each later one grows by `growth`. */
  step: number;
  growth: number;
  minIntervalMs: number;
  maxIntervalMs: number;
}

export const DEFAULT_POLL_POLICY: PollPolicy = {
  firstAt: 0.9,
  step: 0.15,
  growth: 1.6,
  minIntervalMs: 1000,
  maxIntervalMs: 30_000,
};

function clamp(value: number, policy: PollPolicy): number {
  return Math.min(policy.maxIntervalMs, Math.max(policy.minIntervalMs, Math.round(value)));
}

/** Delay from submit to the first poll. */
export function firstPollDelay(expectedMs: number, policy: PollPolicy): number {
  return clamp(expectedMs * policy.firstAt, policy);
}

/** Delay after the `pollCount`-th poll (1-based) that found the job still running. */
export function nextPollDelay(pollCount: number, expectedMs: number, policy: PollPolicy): number {
  const exponent = Math.max(0, pollCount - 1);
  return clamp(expectedMs * policy.step * policy.growth ** exponent, policy);
}

/**
 * The policy for a job whose end the provider reports by webhook: polls only back the webhook up
 * (a lost delivery, a misrouted URL), so the first look comes well after the job should have ended
 * — at 2.5× the expectation fewer than 1% of jobs are still running — and later looks thin out
 * faster and further. Derived from the configured policy so its minimum and scale still apply.
 */
export function webhookBackstop(policy: PollPolicy): PollPolicy {
  return { ...policy, firstAt: 2.5, step: 1, growth: 2, maxIntervalMs: policy.maxIntervalMs * 4 };
}
