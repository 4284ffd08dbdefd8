/** In-process notifications other parts (callbacks, dashboard, wake-ups) subscribe to. */
import { EventEmitter } from 'node:events';
import type { Job } from '../domain/job.ts';

export interface SchedulerEventMap {
  /** A job reached a terminal state; emitted once, by the compare-and-swap winner. */
  final: [job: Job];
  /** A job got its upstream id and is being tracked. */
  running: [job: Job];
}

export class SchedulerEvents extends EventEmitter<SchedulerEventMap> {}
