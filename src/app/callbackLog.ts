/**
 * A tenant's callback delivery log and signing secret: reads name each delivery's job by its
 * public id; a redelivery wakes the deliverer so it is attempted at once, not at its next idle
 * wake-up.
 */
import { rotateSecret, userWithSecret } from '../callbacks/secrets.ts';
import { publicJobId } from '../domain/ids.ts';
import type { Job } from '../domain/job.ts';
import { EngineError } from '../domain/outcomes.ts';
import type { Delivery, DeliveryState, User } from '../store/store.ts';
import type { EngineParts } from './engine.ts';

export { DELIVERY_STATES, type Delivery, type DeliveryState } from '../store/store.ts';

export interface DeliveryPage {
  deliveries: Delivery[];
  /** Public job id of every delivery's job. */
  jobIds: Map<number, string>;
}

export interface DeliveryQuery {
  /** Only the deliveries of this job (found with JobService.find). */
  job?: Job;
  state?: DeliveryState;
  since?: number;
  limit: number;
}

export class CallbackLogService {
  constructor(private readonly engine: EngineParts) {}

  /** Public job ids of the deliveries' jobs, one store read per distinct job. */
  async jobIds(deliveries: Delivery[], known: Job[] = []): Promise<Map<number, string>> {
    const ids = new Map<number, string>(known.map((job) => [job.id, publicJobId(job)]));
    for (const delivery of deliveries) {
      if (ids.has(delivery.jobId)) continue;
      const job = await this.engine.store.getJob(delivery.jobId);
      ids.set(delivery.jobId, job ? publicJobId(job) : `job-${delivery.jobId}`);
    }
    return ids;
  }

  /** Newest first. */
  async list(userId: number, query: DeliveryQuery): Promise<DeliveryPage> {
    const job = query.job ?? null;
    const deliveries = await this.engine.store.listDeliveries(userId, {
      limit: query.limit,
      ...(job ? { jobId: job.id } : {}),
      ...(query.state ? { state: query.state } : {}),
      ...(query.since !== undefined ? { since: query.since } : {}),
    });
    return { deliveries, jobIds: await this.jobIds(deliveries, job ? [job] : []) };
  }

  async get(userId: number, id: number): Promise<DeliveryPage & { delivery: Delivery }> {
    const delivery = await this.engine.store.getDelivery(userId, id);
    if (!delivery) throw new EngineError('not_found', `Delivery ${id} not found`);
    return { delivery, deliveries: [delivery], jobIds: await this.jobIds([delivery]) };
  }

  /** A dead (or delivered) delivery back to pending, due now; conflict while it is still pending. */
  async redeliver(userId: number, id: number): Promise<void> {
    const existing = await this.engine.store.getDelivery(userId, id);
    if (!existing) throw new EngineError('not_found', `Delivery ${id} not found`);
    const count = await this.engine.store.redeliver(userId, { deliveryId: id }, this.engine.now());
    if (count === 0)
      throw new EngineError(
        'conflict',
        `Delivery ${id} is still pending (attempt ${existing.attempts + 1} is due); it cannot be redelivered until it is delivered or dead`,
      );
    this.engine.deliverer?.wake();
  }

  /** Every dead delivery created since `since`; returns how many. */
  async redeliverSince(userId: number, since: number): Promise<number> {
    const redelivered = await this.engine.store.redeliver(userId, { since }, this.engine.now());
    if (redelivered > 0) this.engine.deliverer?.wake();
    return redelivered;
  }

  /** The tenant with its signing secret(s) in clear, creating one if it has none. */
  secret(userId: number): Promise<User> {
    return this.signing(userWithSecret, userId);
  }

  /** A new signing secret; the previous one keeps signing for the grace period. */
  rotate(userId: number): Promise<User> {
    return this.signing(rotateSecret, userId);
  }

  private async signing(read: typeof userWithSecret, userId: number): Promise<User> {
    const user = await read(this.engine.store, userId, this.engine.now(), this.engine.scheduler.keys.box);
    if (!user) throw new EngineError('not_found', 'tenant not found');
    return user;
  }
}
