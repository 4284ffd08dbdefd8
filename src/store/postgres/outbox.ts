/** The shared outbox writer (../sql/outbox.ts) inside the queue's own PostgreSQL transactions. */
import type pg from 'pg';
import type { Job } from '../../domain/job.ts';
import type { OutboxEvent } from '../store.ts';
import { postgresDialect } from '../sql/dialect.ts';
import { emitOutbox, type OutboxRef } from '../sql/outbox.ts';
import { runOn } from './driver.ts';
import type { Channels } from './notify.ts';

export type { OutboxRef };

/** Inserts the deliveries owed by jobs `tx` just changed (and holds the row locks of). */
export function writeOutbox(tx: pg.PoolClient, channels: Channels, outbox: OutboxRef, jobs: readonly Job[], event: OutboxEvent, now: number): Promise<void> {
  return runOn(tx, channels, emitOutbox(postgresDialect, outbox, jobs, event, now));
}
