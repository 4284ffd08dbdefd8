/**
 * Per-account slot counts kept in the account row, so reserve() finds a free account through an
 * index instead of counting every account's live jobs (LOADS_SQL walked the tenant's whole pool
 * and mapped each row: ~1.5 ms of CPU per reserve with 500 accounts, ~0.25 ms with 50).
 *
 * `accounts.executing` is the number of the account's jobs that hold a slot (TRACKED_SLOT; since
 * migration 13 a timed-out job whose slot is still held counts too: HELD_SLOTS_MIGRATION). Triggers
 * on `jobs` keep it exact: they run inside whatever statement moves a job into or out of a slot, so
 * the count changes in the same transaction (and under the same BEGIN IMMEDIATE write lock) as the
 * job row itself, whichever code path wrote it — reserve, dispatch, finish, expiry, untrack, account
 * deletion, requeue. `UPDATE OF` limits the update triggers to statements that set a column the slot
 * predicate reads, so lease, poll and outcome writes pay nothing.
 *
 * `accounts_free` holds the accounts below their limit; reserve() counts and steps through it in
 * the tenant's email order (index entries only: state and cool-down are in the index) and reads the
 * one chosen row.
 */
import { SLOT_STATES } from '../../domain/job.ts';

const states = SLOT_STATES.map((s) => `'${s}'`).join(',');
const holds = (row: 'NEW' | 'OLD') =>
  `${row}.email IS NOT NULL AND ${row}.state IN (${states}) AND ${row}.untracked_at IS NULL`;
const sameAccount = 'NEW.user_id = OLD.user_id AND NEW.email IS OLD.email';
const slotColumns = 'state, untracked_at, email, user_id';
const bump = (row: 'NEW' | 'OLD', delta: '+ 1' | '- 1') =>
  `UPDATE accounts SET executing = executing ${delta} WHERE user_id = ${row}.user_id AND email = ${row}.email;`;

export const SLOT_COUNTS_MIGRATION = `
  ALTER TABLE accounts ADD COLUMN executing INTEGER NOT NULL DEFAULT 0;
  UPDATE accounts SET executing = (
    SELECT COUNT(*) FROM jobs j
     WHERE j.user_id = accounts.user_id AND j.email = accounts.email AND j.state IN (${states}) AND j.untracked_at IS NULL);

  CREATE INDEX accounts_free ON accounts(user_id, email, state, cooldown_until, executing, max_jobs) WHERE executing < max_jobs;

  CREATE TRIGGER jobs_slot_insert AFTER INSERT ON jobs WHEN ${holds('NEW')}
  BEGIN ${bump('NEW', '+ 1')} END;

  CREATE TRIGGER jobs_slot_delete AFTER DELETE ON jobs WHEN ${holds('OLD')}
  BEGIN ${bump('OLD', '- 1')} END;

  CREATE TRIGGER jobs_slot_release AFTER UPDATE OF ${slotColumns} ON jobs
    WHEN ${holds('OLD')} AND NOT (${holds('NEW')} AND ${sameAccount})
  BEGIN ${bump('OLD', '- 1')} END;

  CREATE TRIGGER jobs_slot_take AFTER UPDATE OF ${slotColumns} ON jobs
    WHEN ${holds('NEW')} AND NOT (${holds('OLD')} AND ${sameAccount})
  BEGIN ${bump('NEW', '+ 1')} END;
`;

/**
 * Migration 13: the same triggers over the slot rule that also counts a held timed-out slot
 * (`slot_held_until`). Dropped and recreated rather than altered (SQLite has no ALTER TRIGGER);
 * the counts are recomputed in the same transaction, so no job moves between the two.
 */
const heldHolds = (row: 'NEW' | 'OLD') =>
  `${row}.email IS NOT NULL AND ((${row}.state IN (${states}) AND ${row}.untracked_at IS NULL) OR ${row}.slot_held_until IS NOT NULL)`;
const heldColumns = 'state, untracked_at, slot_held_until, email, user_id';

export const HELD_SLOTS_MIGRATION = `
  ALTER TABLE jobs ADD COLUMN slot_held_until INTEGER;
  -- Slot counts per account and heldSlots: only the timed-out jobs still holding a slot.
  CREATE INDEX jobs_slot_held ON jobs(user_id, email) WHERE slot_held_until IS NOT NULL;

  DROP TRIGGER jobs_slot_insert;
  DROP TRIGGER jobs_slot_delete;
  DROP TRIGGER jobs_slot_release;
  DROP TRIGGER jobs_slot_take;

  CREATE TRIGGER jobs_slot_insert AFTER INSERT ON jobs WHEN ${heldHolds('NEW')}
  BEGIN ${bump('NEW', '+ 1')} END;

  CREATE TRIGGER jobs_slot_delete AFTER DELETE ON jobs WHEN ${heldHolds('OLD')}
  BEGIN ${bump('OLD', '- 1')} END;

  CREATE TRIGGER jobs_slot_release AFTER UPDATE OF ${heldColumns} ON jobs
    WHEN ${heldHolds('OLD')} AND NOT (${heldHolds('NEW')} AND ${sameAccount})
  BEGIN ${bump('OLD', '- 1')} END;

  CREATE TRIGGER jobs_slot_take AFTER UPDATE OF ${heldColumns} ON jobs
    WHEN ${heldHolds('NEW')} AND NOT (${heldHolds('OLD')} AND ${sameAccount})
  BEGIN ${bump('NEW', '+ 1')} END;

  UPDATE accounts SET executing = (
    SELECT COUNT(*) FROM jobs j
     WHERE j.user_id = accounts.user_id AND j.email = accounts.email
       AND ((j.state IN (${states}) AND j.untracked_at IS NULL) OR j.slot_held_until IS NOT NULL));
`;
