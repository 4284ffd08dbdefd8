/**
 * Row <-> model mapping shared by every Store dialect. Dialect-free on purpose: it accepts the
 * value shapes both drivers produce (better-sqlite3 gives numbers and JSON as TEXT; node-postgres
 * gives int8/bigint columns as strings and jsonb as parsed objects), so each dialect only writes SQL.
 *
 * Column names are the shared schema's snake_case names (see sqlite/migrations.ts).
 */
import type { Account, AccountState } from '../domain/account.ts';
import { JOB_STATES, isTerminal, type Job, type JobOutcome, type JobState, type JobType, type Json } from '../domain/job.ts';
import type { TokenRecord, User } from './store.ts';

/** Integer column as a driver may return it (pg returns int8 as a decimal string). */
export type DbInt = number | string | bigint;
/** JSON column: TEXT in SQLite, already parsed jsonb in PostgreSQL. */
export type DbJson = string | { [key: string]: Json } | null;

/** States a job can still leave: the `state IN (…)` list of every compare-and-swap. */
export const NON_TERMINAL_STATES: readonly JobState[] = JOB_STATES.filter((s) => !isTerminal(s));

export interface UserRow {
  id: DbInt;
  name: string | null;
  reply_url: string | null;
  created_at: DbInt;
}

export interface TokenRow {
  id: DbInt;
  user_id: DbInt;
  hash: string;
  label: string | null;
  created_at: DbInt;
  revoked_at: DbInt | null;
}

export interface AccountRow {
  user_id: DbInt;
  email: string;
  api_key_enc: string;
  max_jobs: DbInt;
  state: string;
  reason: string | null;
  cooldown_until: DbInt | null;
  created_at: DbInt;
  updated_at: DbInt;
}

export interface JobRow {
  id: DbInt;
  user_id: DbInt;
  token_id: DbInt | null;
  email: string;
  type: string;
  state: string;
  upstream_id: string | null;
  trace_id: string;
  upstream_json: DbJson;
  request_json: DbJson;
  reply_url: string | null;
  reply_ref: string | null;
  created_at: DbInt;
  started_at: DbInt;
  finished_at: DbInt | null;
  result_url: string | null;
  error: string | null;
  upstream_status: DbInt | null;
  result_json: DbJson;
  poll_count: DbInt;
  next_poll_at: DbInt | null;
  lease_owner: string | null;
  lease_token: string | null;
  lease_expires_at: DbInt | null;
}

export function num(value: DbInt): number {
  return typeof value === 'number' ? value : Number(value);
}

export function numOrNull(value: DbInt | null | undefined): number | null {
  return value === null || value === undefined ? null : num(value);
}

function objectOf<T>(value: DbJson): T | null {
  if (value === null) return null;
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export function userFromRow(row: UserRow): User {
  return { id: num(row.id), name: row.name, replyUrl: row.reply_url, createdAt: num(row.created_at) };
}

export function tokenFromRow(row: TokenRow): TokenRecord {
  return {
    id: num(row.id),
    userId: num(row.user_id),
    hash: row.hash,
    label: row.label,
    createdAt: num(row.created_at),
    revokedAt: numOrNull(row.revoked_at),
  };
}

export function accountFromRow(row: AccountRow): Account {
  return {
    userId: num(row.user_id),
    email: row.email,
    apiKeyEnc: row.api_key_enc,
    maxJobs: num(row.max_jobs),
    state: row.state as AccountState,
    reason: row.reason,
    cooldownUntil: numOrNull(row.cooldown_until),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export function jobFromRow(row: JobRow): Job {
  return {
    id: num(row.id),
    userId: num(row.user_id),
    tokenId: numOrNull(row.token_id),
    email: row.email,
    type: row.type as JobType,
    state: row.state as JobState,
    // Always text: PixVerse ids exceed 2^53, so they must never pass through a JS number.
    upstreamId: row.upstream_id === null ? null : String(row.upstream_id),
    traceId: row.trace_id,
    upstream: objectOf<Job['upstream']>(row.upstream_json) ?? { op: '', params: {} },
    request: objectOf<Job['request']>(row.request_json) ?? {},
    replyUrl: row.reply_url,
    replyRef: row.reply_ref,
    createdAt: num(row.created_at),
    startedAt: num(row.started_at),
    finishedAt: numOrNull(row.finished_at),
    resultUrl: row.result_url,
    error: row.error,
    upstreamStatus: numOrNull(row.upstream_status),
    result: objectOf<NonNullable<Job['result']>>(row.result_json),
    pollCount: num(row.poll_count),
    nextPollAt: numOrNull(row.next_poll_at),
    leaseToken: row.lease_token,
    leaseExpiresAt: numOrNull(row.lease_expires_at),
  };
}

/**
 * The columns a terminal transition writes. An outcome field left `undefined` keeps the
 * stored value (e.g. a cancel keeps the last upstream status); an explicit `null` clears it.
 * `keep*` flags are 1 when the column must be kept, so one prepared statement serves every outcome.
 */
export interface OutcomeColumns {
  state: JobOutcome['state'];
  resultUrl: string | null;
  keepResultUrl: 0 | 1;
  error: string | null;
  keepError: 0 | 1;
  upstreamStatus: number | null;
  keepUpstreamStatus: 0 | 1;
  /** JSON text of the result document. */
  resultJson: string | null;
  keepResult: 0 | 1;
}

export function outcomeColumns(outcome: JobOutcome): OutcomeColumns {
  return {
    state: outcome.state,
    resultUrl: outcome.resultUrl ?? null,
    keepResultUrl: outcome.resultUrl === undefined ? 1 : 0,
    error: outcome.error ?? null,
    keepError: outcome.error === undefined ? 1 : 0,
    upstreamStatus: outcome.upstreamStatus ?? null,
    keepUpstreamStatus: outcome.upstreamStatus === undefined ? 1 : 0,
    resultJson: outcome.result === undefined || outcome.result === null ? null : JSON.stringify(outcome.result),
    keepResult: outcome.result === undefined ? 1 : 0,
  };
}
