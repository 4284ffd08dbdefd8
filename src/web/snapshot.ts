/**
 * What one dashboard page shows of a tenant, read from the store in one go: accounts with their
 * load, jobs holding slots, the head of the queue with estimated starts, recent failures, callback
 * deliveries that are failing or dead, and the last hour's chart. Never calls upstream.
 */
import { Type, type Static } from '@sinclair/typebox';
import { webhookId } from '../callbacks/signing.ts';
import { publicJobId } from '../domain/ids.ts';
import type { Job, Json } from '../domain/job.ts';
import type { Delivery, DashboardReads } from '../app/dashboard.ts';
import type { History } from './history.ts';

const Nullable = <T extends ReturnType<typeof Type.String | typeof Type.Integer>>(schema: T) =>
  Type.Union([schema, Type.Null()]);
const JobType = Type.Union([Type.Literal('video'), Type.Literal('image'), Type.Literal('music')]);

export const DashboardSnapshot = Type.Object(
  {
    /** Server time of the read (epoch ms): the page measures elapsed times against it. */
    at: Type.Integer(),
    tenant: Type.Object({ userId: Type.Integer(), name: Nullable(Type.String()) }),
    accounts: Type.Array(
      Type.Object({
        email: Type.String(),
        maxJobs: Type.Integer(),
        executing: Type.Integer(),
        state: Type.String(),
        reason: Nullable(Type.String()),
        cooldownUntil: Nullable(Type.Integer()),
      }),
    ),
    /** All slot-holding jobs; `running` lists the oldest RUNNING_SHOWN of them. */
    runningTotal: Type.Integer(),
    running: Type.Array(
      Type.Object({
        id: Type.String(),
        type: JobType,
        state: Type.String(),
        email: Nullable(Type.String()),
        startedAt: Type.Integer(),
        prompt: Nullable(Type.String()),
      }),
    ),
    queue: Type.Object({
      total: Type.Integer(),
      items: Type.Array(
        Type.Object({
          id: Type.String(),
          type: JobType,
          position: Type.Integer(),
          estimatedStart: Nullable(Type.Integer()),
          queuedAt: Type.Integer(),
          priority: Type.Integer(),
          email: Nullable(Type.String()),
        }),
      ),
    }),
    failures: Type.Array(
      Type.Object({
        id: Type.String(),
        type: JobType,
        state: Type.String(),
        error: Nullable(Type.String()),
        email: Nullable(Type.String()),
        finishedAt: Type.Integer(),
      }),
    ),
    deliveries: Type.Array(
      Type.Object({
        id: Type.Integer(),
        webhookId: Type.String(),
        jobId: Type.String(),
        state: Type.String(),
        url: Type.String(),
        attempts: Type.Integer(),
        lastStatus: Nullable(Type.Integer()),
        lastError: Nullable(Type.String()),
        nextAttemptAt: Nullable(Type.Integer()),
        createdAt: Type.Integer(),
      }),
    ),
    history: Type.Object({
      bucketMs: Type.Integer(),
      start: Type.Integer(),
      completed: Type.Array(Type.Integer()),
      failed: Type.Array(Type.Integer()),
      queueDepth: Type.Array(Type.Integer()),
      running: Type.Array(Type.Integer()),
    }),
  },
  { additionalProperties: false },
);
export type DashboardSnapshot = Static<typeof DashboardSnapshot>;

/** Enough to see at a glance (and a snapshot stays small when sent often); the API lists the rest. */
const RUNNING_SHOWN = 100;
const QUEUE_SHOWN = 50;
const FAILURES_SHOWN = 20;
const FAILURES_WINDOW_MS = 24 * 3_600_000;
const DELIVERIES_SHOWN = 20;

export async function buildSnapshot(
  reads: DashboardReads,
  history: History,
  userId: number,
  now: number,
): Promise<DashboardSnapshot> {
  const [user, loads, active, failures, dead, pending, queued] = await Promise.all([
    reads.user(userId),
    reads.accountLoads(userId),
    reads.activeJobs(userId),
    reads.recentFailures(userId, now - FAILURES_WINDOW_MS, FAILURES_SHOWN),
    reads.deliveries(userId, { state: 'dead', limit: DELIVERIES_SHOWN }),
    reads.deliveries(userId, { state: 'pending', limit: 200 }),
    reads.countQueued(userId),
  ]);
  const queue = queued > 0 ? await reads.queueSnapshot(userId, QUEUE_SHOWN) : { total: 0, items: [] };
  history.sample(userId, queue.total, active.length, now);
  // Failing: pending again after at least one failed attempt.
  const troubled = [...pending.filter((d) => d.attempts > 0).slice(0, DELIVERIES_SHOWN), ...dead];
  return {
    at: now,
    tenant: { userId, name: user?.name ?? null },
    accounts: loads.map(({ account, executing }) => ({
      email: account.email,
      maxJobs: account.maxJobs,
      executing,
      state: account.state,
      reason: account.reason,
      cooldownUntil: account.cooldownUntil,
    })),
    runningTotal: active.length,
    running: active.slice(0, RUNNING_SHOWN).map((job) => ({
      id: publicJobId(job),
      type: job.type,
      state: job.state,
      email: job.email,
      startedAt: job.startedAt ?? job.createdAt,
      prompt: promptOf(job),
    })),
    queue: {
      total: queue.total,
      items: queue.items.map(({ job, position, estimatedStart }) => ({
        id: publicJobId(job),
        type: job.type,
        position,
        estimatedStart: Number.isFinite(estimatedStart) ? Math.round(estimatedStart) : null,
        queuedAt: job.queuedAt ?? job.createdAt,
        priority: job.priority,
        email: job.pinnedEmail,
      })),
    },
    failures: failures.map((job) => ({
      id: publicJobId(job),
      type: job.type,
      state: job.state,
      error: job.error,
      email: job.email,
      finishedAt: job.finishedAt ?? now,
    })),
    deliveries: await deliveryViews(reads, troubled),
    history: history.series(userId, now),
  };
}

async function deliveryViews(
  reads: DashboardReads,
  deliveries: Delivery[],
): Promise<DashboardSnapshot['deliveries']> {
  const ids = new Map<number, string>();
  for (const d of deliveries) {
    if (ids.has(d.jobId)) continue;
    const job = await reads.job(d.jobId);
    ids.set(d.jobId, job ? publicJobId(job) : `job-${d.jobId}`);
  }
  return deliveries.map((d) => ({
    id: d.id,
    webhookId: webhookId(d.id),
    jobId: ids.get(d.jobId)!,
    state: d.state,
    url: d.url,
    attempts: d.attempts,
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    nextAttemptAt: d.state === 'pending' ? d.nextAttemptAt : null,
    createdAt: d.createdAt,
  }));
}

function promptOf(job: Job): string | null {
  const prompt: Json | undefined = job.request['prompt'];
  if (typeof prompt !== 'string') return null;
  return prompt.length > 120 ? `${prompt.slice(0, 119)}…` : prompt;
}
