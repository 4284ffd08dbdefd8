/**
 * The order of the late-binding queue, in one place: the rank a job gets when queued, the order of a
 * token's queued jobs, and fair turns across a tenant's tokens (stride scheduling with the stored
 * passes). The stores' SQL orders are spelled from QUEUE_ORDER_KEYS, and a property test checks the
 * order each database returns against compareQueued on random queues.
 *
 * Fairness model (stride scheduling, per tenant). Every token that ever queued a job has a `pass`
 * (start 0); jobs without a token share the pseudo-token key 0 with weight 1. A dispatch serves the
 * token with the smallest pass that has a queued job fitting a free slot (ties: lower key), then
 * advances that token's pass by 1/weight. The tenant's virtual time `vtime` is the pass the last
 * served token had before its advance; a token that had nothing queued joins at max(pass, vtime),
 * so time spent idle is not credited (no burst of "catch-up" dispatches on return).
 */

/**
 * Order of queued jobs within one priority of one token: least laxity first.
 *
 * Give every job the same target turnaround T from when it was queued. To meet it, a job must start
 * by queuedAt + T − expected run time — its latest start. Serving the smallest latest start first
 * (T cancels out, so the rank is queuedAt − expected) means that among jobs queued at about the same
 * time the longer ones start first. That is what shortens a batch: a long job started last is what
 * makes the tail (first-in-first-out over the provider's run times is 1.1–1.25× the ideal makespan, and
 * longest-expected-first about 1.05×). It cannot starve anyone: a job is overtaken only by jobs
 * queued less than the difference of the two expected run times after it (at most a few minutes).
 */
export function queueRank(queuedAt: number, expectedMs: number): number {
  return Math.round(queuedAt - Math.max(0, expectedMs));
}

/** What orders a token's queued jobs (a Job, or a store's lighter candidate row). */
export interface QueueOrderKey {
  priority: number;
  queueRank: number | null;
  id: number;
}

/**
 * The order within a token's share, as (field, column, direction): higher priority first, then the
 * lowest queue rank, then the lowest id. The stores' ORDER BYs and the jobs_queue index's trailing
 * columns are this list; compareQueued below reads it too.
 */
export const QUEUE_ORDER_KEYS = [
  { field: 'priority', column: 'priority', descending: true },
  { field: 'queueRank', column: 'queue_rank', descending: false },
  { field: 'id', column: 'id', descending: false },
] as const satisfies readonly { field: keyof QueueOrderKey; column: string; descending: boolean }[];

/** QUEUE_ORDER_KEYS as an ORDER BY list: `priority DESC, queue_rank, id`. */
export const QUEUE_ORDER_SQL = QUEUE_ORDER_KEYS.map((k) =>
  k.descending ? `${k.column} DESC` : k.column,
).join(', ');

/**
 * Negative when `a` goes first (see QUEUE_ORDER_KEYS). Every queued row carries a rank (enqueue
 * writes one, requeue keeps or fills it, the migrations backfilled the queue), so a null never meets
 * the index order; it sorts first here, as in SQLite.
 */
export function compareQueued(a: QueueOrderKey, b: QueueOrderKey): number {
  for (const key of QUEUE_ORDER_KEYS) {
    const x = a[key.field] ?? Number.NEGATIVE_INFINITY;
    const y = b[key.field] ?? Number.NEGATIVE_INFINITY;
    if (x !== y) return (x < y ? -1 : 1) * (key.descending ? -1 : 1);
  }
  return 0;
}

/**
 * enqueue() takes any finite rank (an epoch-ms difference, possibly fractional: the columns are
 * double precision). NaN or ±Infinity is a caller bug: SQLite would store NaN as NULL and PostgreSQL
 * would sort it after every number, so both refuse it instead of ordering the queue differently.
 */
export function assertQueueRank(rank: number): void {
  if (typeof rank !== 'number' || !Number.isFinite(rank))
    throw new RangeError(`queue rank must be a finite number, got ${rank}`);
}

// ── stride arithmetic ────────────────────────────────────────────────────

/** The fairness key of jobs without a token (a pseudo-token with weight 1). Real token ids start at 1. */
export const NO_TOKEN_KEY = 0;

export function tokenKey(tokenId: number | null): number {
  return tokenId ?? NO_TOKEN_KEY;
}

export function tokenIdOfKey(key: number): number | null {
  return key === NO_TOKEN_KEY ? null : key;
}

/** setTokenWeight accepts finite weights > 0 only (a weight of 0 would make the stride infinite). */
export function assertTokenWeight(weight: number): void {
  if (!Number.isFinite(weight) || weight <= 0)
    throw new RangeError(`token weight must be a finite number > 0, got ${weight}`);
}

/** How far one dispatch advances a token's pass. */
export function passStride(weight: number): number {
  return Number.isFinite(weight) && weight > 0 ? 1 / weight : 1;
}

/** The pass of a token (re)joining the queue with nothing queued: no credit for time spent idle. */
export function joinPass(pass: number | null, vtime: number): number {
  return pass === null ? vtime : Math.max(pass, vtime);
}

/** One token's stored fairness state: its key (NO_TOKEN_KEY for jobs without token), pass and weight. */
export interface QueueTurn {
  key: number;
  pass: number;
  weight: number;
}

/** Whether token `a` is served before token `b` (smallest pass, ties to the lower key). */
export function servedBefore(
  a: Pick<QueueTurn, 'key' | 'pass'>,
  b: Pick<QueueTurn, 'key' | 'pass'>,
): boolean {
  return a.pass < b.pass || (a.pass === b.pass && a.key < b.key);
}

/**
 * Queued jobs in the order dispatch takes them when every job fits: the token served next is the
 * one with the smallest pass (servedBefore), its best job (compareQueued) goes, its pass advances by
 * passStride. Passes and weights are the stored ones (`turns`); a token missing there starts at 0
 * with weight 1, as the stores read it. Pins and health can reorder the real dispatch.
 */
export function dispatchOrder<J extends QueueOrderKey & { tokenId: number | null }>(
  queued: readonly J[],
  turns: readonly QueueTurn[],
): J[] {
  const stored = new Map(turns.map((t) => [t.key, t]));
  const perToken = new Map<number, J[]>();
  for (const job of queued) {
    const key = tokenKey(job.tokenId);
    let list = perToken.get(key);
    if (!list) perToken.set(key, (list = []));
    list.push(job);
  }
  const lanes = [...perToken.entries()].map(([key, jobs]) => ({
    key,
    pass: stored.get(key)?.pass ?? 0,
    stride: passStride(stored.get(key)?.weight ?? 1),
    jobs: jobs.sort(compareQueued),
    next: 0,
  }));
  const order: J[] = [];
  while (lanes.length > 0) {
    let best = 0;
    for (let i = 1; i < lanes.length; i++) if (servedBefore(lanes[i]!, lanes[best]!)) best = i;
    const lane = lanes[best]!;
    order.push(lane.jobs[lane.next++]!);
    lane.pass += lane.stride;
    if (lane.next >= lane.jobs.length) lanes.splice(best, 1);
  }
  return order;
}
