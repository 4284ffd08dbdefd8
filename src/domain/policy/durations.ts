/**
 * What the gateway believes about how long a kind of job runs: a log-normal distribution (the provider's
 * run times are log-normal per quality: median and p90 differ by a factor of about 1.7, σ ≈ 0.4),
 * learned from the jobs seen finishing. The poll schedule reads the whole distribution; queue ranks
 * and estimates read its mean.
 */

/** A log-normal belief: ln(run time in ms) ~ N(mu, sigma²). */
export interface DurationBelief {
  mu: number;
  sigma: number;
  /** Observations behind the belief (0: a prior). */
  seen: number;
}

/**
 * Spread assumed before any job of the kind finished, and kept as a floor on what is learned: a
 * run of identical durations (a warm-up, a simulator at a fixed speed) must not convince the
 * schedule that run times never vary.
 */
export const PRIOR_SIGMA = 0.4;
const MIN_SIGMA = 0.15;
const MAX_SIGMA = 1.5;
/** Weight of each new observation after the first: enough memory that one odd job hardly moves the schedule (0.2 made the learned centre jitter by ±0.13 in log terms and cost the bench 0.3 polls per job), still short enough to follow a drifting upstream. */
const LEARN_WEIGHT = 0.05;

/** A belief centred on `meanMs` with the prior spread (no observation yet). */
export function priorBelief(meanMs: number, sigma = PRIOR_SIGMA): DurationBelief {
  return { mu: Math.log(Math.max(1, meanMs)) - (sigma * sigma) / 2, sigma, seen: 0 };
}

/**
 * The belief after one more job of the kind ran `ranMs`. The first finished job replaces the static
 * default's centre at once; later ones weigh LEARN_WEIGHT each. Not a plain average of the first
 * few: in a batch the first jobs to finish are the short ones, and averaging them pulled the centre
 * so low that every later job was polled early and often.
 * The spread is an exponentially weighted mean of squared log deviations, started at the prior.
 */
export function learnDuration(belief: DurationBelief, ranMs: number): DurationBelief {
  if (!(ranMs > 0) || !Number.isFinite(ranMs)) return belief;
  const x = Math.log(ranMs);
  const mu = belief.seen === 0 ? x : belief.mu + LEARN_WEIGHT * (x - belief.mu);
  // A prior's centre is a static default, possibly far from this upstream's speed: the first
  // observation moves the centre only, or one fast simulator job would read as a huge spread.
  if (belief.seen === 0) return { mu, sigma: belief.sigma, seen: 1 };
  const deviation = x - belief.mu;
  const variance = (1 - LEARN_WEIGHT) * belief.sigma * belief.sigma + LEARN_WEIGHT * deviation * deviation;
  const sigma = Math.min(MAX_SIGMA, Math.max(MIN_SIGMA, Math.sqrt(variance)));
  return { mu, sigma, seen: belief.seen + 1 };
}

export function medianMs(belief: DurationBelief): number {
  return Math.exp(belief.mu);
}

export function meanMs(belief: DurationBelief): number {
  return Math.exp(belief.mu + (belief.sigma * belief.sigma) / 2);
}

// ── the standard normal, for quantiles of the belief ─────────────────────

/** Φ(z), |error| < 1.5e-7 (Abramowitz and Stegun 7.1.26). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** z with Φ(z) = p, by bisection on normalCdf (called rarely; exact enough for poll times). */
export function normalQuantile(p: number): number {
  let lo = -8;
  let hi = 8;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** P(run time ≤ ms) under the belief. */
export function durationCdf(belief: DurationBelief, ms: number): number {
  return ms <= 0 ? 0 : normalCdf((Math.log(ms) - belief.mu) / belief.sigma);
}
