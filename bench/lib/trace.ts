/**
 * What the simulator saw (servers/simulator.ts --trace): every create and result poll with its time
 * on the simulator's clock, key, job id and the instance that sent it. From it, per job: when it
 * started, when it really ended (start + its `#sim:duration`), when the gateway first got a final
 * status for it, and how many polls it cost; per key, how long a slot stayed unused.
 *
 * Slot gaps, per key (FIFO matching): while work is waiting, the (limit + k)-th create on a key
 * needs the k-th of its slots to free first, so
 *   - idle gap k     = create[limit + k] − k-th real job end on that key (poll discovery + dispatch)
 *   - dispatch gap k = create[limit + k] − k-th final poll answer on that key (the gateway knew the
 *     slot was free; what remains is its own finish → dispatch → submit path)
 * Only ends followed by another create on the key count, i.e. ends while work was still waiting.
 */
import { call, expectStatus } from './http.ts';

export interface SimTrace {
  t: number[];
  kind: string[];
  key: string[];
  tag: string[];
  id: string[];
  status: number[];
  job: number[];
  /** Webhook attempts by outcome since the trace was cleared (both runs of a shared simulator). */
  webhookOutcomes?: Record<string, number>;
}

export async function fetchTrace(simUrl: string): Promise<SimTrace> {
  return expectStatus('simulator trace', call<SimTrace>(simUrl, 'GET', '/_bench/trace'), 200);
}

export async function clearTrace(simUrl: string): Promise<void> {
  await expectStatus('clear simulator trace', call(simUrl, 'POST', '/_bench/trace/clear'), 200);
}

export interface TracedJob {
  key: string;
  id: string;
  job: number;
  /** Instance tag that submitted it. */
  tag: string;
  start: number;
  /** start + the job's duration (when the simulator freed its slot). */
  end: number;
  /** First poll answered with a final status (1, 7, 8), or null. */
  finalAt: number | null;
  finalTag: string | null;
  polls: number;
}

const FINAL = new Set([1, 6, 7, 8]);

export interface TraceSummary {
  jobs: TracedJob[];
  creates: number;
  refusedCreates: number;
  polls: number;
  /** Polls of ids this trace never saw created (should be 0). */
  strayPolls: number;
}

/** Per-job view of a trace, restricted to `keys`; `durationOf(job label)` gives each job's duration. */
export function summarize(
  trace: SimTrace,
  keys: (key: string) => boolean,
  durationOf: (job: number) => number | undefined,
): TraceSummary {
  const byId = new Map<string, TracedJob>();
  let refusedCreates = 0;
  let polls = 0;
  let strayPolls = 0;
  for (let i = 0; i < trace.t.length; i++) {
    const key = trace.key[i]!;
    if (!keys(key)) continue;
    const kind = trace.kind[i];
    if (kind === 'c') {
      const label = trace.job[i]!;
      const duration = durationOf(label);
      if (duration === undefined) throw new Error(`trace: create of unknown job label ${label} on ${key}`);
      const start = trace.t[i]!;
      byId.set(trace.id[i]!, {
        key,
        id: trace.id[i]!,
        job: label,
        tag: trace.tag[i]!,
        start,
        end: start + duration,
        finalAt: null,
        finalTag: null,
        polls: 0,
      });
    } else if (kind === 'x') refusedCreates++;
    else if (kind === 'p') {
      polls++;
      const job = byId.get(trace.id[i]!);
      if (!job) {
        strayPolls++;
        continue;
      }
      job.polls++;
      if (job.finalAt === null && FINAL.has(trace.status[i]!)) {
        job.finalAt = trace.t[i]!;
        job.finalTag = trace.tag[i]!;
      }
    }
  }
  return { jobs: [...byId.values()], creates: byId.size, refusedCreates, polls, strayPolls };
}

export interface SlotGap {
  ms: number;
  /** When the slot was seen free (the final poll's answer). */
  at: number;
  /** The freeing poll and the next create came from different instances. */
  cross: boolean;
}

export interface SlotGaps {
  /** create[limit+k] − k-th real end on the key. */
  idle: number[];
  /** create[limit+k] − k-th final poll answer on the key. */
  dispatch: SlotGap[];
}

export function slotGaps(jobs: TracedJob[], limitOf: (key: string) => number): SlotGaps {
  const perKey = new Map<string, TracedJob[]>();
  for (const job of jobs) {
    let list = perKey.get(job.key);
    if (!list) perKey.set(job.key, (list = []));
    list.push(job);
  }
  const idle: number[] = [];
  const dispatch: SlotGap[] = [];
  for (const [key, list] of perKey) {
    const limit = limitOf(key);
    const creates = [...list].sort((a, b) => a.start - b.start);
    const ends = list.map((j) => j.end).sort((a, b) => a - b);
    const finals = list.filter((j) => j.finalAt !== null).sort((a, b) => a.finalAt! - b.finalAt!);
    for (let k = 0; limit + k < creates.length; k++) {
      const next = creates[limit + k]!;
      if (k < ends.length) idle.push(next.start - ends[k]!);
      if (k < finals.length)
        dispatch.push({
          ms: next.start - finals[k]!.finalAt!,
          at: finals[k]!.finalAt!,
          cross: next.tag !== finals[k]!.finalTag,
        });
    }
  }
  return { idle, dispatch };
}

/** Busy slot-time ÷ available slot-time over [from, to], from the jobs' real start and end. */
export function utilisation(jobs: TracedJob[], slots: number, from: number, to: number): number {
  if (!(to > from)) return NaN;
  let busy = 0;
  for (const job of jobs) busy += Math.max(0, Math.min(job.end, to) - Math.max(job.start, from));
  return busy / (slots * (to - from));
}

export function quantile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export function mean(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

export const fmtMs = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : '-');

export function describeGaps(values: number[]): string {
  return `p50 ${fmtMs(quantile(values, 0.5))} ms  p90 ${fmtMs(quantile(values, 0.9))} ms  p99 ${fmtMs(quantile(values, 0.99))} ms  max ${fmtMs(quantile(values, 1))} ms  (n=${values.length})`;
}
