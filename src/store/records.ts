/** The records the Store contract (store.ts) reads and writes: inputs, results and views. */
import type { Account, AccountState } from '../domain/account.ts';
import type { Job, JobState, JobType, Json, UpstreamRequest } from '../domain/job.ts';

export interface User {
  id: number;
  name: string | null;
  /** Tenant-wide default callback URL (useapi's POST /v2/account). */
  replyUrl: string | null;
  createdAt: number;
  /** Creates wait in the queue instead of getting a 429 unless the body says `"queue": false`. */
  queueByDefault: boolean;
  /** Most jobs this tenant may have queued at once. */
  maxQueueLength: number;
  /** A job queued longer than this ends as timed_out. */
  maxQueueWaitMs: number;
  /** Standard Webhooks signing secret ("whsec_" + base64); created with the user. */
  webhookSecret: string;
  /** The secret before the last rotation, still used for signing until `webhookSecretPrevUntil`. */
  webhookSecretPrev: string | null;
  webhookSecretPrevUntil: number | null;
}

export interface TenantSettings {
  replyUrl?: string | null;
  queueByDefault?: boolean;
  maxQueueLength?: number;
  maxQueueWaitMs?: number;
}

export const DEFAULT_TENANT_SETTINGS = {
  queueByDefault: false,
  maxQueueLength: 100_000,
  maxQueueWaitMs: 60 * 60_000,
} as const;

export interface TokenRecord {
  id: number;
  userId: number;
  /** Hex SHA-256 of the whole token text; the secret itself is never stored. */
  hash: string;
  label: string | null;
  createdAt: number;
  revokedAt: number | null;
  /** Share of the tenant's queue this token gets relative to its other tokens (default 1). */
  weight: number;
}

export interface UpsertAccountInput {
  userId: number;
  /**
   * The provider of a new account; an existing account keeps its own. Omitted: the schema's default,
   * the provider of every account written before accounts recorded theirs.
   */
  provider?: string;
  email: string;
  apiKeyEnc: string;
  maxJobs: number;
  /** The account's provider webhook: omitted keeps the stored one, null removes it. */
  webhook?: { id: string; secretEnc: string } | null;
  now: number;
}

export interface AccountHealthUpdate {
  state: AccountState;
  reason: string | null;
  cooldownUntil: number | null;
  now: number;
}

export interface EnqueueInput {
  userId: number;
  /** The provider that is to run the job (see Job.provider). */
  provider: string;
  tokenId: number | null;
  /** Pinned account (must exist) or null for any healthy account. */
  email: string | null;
  maxJobsOverride: number | null;
  type: JobType;
  traceId: string;
  upstream: UpstreamRequest;
  request: { [key: string]: Json };
  replyUrl: string | null;
  replyRef: string | null;
  priority: number;
  /** See Job.queueRank. Any finite number, kept exactly (fractions too); NaN or ±Infinity is a RangeError. */
  queueRank: number;
  now: number;
  /** Claim this Idempotency-Key in the transaction that queues the job. */
  idempotency?: IdempotencyClaim;
}

export type EnqueueResult =
  | { ok: true; job: Job }
  | { ok: false; reason: 'key_taken' }
  | { ok: false; reason: 'queue_full'; queued: number }
  | { ok: false; reason: 'unknown_account' | 'no_accounts' };

/** A queued job moved to `submitting` on an account with a free slot. */
export interface Dispatched {
  job: Job;
  account: Account;
}

/** What the store writes to the outbox when a job changes state (see setOutboxBuilder). */
export interface OutboxEntry {
  url: string;
  body: string;
}
export type OutboxEvent = 'final' | 'progress';
export type OutboxBuilder = (job: Job, event: OutboxEvent) => OutboxEntry | null;

export const DELIVERY_STATES = ['pending', 'delivered', 'dead'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export interface Delivery {
  id: number;
  userId: number;
  jobId: number;
  /** Order of this delivery among its job's deliveries (1, 2, …); delivered strictly in order. */
  seq: number;
  event: OutboxEvent;
  url: string;
  body: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: number | null;
  lastError: string | null;
  lastStatus: number | null;
  createdAt: number;
  deliveredAt: number | null;
  leaseToken: string | null;
  leaseExpiresAt: number | null;
}

export type AttemptResult =
  | { delivered: true; status: number }
  /** nextAttemptAt null: no more attempts, the delivery is dead-lettered. */
  | { delivered: false; status: number | null; error: string; nextAttemptAt: number | null };

export interface DeliveryFilter {
  jobId?: number;
  state?: DeliveryState;
  /** Deliveries created at or after this time. */
  since?: number;
  limit: number;
}

export interface ReserveInput {
  userId: number;
  /** The provider that is to run the job (see Job.provider). */
  provider: string;
  tokenId: number | null;
  /** Pinned account; when absent any healthy account with a free slot is chosen at random. */
  email: string | null;
  /** Per-request maxJobs override (useapi): the slot limit used for this admission. */
  maxJobsOverride: number | null;
  type: JobType;
  traceId: string;
  upstream: UpstreamRequest;
  request: { [key: string]: Json };
  replyUrl: string | null;
  replyRef: string | null;
  now: number;
  /** Uniform [0,1) source used to pick among candidates; injectable for tests. */
  random?: () => number;
  /** Claim this Idempotency-Key in the transaction that takes the slot. */
  idempotency?: IdempotencyClaim;
}

export type ReserveResult =
  | { ok: true; job: Job; account: Account }
  /** A live row already holds the Idempotency-Key: nothing was inserted. */
  | { ok: false; reason: 'key_taken' }
  | { ok: false; reason: 'no_accounts' | 'none_free' }
  | { ok: false; reason: 'unknown_account' }
  | { ok: false; reason: 'account_full' | 'account_unhealthy'; account: Account };

/**
 * An Idempotency-Key taken by a create, scoped to the caller's token (tokenId of the reserve or
 * enqueue input; null counts as 0). Written in the same transaction as the job, so a job and
 * the key that asked for it are committed together or not at all.
 */
export interface IdempotencyClaim {
  key: string;
  /** Hash of method, route and canonical body: the same key with another request is a conflict. */
  fingerprint: string;
  expiresAt: number;
  /**
   * A retry on another account inside the same create: the row already written for this job
   * moves to the new job instead of a second row being claimed.
   */
  replacesJobId?: number;
}

/** A stored Idempotency-Key with the first answer once it is known (status and body both null before). */
export interface IdempotencyRecord {
  tokenId: number;
  key: string;
  userId: number;
  fingerprint: string;
  jobId: number;
  status: number | null;
  body: string | null;
  createdAt: number;
  expiresAt: number;
}

/** One row of /scheduler/available: an account and how many slots its jobs hold now. */
export interface AccountLoad {
  account: Account;
  executing: number;
}

/** GET /videos|images|music: one page of a tenant's visible jobs of one type, newest first. */
export interface JobListFilter {
  type: JobType;
  /** Only jobs on (or pinned to) this account. */
  email?: string;
  limit: number;
  offset: number;
}

export interface JobPage {
  jobs: Job[];
  /** All jobs matching the filter, not just this page. */
  total: number;
}

export interface Lease {
  owner: string;
  token: string;
  expiresAt: number;
}

/** A tenant's callback signing secrets exactly as stored (see callbacks/secrets.ts for sealing). */
export interface StoredWebhookSecrets {
  userId: number;
  current: string;
  previous: string | null;
}

/** One account's load, across tenants (metrics). */
export interface AccountSlots {
  userId: number;
  email: string;
  maxJobs: number;
  /** Jobs holding a slot (submitting or running). */
  executing: number;
  state: AccountState;
}

/**
 * Cluster-wide figures read in one pass for the metrics scrape: every tenant, aggregates only, each
 * served by a partial index over live rows so the cost does not grow with finished history.
 */
export interface StoreSnapshot {
  accounts: AccountSlots[];
  /** Jobs not yet final, by state, type and account (email null: a queued job not yet bound). */
  liveJobs: { userId: number; state: JobState; type: JobType; email: string | null; count: number }[];
  deliveries: { pending: number; dead: number; oldestPendingCreatedAt: number | null };
}
