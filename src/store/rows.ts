/**
 * Row <-> model mapping shared by every Store dialect. Dialect-free on purpose: it accepts the
 * value shapes both drivers produce (better-sqlite3 gives numbers and JSON as TEXT; node-postgres
 * gives int8/bigint columns as strings and jsonb as parsed objects), so each dialect only writes SQL.
 *
 * Column names are the shared schema's snake_case names (see sqlite/migrations.ts).
 */
import type { Account, AccountState } from '../domain/account.ts';
import type { Job, JobOutcome, JobState, JobType, Json } from '../domain/job.ts';
import type {
  AttemptResult,
  Delivery,
  DeliveryState,
  OutboxEvent,
  TenantSettings,
  TokenRecord,
  UpsertAccountInput,
  User,
} from './store.ts';

/** Integer column as a driver may return it (pg returns int8 as a decimal string). */
export type DbInt = number | string | bigint;
/** JSON column: TEXT in SQLite, already parsed jsonb in PostgreSQL. */
export type DbJson = string | { [key: string]: Json } | null;
/** Boolean column: INTEGER 0/1 in SQLite, boolean in PostgreSQL. */
export type DbBool = boolean | number | string | bigint;
/** Floating-point column (REAL / double precision; numeric would come back as a string). */
export type DbReal = number | string;

export interface UserRow {
  id: DbInt;
  name: string | null;
  reply_url: string | null;
  created_at: DbInt;
  queue_by_default: DbBool;
  max_queue_length: DbInt;
  max_queue_wait_ms: DbInt;
  /** '' for users created before webhook secrets existed (the caller rotates it on first use). */
  webhook_secret: string;
  webhook_secret_prev: string | null;
  webhook_secret_prev_until: DbInt | null;
}

export interface TokenRow {
  id: DbInt;
  user_id: DbInt;
  hash: string;
  label: string | null;
  created_at: DbInt;
  revoked_at: DbInt | null;
  weight: DbReal;
}

export interface AccountRow {
  user_id: DbInt;
  provider: string;
  email: string;
  api_key_enc: string;
  max_jobs: DbInt;
  state: string;
  reason: string | null;
  cooldown_until: DbInt | null;
  webhook_id: string | null;
  webhook_secret_enc: string | null;
  created_at: DbInt;
  updated_at: DbInt;
}

export interface JobRow {
  id: DbInt;
  user_id: DbInt;
  token_id: DbInt | null;
  provider: string;
  email: string | null;
  pinned_email: string | null;
  type: string;
  state: string;
  upstream_id: string | null;
  trace_id: string;
  upstream_json: DbJson;
  request_json: DbJson;
  reply_url: string | null;
  reply_ref: string | null;
  priority: DbInt;
  /** REAL / double precision: an epoch-ms difference that may carry a fraction. */
  queue_rank: DbReal | null;
  max_jobs_override: DbInt | null;
  created_at: DbInt;
  queued_at: DbInt | null;
  started_at: DbInt | null;
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
  /** Tracking bookkeeping (expeditePoll / reschedulePoll); not part of the Job model. */
  poll_hint?: DbBool;
  untracked_at?: DbInt | null;
  untrack_callback?: DbBool;
  deleted_at?: DbInt | null;
}

export interface DeliveryRow {
  id: DbInt;
  user_id: DbInt;
  job_id: DbInt;
  seq: DbInt;
  event: string;
  url: string;
  body: string;
  state: string;
  attempts: DbInt;
  next_attempt_at: DbInt | null;
  last_error: string | null;
  last_status: DbInt | null;
  created_at: DbInt;
  delivered_at: DbInt | null;
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

export function bool(value: DbBool): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value === 't' || value === 'true' || value === '1';
  return Number(value) !== 0;
}

function objectOf<T>(value: DbJson): T | null {
  if (value === null) return null;
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export function userFromRow(row: UserRow): User {
  return {
    id: num(row.id),
    name: row.name,
    replyUrl: row.reply_url,
    createdAt: num(row.created_at),
    queueByDefault: bool(row.queue_by_default),
    maxQueueLength: num(row.max_queue_length),
    maxQueueWaitMs: num(row.max_queue_wait_ms),
    webhookSecret: row.webhook_secret,
    webhookSecretPrev: row.webhook_secret_prev,
    webhookSecretPrevUntil: numOrNull(row.webhook_secret_prev_until),
  };
}

export function tokenFromRow(row: TokenRow): TokenRecord {
  return {
    id: num(row.id),
    userId: num(row.user_id),
    hash: row.hash,
    label: row.label,
    createdAt: num(row.created_at),
    revokedAt: numOrNull(row.revoked_at),
    weight: Number(row.weight),
  };
}

export function accountFromRow(row: AccountRow): Account {
  return {
    userId: num(row.user_id),
    provider: row.provider,
    email: row.email,
    apiKeyEnc: row.api_key_enc,
    maxJobs: num(row.max_jobs),
    state: row.state as AccountState,
    reason: row.reason,
    cooldownUntil: numOrNull(row.cooldown_until),
    webhookId: row.webhook_id,
    webhookSecretEnc: row.webhook_secret_enc,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export function jobFromRow(row: JobRow): Job {
  return {
    id: num(row.id),
    userId: num(row.user_id),
    tokenId: numOrNull(row.token_id),
    provider: row.provider,
    email: row.email,
    pinnedEmail: row.pinned_email,
    type: row.type as JobType,
    state: row.state as JobState,
    // Always text: provider ids may exceed 2^53, so they must never pass through a JS number.
    upstreamId: row.upstream_id === null ? null : String(row.upstream_id),
    traceId: row.trace_id,
    upstream: objectOf<Job['upstream']>(row.upstream_json) ?? { op: '', params: {} },
    request: objectOf<Job['request']>(row.request_json) ?? {},
    replyUrl: row.reply_url,
    replyRef: row.reply_ref,
    priority: num(row.priority),
    queueRank: row.queue_rank === null ? null : Number(row.queue_rank),
    maxJobsOverride: numOrNull(row.max_jobs_override),
    createdAt: num(row.created_at),
    queuedAt: numOrNull(row.queued_at),
    startedAt: numOrNull(row.started_at),
    finishedAt: numOrNull(row.finished_at),
    resultUrl: row.result_url,
    error: row.error,
    upstreamStatus: numOrNull(row.upstream_status),
    result: objectOf<NonNullable<Job['result']>>(row.result_json),
    pollCount: num(row.poll_count),
    nextPollAt: numOrNull(row.next_poll_at),
    leaseToken: row.lease_token,
    leaseExpiresAt: numOrNull(row.lease_expires_at),
    untrackedAt: numOrNull(row.untracked_at),
    untrackCallback: row.untrack_callback === undefined ? false : bool(row.untrack_callback),
    deletedAt: numOrNull(row.deleted_at),
  };
}

export function deliveryFromRow(row: DeliveryRow): Delivery {
  return {
    id: num(row.id),
    userId: num(row.user_id),
    jobId: num(row.job_id),
    seq: num(row.seq),
    event: row.event as OutboxEvent,
    url: row.url,
    body: row.body,
    state: row.state as DeliveryState,
    attempts: num(row.attempts),
    nextAttemptAt: numOrNull(row.next_attempt_at),
    lastError: row.last_error,
    lastStatus: numOrNull(row.last_status),
    createdAt: num(row.created_at),
    deliveredAt: numOrNull(row.delivered_at),
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
    resultJson:
      outcome.result === undefined || outcome.result === null ? null : JSON.stringify(outcome.result),
    keepResult: outcome.result === undefined ? 1 : 0,
  };
}

/**
 * The webhook columns upsertAccount writes, in the keep-flag style of outcomeColumns: `webhook`
 * omitted (undefined) keeps the stored pair on an existing account (re-posting an account without
 * webhook fields must not wipe it) and writes NULLs for a new one; null clears it; a value sets it.
 */
export interface WebhookColumns {
  webhookId: string | null;
  webhookSecretEnc: string | null;
  keepWebhook: 0 | 1;
}

export function webhookColumns(webhook: UpsertAccountInput['webhook']): WebhookColumns {
  return {
    webhookId: webhook?.id ?? null,
    webhookSecretEnc: webhook?.secretEnc ?? null,
    keepWebhook: webhook === undefined ? 1 : 0,
  };
}

/**
 * The columns updateTenantSettings writes, in the same keep-flag style as outcomeColumns: a setting
 * left `undefined` keeps the stored value. `queueByDefault` is given as 0/1 (bind it as a boolean
 * where the column is one).
 */
export interface TenantSettingsColumns {
  replyUrl: string | null;
  keepReplyUrl: 0 | 1;
  queueByDefault: 0 | 1;
  keepQueueByDefault: 0 | 1;
  maxQueueLength: number | null;
  keepMaxQueueLength: 0 | 1;
  maxQueueWaitMs: number | null;
  keepMaxQueueWaitMs: 0 | 1;
}

export function tenantSettingsColumns(settings: TenantSettings): TenantSettingsColumns {
  return {
    replyUrl: settings.replyUrl ?? null,
    keepReplyUrl: settings.replyUrl === undefined ? 1 : 0,
    queueByDefault: settings.queueByDefault ? 1 : 0,
    keepQueueByDefault: settings.queueByDefault === undefined ? 1 : 0,
    maxQueueLength: settings.maxQueueLength ?? null,
    keepMaxQueueLength: settings.maxQueueLength === undefined ? 1 : 0,
    maxQueueWaitMs: settings.maxQueueWaitMs ?? null,
    keepMaxQueueWaitMs: settings.maxQueueWaitMs === undefined ? 1 : 0,
  };
}

/**
 * The columns recordAttempt writes for one attempt (the attempt counter always goes up by one and
 * the lease is always released):
 *   delivered                  → state 'delivered', delivered_at = now, next_attempt_at NULL, last_error NULL
 *   failed, nextAttemptAt set  → stays 'pending', due at nextAttemptAt
 *   failed, nextAttemptAt null → 'dead' (dead-lettered), next_attempt_at NULL
 */
export interface AttemptColumns {
  state: DeliveryState;
  nextAttemptAt: number | null;
  lastError: string | null;
  lastStatus: number | null;
  deliveredAt: number | null;
}

export function attemptColumns(result: AttemptResult, now: number): AttemptColumns {
  if (result.delivered) {
    return {
      state: 'delivered',
      nextAttemptAt: null,
      lastError: null,
      lastStatus: result.status,
      deliveredAt: now,
    };
  }
  return {
    state: result.nextAttemptAt === null ? 'dead' : 'pending',
    nextAttemptAt: result.nextAttemptAt,
    lastError: result.error,
    lastStatus: result.status,
    deliveredAt: null,
  };
}
