/**
 * A deterministic, time-scaled workload: job durations drawn once (seeded) from the simulator's
 * model-based lognormal per output quality (src/providers/pixverse/simulator/latency.ts: median and p90 per quality from
 * DEFAULT_LATENCY, σ = ln(p90/median) / z₀.₉), multiplied by a time-scale factor, and written into
 * every job as `#sim:duration=<ms>` so the simulator runs exactly that long. Every variant of a bench
 * (Pixgate with its queue, a retrying client, the ideal bound) therefore does the same work.
 */
import { DEFAULT_POLL_POLICY, nextPollAt, type PollPolicy } from '../../src/domain/policy/pollSchedule.ts';
import { learnDuration, priorBelief, type DurationBelief } from '../../src/domain/policy/durations.ts';
import { DEFAULT_LATENCY } from '../../src/providers/pixverse/simulator/index.ts';

export const QUALITIES = ['360p', '540p', '720p', '1080p'] as const;
export type Quality = (typeof QUALITIES)[number];
/** Share of each quality in the mix (roughly what a video product sends). */
const QUALITY_MIX: Record<Quality, number> = { '360p': 0.15, '540p': 0.3, '720p': 0.35, '1080p': 0.2 };
const Z90 = 1.2815515655446004;

export interface WorkJob {
  index: number;
  quality: Quality;
  /** Scaled duration the simulator will run the job for. */
  durationMs: number;
}

export interface Workload {
  jobs: WorkJob[];
  /** maxJobs of account i (and the simulator's limit for its key). */
  maxJobs: number[];
  slots: number;
  timeScale: number;
  totalWorkMs: number;
  longestMs: number;
}

/** mulberry32, as the simulator uses. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pickQuality(u: number): Quality {
  let acc = 0;
  for (const q of QUALITIES) {
    acc += QUALITY_MIX[q];
    if (u < acc) return q;
  }
  return '720p';
}

/** Mean real duration at `quality` (lognormal: median × e^(σ²/2)). */
export function meanRealDurationMs(quality: Quality): number {
  const base = DEFAULT_LATENCY[quality]!;
  const sigma = Math.log(base.p90Ms / base.medianMs) / Z90;
  return base.medianMs * Math.exp((sigma * sigma) / 2);
}

/** Real (unscaled) duration of a 5 s video without audio at `quality`: the simulator's lognormal. */
export function realDurationMs(quality: Quality, u1: number, u2: number): number {
  const base = DEFAULT_LATENCY[quality]!;
  const sigma = Math.log(base.p90Ms / base.medianMs) / Z90;
  const z = Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  return base.medianMs * Math.exp(sigma * z);
}

/**
 * `jobs` jobs over `accounts` accounts whose maxJobs cycle 1, 2, … 8 (mean 4.5 slots per account).
 * Durations never exceed 10 real minutes (PixVerse's auto-release), scaled by `timeScale`.
 */
export function makeWorkload(opts: {
  jobs: number;
  accounts: number;
  timeScale: number;
  seed: number;
  maxJobs?: (i: number) => number;
}): Workload {
  const draw = rng(opts.seed);
  const jobs: WorkJob[] = [];
  let total = 0;
  let longest = 0;
  for (let index = 0; index < opts.jobs; index++) {
    const quality = pickQuality(draw());
    const real = Math.min(realDurationMs(quality, draw(), draw()), 599_000);
    const durationMs = Math.max(1, Math.round(real * opts.timeScale));
    jobs.push({ index, quality, durationMs });
    total += durationMs;
    longest = Math.max(longest, durationMs);
  }
  const maxJobs = Array.from({ length: opts.accounts }, (_, i) => opts.maxJobs?.(i) ?? 1 + (i % 8));
  return {
    jobs,
    maxJobs,
    slots: maxJobs.reduce((a, b) => a + b, 0),
    timeScale: opts.timeScale,
    totalWorkMs: total,
    longestMs: longest,
  };
}

/** The ideal lower bound on the makespan: max(total work ÷ total slots, longest job). */
export function idealMakespanMs(w: Workload): number {
  return Math.max(w.totalWorkMs / w.slots, w.longestMs);
}

/**
 * Makespan of a list schedule with no overhead: jobs in submission order, each started the instant
 * any slot is free. A slot is held for `held(job)` (default: the job's duration; with polling, until
 * the poll that sees it finished). Any real FIFO dispatcher is at best this fast; its excess over
 * the lower bound is the tail effect of not knowing durations in advance.
 */
export function listScheduleMs(
  w: Workload,
  held: (job: WorkJob) => number = (job) => job.durationMs,
): number {
  // Binary min-heap of slot free times.
  const heap = new Float64Array(w.slots);
  const size = w.slots;
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && heap[l]! < heap[m]!) m = l;
      if (r < size && heap[r]! < heap[m]!) m = r;
      if (m === i) return;
      const t = heap[i]!;
      heap[i] = heap[m]!;
      heap[m] = t;
      i = m;
    }
  };
  let end = 0;
  for (const job of w.jobs) {
    const start = heap[0]!;
    heap[0] = start + held(job);
    down(0);
    end = Math.max(end, start + job.durationMs);
  }
  return end;
}

/**
 * The gateway's queue order (least laxity first: queued time − expected run time, see
 * src/domain/policy/queueOrder.ts) as a list schedule with instant completion signals, for a batch queued
 * all at once: longest expected (per-quality mean) first, submission order within a quality.
 * With only the quality known in advance, no online scheduler does much better.
 */
export function laxityMakespanMs(w: Workload): number {
  const order = [...w.jobs].sort(
    (a, b) => meanRealDurationMs(b.quality) - meanRealDurationMs(a.quality) || a.index - b.index,
  );
  return listScheduleMs({ ...w, jobs: order });
}

/** FIFO list schedule with instant completion signals. */
export function greedyMakespanMs(w: Workload): number {
  return listScheduleMs(w);
}

/** The default poll policy with its intervals × the time scale (as servers/gateway.ts --time-scale). */
export function scaledPollPolicy(timeScale: number): PollPolicy {
  const p = DEFAULT_POLL_POLICY;
  return {
    ...p,
    minIntervalMs: Math.round(p.minIntervalMs * timeScale),
    maxIntervalMs: Math.round(p.maxIntervalMs * timeScale),
    maxFirstPollMs: Math.round(p.maxFirstPollMs * timeScale),
  };
}

/** Times (ms from submit) of the polls the policy makes on a job of `durationMs`; the last one sees it finished. */
export function pollTimes(durationMs: number, belief: DurationBelief, policy: PollPolicy): number[] {
  const times: number[] = [];
  let at = nextPollAt({ startedAt: 0, polls: 0, duration: belief }, policy, 0);
  times.push(at);
  while (at < durationMs) {
    at = nextPollAt({ startedAt: 0, polls: times.length, duration: belief }, policy, at);
    times.push(at);
  }
  return times;
}

/** Time from submit to the first poll at or after `durationMs`. */
export function pollDiscoveryMs(durationMs: number, belief: DurationBelief, policy: PollPolicy): number {
  const times = pollTimes(durationMs, belief, policy);
  return times[times.length - 1]!;
}

/** Polls the policy spends on a job of `durationMs` (the last one sees it finished). */
export function pollCount(durationMs: number, belief: DurationBelief, policy: PollPolicy): number {
  return pollTimes(durationMs, belief, policy).length;
}

/**
 * What the gateway's estimator converges to per quality: the durations.ts belief after every job
 * of the workload, in submission order (the order they roughly finish in).
 */
export function learnedBelief(w: Workload): (job: WorkJob) => DurationBelief {
  const beliefs = new Map<Quality, DurationBelief>();
  for (const job of w.jobs)
    beliefs.set(
      job.quality,
      learnDuration(
        beliefs.get(job.quality) ?? priorBelief(meanRealDurationMs(job.quality) * w.timeScale),
        job.durationMs,
      ),
    );
  return (job) => beliefs.get(job.quality)!;
}

/**
 * What polling alone costs, with no other overhead: the FIFO list schedule where a slot frees only
 * when the poll policy (with the learned belief per quality) first sees the job finished; plus the
 * slot utilisation and polls per job that policy implies.
 */
export function pollModel(
  w: Workload,
  policy: PollPolicy,
): { makespanMs: number; utilisation: number; pollsPerJob: number; meanDiscoveryMs: number } {
  const belief = learnedBelief(w);
  let busy = 0;
  let held = 0;
  let polls = 0;
  for (const job of w.jobs) {
    busy += job.durationMs;
    held += pollDiscoveryMs(job.durationMs, belief(job), policy);
    polls += pollCount(job.durationMs, belief(job), policy);
  }
  return {
    makespanMs: listScheduleMs(w, (job) => pollDiscoveryMs(job.durationMs, belief(job), policy)),
    utilisation: busy / held,
    pollsPerJob: polls / w.jobs.length,
    meanDiscoveryMs: (held - busy) / w.jobs.length,
  };
}

/** The prompt carries the job's index (for the simulator trace) and its duration marker. */
export function jobPrompt(tag: string, job: WorkJob): string {
  return `bench ${tag} job-${job.index} #sim:duration=${job.durationMs}`;
}

/** useapi body of POST /v2/pixverse/videos/create for one job. */
export function createBody(tag: string, job: WorkJob, queue: boolean): string {
  return JSON.stringify({
    prompt: jobPrompt(tag, job),
    model: 'v6',
    quality: job.quality,
    duration: 5,
    queue,
  });
}

export function describeWorkload(w: Workload): string {
  const durations = w.jobs.map((j) => j.durationMs).sort((a, b) => a - b);
  const q = (p: number) => durations[Math.min(durations.length - 1, Math.floor(p * durations.length))]!;
  const ms = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`);
  return (
    `${w.jobs.length.toLocaleString('en-US')} jobs, ${w.maxJobs.length} accounts (maxJobs 1–8, ${w.slots} slots), ` +
    `durations ×${w.timeScale}: p50 ${ms(q(0.5))} p90 ${ms(q(0.9))} max ${ms(w.longestMs)} (real p50 ${(q(0.5) / w.timeScale / 1000).toFixed(0)} s), ` +
    `work ${ms(w.totalWorkMs)} slot-time → ideal ${ms(idealMakespanMs(w))}, FIFO list schedule ${ms(greedyMakespanMs(w))}`
  );
}
