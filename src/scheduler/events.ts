/** In-process notifications other parts (callbacks, dashboard, wake-ups) subscribe to. */
import { EventEmitter } from 'node:events';
import type { Job } from '../domain/job.ts';
import type { WebhookOutcome } from './webhookIntake.ts';

export interface SchedulerEventMap {
  /** A job reached a terminal state; emitted once, by the compare-and-swap winner. */
  final: [job: Job];
  /** A job got its upstream id and is being tracked. */
  running: [job: Job];
  /** A provider webhook delivery was answered (acted on or refused). */
  webhook: [outcome: WebhookOutcome];
}

export class SchedulerEvents extends EventEmitter<SchedulerEventMap> {}
