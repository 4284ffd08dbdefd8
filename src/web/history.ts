/**
 * The last hour of a tenant's activity, per instance and in memory: jobs finished per minute
 * (counted from this process's final events) and queue depth and running jobs (sampled from the
 * store, so they are cluster-wide). Sixty one-minute buckets per tenant; a restart starts empty.
 */
export const BUCKET_MS = 60_000;
export const BUCKETS = 60;

interface Bucket {
  /** Start of the minute (epoch ms). */
  start: number;
  completed: number;
  failed: number;
  /** Largest sample seen in the minute, and the last one (carried into minutes without samples). */
  queueMax: number | null;
  queueLast: number | null;
  runningMax: number | null;
  runningLast: number | null;
}

export interface HistorySeries {
  bucketMs: number;
  /** Start of the first bucket (epoch ms); bucket i covers start + i·bucketMs. */
  start: number;
  completed: number[];
  failed: number[];
  queueDepth: number[];
  running: number[];
}

export class History {
  private readonly tenants = new Map<number, Bucket[]>();

  /** A job of the tenant ended; `ok` false for failed, moderated and timed-out ones. */
  finished(userId: number, ok: boolean, at: number): void {
    const bucket = this.bucket(userId, at);
    if (ok) bucket.completed++;
    else bucket.failed++;
  }

  /** The tenant is active: keep sampling it for the next hour. */
  touch(userId: number, at: number): void {
    this.bucket(userId, at);
  }

  sample(userId: number, queueDepth: number, running: number, at: number): void {
    const bucket = this.bucket(userId, at);
    bucket.queueMax = Math.max(bucket.queueMax ?? 0, queueDepth);
    bucket.queueLast = queueDepth;
    bucket.runningMax = Math.max(bucket.runningMax ?? 0, running);
    bucket.runningLast = running;
  }

  /** Tenants with anything in the last hour. */
  tenantsSeen(now: number): number[] {
    const from = minuteOf(now) - (BUCKETS - 1) * BUCKET_MS;
    const seen: number[] = [];
    for (const [userId, buckets] of this.tenants) {
      if (buckets.some((b) => b.start >= from)) seen.push(userId);
      else this.tenants.delete(userId);
    }
    return seen;
  }

  series(userId: number, now: number): HistorySeries {
    const start = minuteOf(now) - (BUCKETS - 1) * BUCKET_MS;
    const byStart = new Map((this.tenants.get(userId) ?? []).map((b) => [b.start, b]));
    const out: HistorySeries = {
      bucketMs: BUCKET_MS,
      start,
      completed: [],
      failed: [],
      queueDepth: [],
      running: [],
    };
    // Before the first sample the depth is unknown; drawn as 0.
    let queue = 0;
    let running = 0;
    for (const b of this.tenants.get(userId) ?? []) {
      if (b.start < start && b.queueLast !== null) {
        queue = b.queueLast;
        running = b.runningLast ?? 0;
      }
    }
    for (let i = 0; i < BUCKETS; i++) {
      const b = byStart.get(start + i * BUCKET_MS);
      out.completed.push(b?.completed ?? 0);
      out.failed.push(b?.failed ?? 0);
      out.queueDepth.push(b?.queueMax ?? queue);
      out.running.push(b?.runningMax ?? running);
      if (b?.queueLast !== undefined && b.queueLast !== null) queue = b.queueLast;
      if (b?.runningLast !== undefined && b.runningLast !== null) running = b.runningLast;
    }
    return out;
  }

  private bucket(userId: number, at: number): Bucket {
    const start = minuteOf(at);
    let buckets = this.tenants.get(userId);
    if (!buckets) this.tenants.set(userId, (buckets = []));
    let last = buckets[buckets.length - 1];
    if (!last || last.start < start) {
      last = {
        start,
        completed: 0,
        failed: 0,
        queueMax: null,
        queueLast: null,
        runningMax: null,
        runningLast: null,
      };
      buckets.push(last);
      // One more than the window: the bucket before it carries its last depth into the chart.
      if (buckets.length > BUCKETS + 1) buckets.shift();
      return last;
    }
    // A time in an older minute (clocks of callers differ slightly): count it in its own bucket if kept.
    return buckets.find((b) => b.start === start) ?? last;
  }
}

function minuteOf(at: number): number {
  return Math.floor(at / BUCKET_MS) * BUCKET_MS;
}
