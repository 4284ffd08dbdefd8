/** In-process notifications other parts (callbacks, dashboard, wake-ups) subscribe to. */
import { EventEmitter } from 'node:events';
import type { Job } from '../domain/job.ts';
import type { LeaseLoss } from '../workers/claimLoop.ts';

/** One attempt at a callback delivery, as the dashboard shows it. */
export interface CallbackAttempt {
  userId: number;
  deliveryId: number;
  outcome: 'delivered' | 'failed' | 'dead';
}

/** How a provider webhook delivery was answered (acted on, or refused with a status). */
export type WebhookOutcome =
  | { ok: true; jobId: number | null; action: 'expedited' | 'already_final' | 'duplicate' }
  | { ok: false; status: 400 | 401 | 404 | 409; error: string };

export interface SchedulerEventMap {
  /** A job reached a terminal state; emitted once, by the compare-and-swap winner. */
  final: [job: Job];
  /** A job got its upstream id and is being tracked. */
  running: [job: Job];
  /** A provider webhook delivery was answered (acted on or refused). */
  webhook: [outcome: WebhookOutcome];
  /** A job entered the queue (a create, or back from a busy account). */
  queued: [job: Job];
  /** A timed-out job's held slot was freed (the provider ended it, or the hold's cap passed). */
  slotReleased: [job: Job];
  /** A job took a slot on an account (admitted directly or dispatched from the queue). */
  dispatched: [job: Job];
  /** An account was added, changed, deleted, or its health changed. */
  account: [userId: number, email: string];
  /** Something of a tenant changed that this process did not see happen (another instance); null: any tenant. */
  changed: [userId: number | null];
  /** A callback delivery attempt was recorded. */
  callback: [attempt: CallbackAttempt];
  /** A worker found a job it had claimed no longer its own (lease taken over, job ended elsewhere). */
  leaseLost: [loss: LeaseLoss<number>];
}

export class SchedulerEvents extends EventEmitter<SchedulerEventMap> {}
