/**
 * The persistence contract. Every implementation (sqlite/, postgres/) passes the same
 * conformance suite (test/store/conformance.ts). All methods are async so that the
 * embedded SQLite store and the networked PostgreSQL store are interchangeable.
 *
 * Times are epoch milliseconds passed in by the caller (the store never reads the clock),
 * which keeps behaviour deterministic under test.
 */
import type { Account, AccountState } from '../domain/account.ts';
import type { Job, JobOutcome, JobState, JobType, Json, UpstreamRequest } from '../domain/job.ts';

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

export const DEFAULT_TENANT_SETTINGS = { queueByDefault: false, maxQueueLength: 100_000, maxQueueWaitMs: 60 * 60_000 } as const;

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
  email: string;
  apiKeyEnc: string;
  maxJobs: number;
  /** The account's PixVerse webhook: omitted keeps the stored one, null removes it. */
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

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  /** Applies migrations; safe to call from several processes at once. */
  migrate(): Promise<void>;
  /** Migrations this code knows that the database has not recorded (0 when ready); a query, so it also proves the store answers. */
  pendingMigrations(): Promise<number>;
  close(): Promise<void>;

  // ── tenants and tokens ────────────────────────────────────────────────
  /** `webhookSecret` is generated by the caller (the store never invents secrets). */
  createUser(name: string | null, now: number, webhookSecret: string): Promise<User>;
  getUser(userId: number): Promise<User | null>;
  /** Every tenant, oldest first (the admin listing). */
  listUsers(): Promise<User[]>;
  setUserReplyUrl(userId: number, replyUrl: string | null): Promise<void>;
  updateTenantSettings(userId: number, settings: TenantSettings): Promise<User | null>;
  /** New secret in; the old one stays valid for signing until `prevUntil`. */
  rotateWebhookSecret(userId: number, secret: string, prevUntil: number): Promise<User | null>;
  setTokenWeight(userId: number, tokenId: number, weight: number): Promise<boolean>;
  addToken(userId: number, hash: string, label: string | null, now: number): Promise<TokenRecord>;
  /** Active (not revoked) tokens of a user; used for the constant-time compare. */
  activeTokens(userId: number): Promise<TokenRecord[]>;
  listTokens(userId: number): Promise<TokenRecord[]>;
  /** True when an active token was revoked by this call. */
  revokeToken(userId: number, tokenId: number, now: number): Promise<boolean>;
  /** Every tenant's signing secrets as stored; for sealing clear-text rows at start. */
  listWebhookSecrets(): Promise<StoredWebhookSecrets[]>;
  /** Replaces a tenant's secrets if they still equal `from` (compare-and-swap); true when replaced. */
  replaceWebhookSecrets(from: StoredWebhookSecrets, to: Omit<StoredWebhookSecrets, 'userId'>): Promise<boolean>;

  // ── accounts ──────────────────────────────────────────────────────────
  /** Creates or replaces an account; re-posting clears any error or cool-down state. */
  upsertAccount(input: UpsertAccountInput): Promise<{ account: Account; created: boolean }>;
  getAccount(userId: number, email: string): Promise<Account | null>;
  listAccounts(userId: number): Promise<Account[]>;
  /**
   * Deletes the account and, in the same transaction, moves its slot-holding jobs and the
   * queued jobs pinned to it to `cancelled` (freeing their slots). Returns the jobs it
   * cancelled, or null if unknown.
   */
  deleteAccount(userId: number, email: string, now: number): Promise<{ cancelled: Job[] } | null>;
  setAccountHealth(userId: number, email: string, update: AccountHealthUpdate): Promise<void>;

  // ── admission ─────────────────────────────────────────────────────────
  /**
   * Atomically chooses an account and inserts the job in `submitting` (design invariant 1).
   * Counting and inserting happen under one lock, so concurrent callers can never
   * push an account above its limit.
   */
  reserve(input: ReserveInput): Promise<ReserveResult>;
  /** submitting → running with the upstream id (compare-and-swap); clears any lease. False when the job is no longer submitting. */
  markRunning(jobId: number, upstreamId: string, nextPollAt: number, now: number): Promise<boolean>;
  /**
   * Compare-and-swap to a terminal state from any non-terminal state, including `queued`
   * (or only from `from` when given) and, when `leaseToken` is given, only while that lease is held.
   * Returns the updated job for the single winner, null for everyone else.
   */
  finish(jobId: number, outcome: JobOutcome, now: number, opts?: { from?: Job['state'][]; leaseToken?: string }): Promise<Job | null>;

  // ── queue (late binding) ──────────────────────────────────────────────
  /**
   * Inserts a `queued` job (started_at null, email null unless pinned, pinned_email set).
   * Counting the tenant's queued jobs against `maxQueueLength` and inserting happen atomically.
   * A token that had nothing queued joins at the tenant's current virtual time, so a long
   * idle token cannot claim a burst of dispatches to "catch up".
   */
  enqueue(input: EnqueueInput, maxQueueLength: number): Promise<EnqueueResult>;
  /**
   * One atomic step of late binding for a tenant: among healthy accounts with a free slot
   * (limit: the job's maxJobsOverride ?? the account's maxJobs), pick the next queued job
   * that fits one of them — fairly across tokens (the token with the smallest virtual pass
   * wins, ties to the lower token id; a job without token counts as token 0 with weight 1),
   * then by priority (high first), then lowest queueRank, then lowest id (fairness.ts
   * compareQueued) — bind it to its pinned account or a random
   * fitting one, move it to `submitting` with started_at = now, and advance that token's
   * pass by 1/weight. Null when nothing queued fits a free slot.
   */
  dispatch(userId: number, now: number, random?: () => number): Promise<Dispatched | null>;
  /**
   * Up to `limit` dispatch steps in ONE transaction, with exactly the choices that many
   * successive dispatch() calls would make. Fills every free slot after a burst with one
   * round of locking instead of one per slot. Empty when nothing fits.
   */
  dispatchBatch(userId: number, now: number, limit: number, random?: () => number): Promise<Dispatched[]>;
  /**
   * submitting → queued again (compare-and-swap), unbinding the account unless pinned; used
   * when a dispatched job's submit met a busy or failing account. The job keeps its queueRank (a job
   * admitted directly by reserve(), which has none, gets its createdAt). False if no longer submitting.
   */
  requeue(jobId: number, now: number): Promise<boolean>;
  /** Tenants that have queued jobs (dispatcher start-up and backstop). */
  queuedUsers(): Promise<number[]>;
  /**
   * A tenant's first `limit` queued jobs by (priority desc, queueRank, id). Per token that is a prefix of
   * the dispatch order, so replaying the fair turns over them gives the first dispatch positions.
   */
  queuedJobs(userId: number, limit: number): Promise<Job[]>;
  countQueued(userId: number): Promise<number>;
  /** Queued jobs that waited longer than their tenant's maxQueueWaitMs become timed_out; returns them. */
  expireQueued(now: number, error: string): Promise<Job[]>;

  // ── callbacks outbox (design invariant 5) ─────────────────────────────
  /**
   * Registers how a job state change becomes an outbox entry. Every terminal transition
   * (finish, expireJobs, expireQueued, deleteAccount) calls it with 'final', and markRunning
   * with 'progress', INSIDE the transaction that changes the job, and inserts the entry it
   * returns (null: nothing to deliver) as a pending delivery due at `now`. So a final state
   * is never committed without its callback.
   */
  setOutboxBuilder(builder: OutboxBuilder | null): void;
  /**
   * Claims pending deliveries due at `now` whose lease is free or expired and that are the
   * lowest undelivered seq of their job (later events of a job wait for earlier ones).
   */
  /** `perUser`: at most this many deliveries of one tenant leased at once (all deliverers), claimed ones included. */
  claimDueDeliveries(owner: string, now: number, leaseMs: number, limit: number, perUser?: number): Promise<Delivery[]>;
  /** Records one attempt, fenced by the lease token; releases the lease. False if the lease was lost. */
  recordAttempt(deliveryId: number, leaseToken: string, result: AttemptResult, now: number): Promise<boolean>;
  /** Earliest next_attempt_at among pending deliveries (respecting live leases), or null. */
  nextDeliveryDue(): Promise<number | null>;
  /** Newest first. */
  listDeliveries(userId: number, filter: DeliveryFilter): Promise<Delivery[]>;
  getDelivery(userId: number, deliveryId: number): Promise<Delivery | null>;
  /** Dead (or, with `deliveryId`, dead or delivered) deliveries back to pending, due now, attempts kept (a redelivery is one more attempt, not a fresh schedule); returns how many. */
  redeliver(userId: number, filter: { deliveryId?: number; since?: number }, now: number): Promise<number>;

  // ── reads (never block writers) ───────────────────────────────────────
  getJob(jobId: number): Promise<Job | null>;
  /** Cluster-wide aggregates for metrics (all tenants). */
  snapshot(): Promise<StoreSnapshot>;
  findJob(userId: number, email: string, type: JobType, upstreamId: string): Promise<Job | null>;
  /** Slot-holding jobs (submitting + running) of a user, oldest first (by started_at, then id). */
  activeJobs(userId: number): Promise<Job[]>;
  /** Every account of a user with the number of slots its jobs hold. */
  accountLoads(userId: number): Promise<AccountLoad[]>;
  /**
   * A tenant's jobs of one type, newest first (by id), leaving out deleted ones and jobs the client
   * never got an id for (an immediate create whose submit failed): queued, in flight and final.
   */
  listJobs(userId: number, filter: JobListFilter): Promise<JobPage>;

  // ── untrack and delete ────────────────────────────────────────────────
  /**
   * Stops tracking an in-flight job (submitting or running): compare-and-swap on `untracked_at IS
   * NULL`, so its slot is freed exactly once, here. The job stays in flight and is still polled
   * (holding no slot) until PixVerse ends it; `callback` says whether its end is still called back.
   * Null when the job is not in flight or already untracked.
   */
  untrackJob(jobId: number, now: number, callback: boolean): Promise<Job | null>;
  /** Hides a job from lists and reads (any state); null when unknown or already hidden. */
  hideJob(jobId: number, now: number): Promise<Job | null>;

  /** A tenant's jobs that ended failed, moderated or timed_out at or after `since`, latest first. */
  recentFailures(userId: number, since: number, limit: number): Promise<Job[]>;

  // ── tracking (leases) ─────────────────────────────────────────────────
  /**
   * Claims up to `limit` running jobs whose next poll is due and whose lease is free or
   * expired, giving each a fresh lease token. Claimed jobs are returned with that token.
   */
  claimDuePolls(owner: string, now: number, leaseMs: number, limit: number): Promise<Job[]>;
  /** Records a non-final poll and releases the lease (fenced by the lease token). False if the lease was lost. */
  reschedulePoll(jobId: number, leaseToken: string, nextPollAt: number, upstreamStatus: number | null, now: number): Promise<boolean>;
  /** Extends leases held by `owner` on the given jobs; returns the ids still held. */
  renewLeases(owner: string, jobIds: number[], now: number, leaseMs: number): Promise<number[]>;
  /** Drops every lease of `owner` (graceful shutdown) so other instances pick the jobs up at once. */
  releaseLeases(owner: string): Promise<void>;
  /**
   * Earliest time a running job's poll can be claimed, or null: its next_poll_at, or the end of
   * its live lease if another owner holds it (so a tracker never spins on someone else's job).
   */
  nextPollDue(): Promise<number | null>;
  /**
   * Jobs (any state, any tenant) whose upstream id is `upstreamId`, newest first: how a PixVerse
   * webhook, which names only the video id, finds its job.
   */
  jobsByUpstreamId(upstreamId: string): Promise<Job[]>;
  /** True when a provider webhook delivery with this receipt was acted on and has not expired. */
  webhookReceiptSeen(receipt: string, now: number): Promise<boolean>;
  /** Remembers a delivery acted on until `expiresAt` (and forgets expired ones). */
  recordWebhookReceipt(receipt: string, expiresAt: number, now: number): Promise<void>;
  /**
   * A running job's poll becomes due at `now` (a webhook said it ended). When a poll of the job is
   * in flight (leased), the hint is remembered: that poll's reschedulePoll then makes the job due
   * at once instead of at its computed time, because its answer may predate the webhook. A claim
   * clears the hint. False when the job is not running.
   */
  expeditePoll(jobId: number, now: number): Promise<boolean>;

  // ── idempotency keys ──────────────────────────────────────────────────
  /** The live (not expired at `now`) record of a token's key, or null. */
  getIdempotencyKey(tokenId: number, key: string, now: number): Promise<IdempotencyRecord | null>;
  /**
   * Stores the first answer of a live key that has none yet and is held by `jobId` (only the request
   * that claimed the key for that job answers it). False when there is no such row.
   */
  recordIdempotentAnswer(tokenId: number, key: string, jobId: number, answer: { status: number; body: string }, now: number): Promise<boolean>;
  /** Deletes up to `limit` keys expired at `now`; returns how many. */
  deleteExpiredIdempotencyKeys(now: number, limit: number): Promise<number>;

  // ── sweeping ──────────────────────────────────────────────────────────
  /** Running or submitting jobs whose slot was taken before `startedBefore` become timed_out; returns them. (Queued jobs are not touched.) */
  expireJobs(startedBefore: number, now: number, error: string): Promise<Job[]>;
  /**
   * Claims jobs stuck in `submitting` since before `before` (their submitter died),
   * leasing them to `owner` so only one instance reconciles each. With `silentSince`, a store
   * shared by several instances also claims jobs whose submitting instance has not called
   * beatInstance() since then (it died), however young the job.
   */
  claimStaleSubmitting(owner: string, before: number, now: number, leaseMs: number, limit: number, silentSince?: number): Promise<Job[]>;
  /**
   * This process is alive at `now` (PostgreSQL: its row in `instances`). A no-op for a store
   * that only one process opens (SQLite), where a restart itself says the old process is gone.
   */
  beatInstance(now: number): Promise<void>;
}
