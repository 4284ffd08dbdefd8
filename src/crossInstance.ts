/**
 * Wake-ups between instances sharing one PostgreSQL: LISTEN for the store's notifications
 * and turn them into scheduler pokes, so a slot freed or a job queued on one instance is
 * acted on by the others within milliseconds. Notifications are hints; the scheduler's
 * short backstop polls cover any that are lost.
 */
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Scheduler } from './scheduler/scheduler.ts';
import type { Store } from './store/store.ts';

export interface WakeTargets {
  scheduler: Scheduler;
  /** A callback delivery became due somewhere. */
  deliveries?: () => void;
  /** An API token was revoked on some instance: drop cached verifications now. */
  tokensRevoked?: () => void;
}

/** Returns a closer, or null when the store is not shared (SQLite). */
export async function listenAcrossInstances(
  config: Config,
  store: Store,
  targets: WakeTargets,
  log: Logger,
): Promise<(() => Promise<void>) | null> {
  if (store.dialect !== 'postgres' || !config.databaseUrl) return null;
  const { listenForChanges, channelsFor } = await import('./store/postgres/index.ts');
  const channels = channelsFor(config.databaseSchema);
  const listener = await listenForChanges(
    config.databaseUrl,
    config.databaseSchema,
    (channel, payload) => {
      if (channel === channels.jobs) return targets.scheduler.jobsChanged();
      if (channel === channels.deliveries) return targets.deliveries?.();
      if (payload.includes('"token_revoked"')) targets.tokensRevoked?.();
      const userId = userIdOf(payload);
      if (userId !== null) targets.scheduler.capacityChanged(userId);
    },
    {
      onError: (err) =>
        log.warn({ err: err.message }, 'LISTEN connection problem; backstop polling covers it'),
    },
  );
  return () => listener.close();
}

function userIdOf(payload: string): number | null {
  try {
    const parsed: unknown = JSON.parse(payload);
    if (parsed && typeof parsed === 'object' && 'userId' in parsed && typeof parsed.userId === 'number')
      return parsed.userId;
  } catch {
    // not ours; ignore
  }
  return null;
}
