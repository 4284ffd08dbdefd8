/** PostgreSQL migrations from version 9 on (the list continues migrations.ts; same rules). */
import type { Migration } from '../migration.ts';

export const LATER_MIGRATIONS: readonly Migration[] = [
  {
    version: 9,
    name: 'recent failures of a tenant (dashboard)',
    sql: `
      -- recentFailures: a tenant's latest failed jobs, read newest first up to a LIMIT without
      -- scanning its finished history. Partial: queries repeat the state predicate.
      CREATE INDEX jobs_failures ON jobs (user_id, finished_at) WHERE state IN ('failed', 'moderated', 'timed_out');
    `,
  },
  {
    version: 10,
    name: 'PixVerse webhook receipts (replay guard shared by instances)',
    sql: `
      -- A PixVerse delivery acted on, by a digest of its signed headers and body, until its
      -- timestamp can no longer pass the replay window: a replay sent to any instance is refused.
      CREATE TABLE webhook_receipts (
        receipt    TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX webhook_receipts_expiry ON webhook_receipts (expires_at);
    `,
  },
  {
    version: 11,
    name: 'per-account slot counts kept by triggers, free-account index (reserve without a pool scan)',
    // SQLite only: PostgreSQL's reserve counts under the tenant's account row locks, which
    // already serialise it across instances.
    sql: '',
  },
  {
    version: 12,
    name: 'provider of accounts and jobs',
    sql: `
      -- Which provider runs an account and its jobs (the <provider> segment of the job id). Every
      -- row so far belongs to PixVerse, the only provider until now; the default fills them in
      -- (a constant default: no table rewrite).
      ALTER TABLE accounts ADD COLUMN provider TEXT NOT NULL DEFAULT 'pixverse';
      ALTER TABLE jobs ADD COLUMN provider TEXT NOT NULL DEFAULT 'pixverse';
    `,
  },
  {
    version: 13,
    name: 'a timed-out job keeps its slot until the provider ends it',
    sql: `
      -- A job the gateway timed out while the provider may still run it counts against its account
      -- until the provider reports it final or this time passes (NULL: no slot held).
      ALTER TABLE jobs ADD COLUMN slot_held_until BIGINT;
      -- Slot counts per account and heldSlots: only the timed-out jobs still holding a slot.
      CREATE INDEX jobs_slot_held ON jobs (user_id, email) WHERE slot_held_until IS NOT NULL;
    `,
  },
];
