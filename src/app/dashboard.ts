/**
 * What the live dashboard reads of a tenant, and the scheduler events that tell it to read again.
 * Reads only: the dashboard changes nothing.
 */
import type { Job } from '../domain/job.ts';
import type { SchedulerEvents } from '../scheduler/events.ts';
import type { QueueSnapshot } from '../scheduler/scheduler.ts';
import type { AccountLoad, Delivery, DeliveryFilter, TokenRecord, User } from '../store/store.ts';
import type { EngineParts } from './engine.ts';

export type { AccountLoad, Delivery, QueueSnapshot, SchedulerEvents, TokenRecord, User };

export class DashboardReads {
  constructor(private readonly engine: EngineParts) {}

  get events(): SchedulerEvents {
    return this.engine.scheduler.events;
  }

  user(userId: number): Promise<User | null> {
    return this.engine.store.getUser(userId);
  }

  users(): Promise<User[]> {
    return this.engine.store.listUsers();
  }

  tokens(userId: number): Promise<TokenRecord[]> {
    return this.engine.store.listTokens(userId);
  }

  accountLoads(userId: number): Promise<AccountLoad[]> {
    return this.engine.store.accountLoads(userId);
  }

  activeJobs(userId: number): Promise<Job[]> {
    return this.engine.store.activeJobs(userId);
  }

  recentFailures(userId: number, since: number, limit: number): Promise<Job[]> {
    return this.engine.store.recentFailures(userId, since, limit);
  }

  deliveries(userId: number, filter: DeliveryFilter): Promise<Delivery[]> {
    return this.engine.store.listDeliveries(userId, filter);
  }

  countQueued(userId: number): Promise<number> {
    return this.engine.store.countQueued(userId);
  }

  queueSnapshot(userId: number, limit: number): Promise<QueueSnapshot> {
    return this.engine.scheduler.queueSnapshot(userId, limit);
  }

  job(jobId: number): Promise<Job | null> {
    return this.engine.store.getJob(jobId);
  }
}
