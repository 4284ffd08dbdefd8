/**
 * reserve(): choose an account and take one of its slots — design invariant 1 (never overbook).
 *
 * Counting the account's slot-holding jobs and inserting the new `submitting` job happen in ONE
 * `BEGIN IMMEDIATE` transaction. IMMEDIATE takes SQLite's single write lock before the count, so no
 * other connection (another process, or another store on the same file) can insert between our
 * count and our insert. A count outside the transaction — or in a DEFERRED one, whose snapshot may
 * be stale by the time it writes — would let two callers both see "one slot free" and both insert.
 */
import { isHealthy, type Account } from '../../domain/account.ts';
import type { AccountLoad, ReserveInput, ReserveResult } from '../store.ts';
import { accountFromRow, jobFromRow, type JobRow } from '../rows.ts';
import { immediate, type Db, type StatementCache } from './database.ts';
import { LOADS_SQL, type LoadRow } from './accounts.ts';

export type AccountChoice = { ok: true; account: Account } | Extract<ReserveResult, { ok: false }>;

/**
 * The selection rule, free of SQL: given every account of the user with its current load, which
 * one takes the job? Pinned → that account or why not; unpinned → uniformly random among healthy
 * accounts with a free slot (useapi's documented load balancing).
 */
export function chooseAccount(
  loads: readonly AccountLoad[],
  input: Pick<ReserveInput, 'email' | 'maxJobsOverride' | 'now' | 'random'>,
): AccountChoice {
  const limitOf = (account: Account) => input.maxJobsOverride ?? account.maxJobs;
  const hasRoom = (load: AccountLoad) => load.executing < limitOf(load.account);

  if (input.email !== null) {
    const load = loads.find((l) => l.account.email === input.email);
    if (!load) return { ok: false, reason: 'unknown_account' };
    if (!isHealthy(load.account, input.now)) return { ok: false, reason: 'account_unhealthy', account: load.account };
    if (!hasRoom(load)) return { ok: false, reason: 'account_full', account: load.account };
    return { ok: true, account: load.account };
  }

  if (loads.length === 0) return { ok: false, reason: 'no_accounts' };
  const candidates = loads.filter((l) => isHealthy(l.account, input.now) && hasRoom(l));
  if (candidates.length === 0) return { ok: false, reason: 'none_free' };
  const r = (input.random ?? Math.random)();
  // Clamp: a misbehaving source returning 1 (or a tiny negative) must still pick a candidate.
  const index = Math.min(candidates.length - 1, Math.max(0, Math.floor(r * candidates.length)));
  return { ok: true, account: candidates[index]!.account };
}

export class AdmissionQueries {
  private readonly reserveTx: (input: ReserveInput) => ReserveResult;

  constructor(
    db: Db,
    private readonly sql: StatementCache,
  ) {
    this.reserveTx = immediate(db, (input: ReserveInput): ReserveResult => {
      const loads = (this.sql.get(LOADS_SQL).all(input.userId) as LoadRow[]).map((r) => ({
        account: accountFromRow(r),
        executing: r.executing,
      }));
      const choice = chooseAccount(loads, input);
      if (!choice.ok) return choice;
      // started_at = created_at = now: the slot is held from this instant (elapsed/timeout clock).
      const row = this.sql
        .get(
          `INSERT INTO jobs (user_id, token_id, email, type, state, trace_id, upstream_json, request_json,
                             reply_url, reply_ref, created_at, started_at)
           VALUES (@userId, @tokenId, @email, @type, 'submitting', @traceId, @upstream, @request,
                   @replyUrl, @replyRef, @now, @now)
           RETURNING *`,
        )
        .get({
          userId: input.userId,
          tokenId: input.tokenId,
          email: choice.account.email,
          type: input.type,
          traceId: input.traceId,
          upstream: JSON.stringify(input.upstream),
          request: JSON.stringify(input.request),
          replyUrl: input.replyUrl,
          replyRef: input.replyRef,
          now: input.now,
        }) as JobRow;
      return { ok: true, job: jobFromRow(row), account: choice.account };
    });
  }

  reserve(input: ReserveInput): ReserveResult {
    return this.reserveTx(input);
  }
}
