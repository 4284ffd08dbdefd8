/**
 * Fans the scheduler's events out to open dashboard pages. Each page holds ONE event stream;
 * the hub turns a burst of events for a tenant into at most one fresh snapshot per
 * COALESCE_MS, built once and written to every page watching that tenant. A quiet tenant's
 * pages still get a snapshot every REFRESH_MS: changes made by other instances (callbacks they
 * attempted, cool-downs that ran out) reach the page without an event of ours.
 */
import type { Job } from '../domain/job.ts';
import type { DashboardReads } from '../app/dashboard.ts';
import { History } from './history.ts';
import { buildSnapshot } from './snapshot.ts';

export const COALESCE_MS = 250;
export const REFRESH_MS = 5_000;
/** How often the queue depth of tenants nobody watches is sampled for the chart. */
const SAMPLE_EVERY_MS = 15_000;

/** The logging the hub does (pino's and Fastify's loggers both fit). */
export interface HubLog {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface StreamClient {
  /** Writes one server-sent event. */
  send(event: string, data: string): void;
}

interface Watch {
  clients: Set<StreamClient>;
  timer: NodeJS.Timeout | null;
  building: boolean;
  /** Something changed while a snapshot was being built: build again after it. */
  again: boolean;
  lastSent: number;
}

export class DashboardHub {
  readonly history = new History();
  /** Snapshots built for streams, and events that asked for one (coalescing shows in the ratio). */
  readonly stats = { events: 0, snapshots: 0 };
  private readonly watches = new Map<number, Watch>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly reads: DashboardReads,
    private readonly log: HubLog | null,
    private readonly now: () => number = Date.now,
  ) {
    const events = reads.events;
    const jobChanged = (job: Job) => this.changed(job.userId);
    for (const name of ['queued', 'dispatched', 'running', 'final'] as const) {
      events.on(name, jobChanged);
      this.unsubscribe.push(() => events.off(name, jobChanged));
    }
    const final = (job: Job) => {
      if (job.state === 'completed') this.history.finished(job.userId, true, job.finishedAt ?? this.now());
      else if (job.state === 'failed' || job.state === 'moderated' || job.state === 'timed_out')
        this.history.finished(job.userId, false, job.finishedAt ?? this.now());
    };
    events.on('final', final);
    const account = (userId: number) => this.changed(userId);
    events.on('account', account);
    const changed = (userId: number | null) => (userId === null ? this.changedAll() : this.changed(userId));
    events.on('changed', changed);
    const callback = ({ userId }: { userId: number }) => this.changed(userId);
    events.on('callback', callback);
    this.unsubscribe.push(
      () => events.off('final', final),
      () => events.off('account', account),
      () => events.off('changed', changed),
      () => events.off('callback', callback),
    );
    this.timers.push(setInterval(() => this.changedAll(), REFRESH_MS).unref());
    this.timers.push(setInterval(() => void this.sampleUnwatched(), SAMPLE_EVERY_MS).unref());
  }

  /** Adds a page watching `userId`; it gets a snapshot at once. Returns its removal. */
  watch(userId: number, client: StreamClient): () => void {
    let watch = this.watches.get(userId);
    if (!watch)
      this.watches.set(
        userId,
        (watch = { clients: new Set(), timer: null, building: false, again: false, lastSent: 0 }),
      );
    watch.clients.add(client);
    void this.build(userId).then((data) => data && client.send('snapshot', data));
    return () => {
      const current = this.watches.get(userId);
      if (!current) return;
      current.clients.delete(client);
      if (current.clients.size === 0) {
        if (current.timer) clearTimeout(current.timer);
        this.watches.delete(userId);
      }
    };
  }

  get watchers(): number {
    let count = 0;
    for (const watch of this.watches.values()) count += watch.clients.size;
    return count;
  }

  close(): void {
    for (const timer of this.timers) clearInterval(timer);
    for (const off of this.unsubscribe) off();
    for (const watch of this.watches.values()) if (watch.timer) clearTimeout(watch.timer);
    this.watches.clear();
  }

  private changedAll(): void {
    for (const userId of this.watches.keys()) this.changed(userId);
  }

  /** A tenant's state may have changed: schedule one flush, at most one per COALESCE_MS. */
  private changed(userId: number): void {
    const watch = this.watches.get(userId);
    if (!watch) {
      // Nobody watches: only the chart's sampler needs to know the tenant is active.
      this.history.touch(userId, this.now());
      return;
    }
    this.stats.events++;
    if (watch.building) {
      watch.again = true;
      return;
    }
    if (watch.timer) return;
    const wait = Math.max(0, watch.lastSent + COALESCE_MS - this.now());
    watch.timer = setTimeout(() => void this.flush(userId), wait);
  }

  private async flush(userId: number): Promise<void> {
    const watch = this.watches.get(userId);
    if (!watch) return;
    watch.timer = null;
    watch.building = true;
    watch.again = false;
    const data = await this.build(userId);
    watch.building = false;
    watch.lastSent = this.now();
    if (data) for (const client of watch.clients) client.send('snapshot', data);
    if (watch.again && this.watches.get(userId) === watch) this.changed(userId);
  }

  private async build(userId: number): Promise<string | null> {
    try {
      this.stats.snapshots++;
      return JSON.stringify(await buildSnapshot(this.reads, this.history, userId, this.now()));
    } catch (err) {
      this.log?.warn({ err, userId }, 'dashboard snapshot failed');
      return null;
    }
  }

  /** Keeps the chart's queue depth of active tenants current while no page watches them. */
  private async sampleUnwatched(): Promise<void> {
    const now = this.now();
    for (const userId of this.history.tenantsSeen(now)) {
      if (this.watches.has(userId)) continue;
      try {
        const [queued, loads] = await Promise.all([
          this.reads.countQueued(userId),
          this.reads.accountLoads(userId),
        ]);
        this.history.sample(
          userId,
          queued,
          loads.reduce((sum, load) => sum + load.executing, 0),
          now,
        );
      } catch (err) {
        this.log?.debug({ err, userId }, 'dashboard sample failed');
      }
    }
  }
}
