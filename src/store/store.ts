/**
 * The persistence contract. Every implementation (sqlite/, postgres/) passes the same
 * conformance suite (test/store/conformance.ts). All methods are async so that the
 * embedded SQLite store and the networked PostgreSQL store are interchangeable.
 *
 * Times are epoch milliseconds passed in by the caller (the store never reads the clock),
 * which keeps behaviour deterministic under test.
 */
import type { Account, AccountState } from '../domain/account.ts';
import type { Job, JobOutcome, JobType, Json, UpstreamRequest } from '../domain/job.ts';

export interface User {
  id: number;
  name: string | null;
  /** Tenant-wide default callback URL (useapi's POST /v2/account). */
  replyUrl: string | null;
  createdAt: number;
}

export interface TokenRecord {
  id: number;
  userId: number;
  /** Hex SHA-256 of the whole token text; the secret itself is never stored. */
  hash: string;
  label: string | null;
  createdAt: number;
  revokedAt: number | null;
}

export interface UpsertAccountInput {
  userId: number;
  email: string;
  apiKeyEnc: string;
  maxJobs: number;
  now: number;
}

export interface AccountHealthUpdate {
  state: AccountState;
  reason: string | null;
  cooldownUntil: number | null;
  now: number;
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
}

export type ReserveResult =
  | { ok: true; job: Job; account: Account }
  | { ok: false; reason: 'no_accounts' | 'none_free' }
  | { ok: false; reason: 'unknown_account' }
  | { ok: false; reason: 'account_full' | 'account_unhealthy'; account: Account };

/** One row of /scheduler/available: an account and how many slots its jobs hold now. */
export interface AccountLoad {
  account: Account;
  executing: number;
}

export interface Lease {
  owner: string;
  token: string;
  expiresAt: number;
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  /** Applies migrations; safe to call from several processes at once. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  // ── tenants and tokens ────────────────────────────────────────────────
  createUser(name: string | null, now: number): Promise<User>;
  getUser(userId: number): Promise<User | null>;
  setUserReplyUrl(userId: number, replyUrl: string | null): Promise<void>;
  addToken(userId: number, hash: string, label: string | null, now: number): Promise<TokenRecord>;
  /** Active (not revoked) tokens of a user; used for the constant-time compare. */
  activeTokens(userId: number): Promise<TokenRecord[]>;
  listTokens(userId: number): Promise<TokenRecord[]>;
  /** True when an active token was revoked by this call. */
  revokeToken(userId: number, tokenId: number, now: number): Promise<boolean>;

  // ── accounts ──────────────────────────────────────────────────────────
  /** Creates or replaces an account; re-posting clears any error or cool-down state. */
  upsertAccount(input: UpsertAccountInput): Promise<{ account: Account; created: boolean }>;
  getAccount(userId: number, email: string): Promise<Account | null>;
  listAccounts(userId: number): Promise<Account[]>;
  /**
   * Deletes the account and, in the same transaction, moves its slot-holding jobs to
   * `cancelled` (freeing their slots). Returns the jobs it cancelled, or null if unknown.
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
  /** submitting → running with the upstream id (compare-and-swap). False when the job is no longer submitting. */
  markRunning(jobId: number, upstreamId: string, nextPollAt: number, now: number): Promise<boolean>;
  /**
   * Compare-and-swap to a terminal state from any non-terminal state (or only from `from`
   * when given) and, when `leaseToken` is given, only while that lease is held.
   * Returns the updated job for the single winner, null for everyone else.
   */
  finish(jobId: number, outcome: JobOutcome, now: number, opts?: { from?: Job['state'][]; leaseToken?: string }): Promise<Job | null>;

  // ── reads (never block writers) ───────────────────────────────────────
  getJob(jobId: number): Promise<Job | null>;
  findJob(userId: number, email: string, type: JobType, upstreamId: string): Promise<Job | null>;
  /** Slot-holding jobs (submitting + running) of a user, oldest first. */
  activeJobs(userId: number): Promise<Job[]>;
  /** Every account of a user with the number of slots its jobs hold. */
  accountLoads(userId: number): Promise<AccountLoad[]>;

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

  // ── sweeping ──────────────────────────────────────────────────────────
  /** Running or submitting jobs whose slot was taken before `startedBefore` become timed_out; returns them. */
  expireJobs(startedBefore: number, now: number, error: string): Promise<Job[]>;
  /**
   * Claims jobs stuck in `submitting` since before `before` (their submitter died),
   * leasing them to `owner` so only one instance reconciles each.
   */
  claimStaleSubmitting(owner: string, before: number, now: number, leaseMs: number, limit: number): Promise<Job[]>;
}
