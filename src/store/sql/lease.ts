/**
 * The claim-with-lease shape shared by polls, stale submits and callback deliveries. A lease is
 * (owner, token, expiresAt); a claim hands each row a fresh random token, and every later write by
 * the holder is fenced with `lease_token = $token`, so a holder that stalled past expiry and lost the
 * row to another instance changes nothing (zero rows) and learns it lost it.
 *
 * PostgreSQL: FOR UPDATE SKIP LOCKED in a CTE, so two instances claiming at the same moment lock
 * different rows instead of the second waiting for the first and then finding nothing. It is also
 * what keeps a row from being claimed twice: a row the other claimer already updated and committed
 * is re-checked by FOR UPDATE against its latest version (READ COMMITTED follows the update chain),
 * where the lease is no longer expired, so it drops out. LIMIT sits inside the CTE so only the rows
 * actually claimed are locked.
 *
 * SQLite: select-then-update inside `BEGIN IMMEDIATE` (the caller runs this as a write), so two
 * connections can never both see a lease as free and both take it.
 */
import { randomUUID } from 'node:crypto';
import type { Dialect } from './dialect.ts';
import { all, type Op } from './op.ts';

/** A lease another owner may take over: none, or expired at `now` (bound as `param`). */
export const leaseFree = (param: string, alias = ''): string =>
  `(${alias}lease_token IS NULL OR ${alias}lease_expires_at <= ${param})`;

export interface Claim {
  table: 'jobs' | 'deliveries';
  /** `SELECT <alias>.id FROM … ORDER BY … LIMIT …` over `$1…$n` of `params`, without a locking clause. */
  select: string;
  params: readonly unknown[];
  /** PostgreSQL `FOR UPDATE OF <alias>` when the select joins several tables. */
  lockOf?: string;
  owner: string;
  expiresAt: number;
  /** More SET assignments, as fixed text (e.g. clearing a hint). */
  set?: string;
  /** A SET assignment PostgreSQL alone makes (e.g. stamping the claiming instance). */
  pgSet?: string;
}

export function* claimLeases<R>(d: Dialect, c: Claim): Op<R[]> {
  const n = c.params.length;
  const extra = c.set ? `, ${c.set}` : '';
  if (d.name === 'postgres') {
    return yield* all<R>(
      `WITH due AS (${c.select} FOR UPDATE${c.lockOf ? ` OF ${c.lockOf}` : ''} SKIP LOCKED)
       UPDATE ${c.table}
          SET lease_owner = $${n + 1}, lease_token = gen_random_uuid()::text, lease_expires_at = CAST($${n + 2} AS BIGINT)${extra}${c.pgSet ? `, ${c.pgSet}` : ''}
         FROM due
        WHERE ${c.table}.id = due.id
        RETURNING ${c.table}.*`,
      [...c.params, c.owner, c.expiresAt],
    );
  }
  const ids = yield* all<{ id: number }>(c.select, c.params);
  const claimed: R[] = [];
  for (const { id } of ids) {
    const rows = yield* all<R>(
      `UPDATE ${c.table} SET lease_owner = $1, lease_token = $2, lease_expires_at = $3${extra} WHERE id = $4 RETURNING *`,
      [c.owner, randomUUID(), c.expiresAt, id],
    );
    claimed.push(...rows);
  }
  return claimed;
}
