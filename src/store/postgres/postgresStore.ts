/**
 * The PostgreSQL Store: several stateless gateway instances share one database, each with its
 * own PostgresStore (one pool). All coordination between instances happens in PostgreSQL — row
 * locks for admission and dispatch, compare-and-swap updates for transitions, leases for tracking
 * and callback delivery — so this class only wires the per-responsibility modules to a pool.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Account } from '../../domain/account.ts';
import type { Job, JobOutcome, JobType } from '../../domain/job.ts';
import type { QueueTurn } from '../../domain/policy/queueOrder.ts';
import type {
  AccountHealthUpdate,
  AccountLoad,
  AttemptResult,
  Delivery,
  DeliveryFilter,
  Dispatched,
  EnqueueInput,
  EnqueueResult,
  IdempotencyRecord,
  JobListFilter,
  JobPage,
  OutboxBuilder,
  ReserveInput,
  ReserveResult,
  Store,
  StoreSnapshot,
  TenantSettings,
  TokenRecord,
  UpsertAccountInput,
  User,
  StoredWebhookSecrets,
} from '../store.ts';
import * as accounts from './accounts.ts';
import { reserve } from './admission.ts';
import * as idempotency from './idempotency.ts';
import * as jobs from './jobs.ts';
import { migrate } from './migrate.ts';
import { channelsFor, notify, type Channels } from './notify.ts';
import * as userSecrets from './userSecrets.ts';
import * as receipts from './webhookReceipts.ts';
import * as outbox from './outbox.ts';
import { createPool, ensureSchema, type PoolOptions } from './pool.ts';
import * as queue from './queue.ts';
import * as snapshots from './snapshot.ts';
import * as sweeping from './sweeping.ts';
import * as tracking from './tracking.ts';
import * as users from './users.ts';

export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  /** Channel names this store notifies on; pass the same schema to listenForChanges(). */
  readonly channels: Channels;
  /** The outbox builder, read by every transition at the time it runs. */
  private readonly outbox: outbox.OutboxRef = { builder: null };

  constructor(
    private readonly pool: pg.Pool,
    readonly schema: string | null,
    /** This process's id in `instances` and on the submits it starts (see beatInstance). */
    readonly instance: string | null = null,
  ) {
    this.channels = channelsFor(schema);
  }

  migrate(): Promise<void> {
    return migrate(this.pool);
  }

  pendingMigrations(): Promise<number> {
    return snapshots.pendingMigrations(this.pool);
  }

  snapshot(): Promise<StoreSnapshot> {
    return snapshots.snapshot(this.pool);
  }

  async close(): Promise<void> {
    if (!this.pool.ended && !this.pool.ending) await this.pool.end();
  }

  // ── tenants and tokens ────────────────────────────────────────────────
  createUser(name: string | null, now: number, webhookSecret: string): Promise<User> {
    return users.createUser(this.pool, name, now, webhookSecret);
  }
  getUser(userId: number): Promise<User | null> {
    return users.getUser(this.pool, userId);
  }
  listUsers(): Promise<User[]> {
    return users.listUsers(this.pool);
  }
  setUserReplyUrl(userId: number, replyUrl: string | null): Promise<void> {
    return users.setUserReplyUrl(this.pool, userId, replyUrl);
  }
  updateTenantSettings(userId: number, settings: TenantSettings): Promise<User | null> {
    return users.updateTenantSettings(this.pool, userId, settings);
  }
  rotateWebhookSecret(userId: number, secret: string, prevUntil: number): Promise<User | null> {
    return users.rotateWebhookSecret(this.pool, userId, secret, prevUntil);
  }
  setTokenWeight(userId: number, tokenId: number, weight: number): Promise<boolean> {
    return users.setTokenWeight(this.pool, userId, tokenId, weight);
  }
  addToken(userId: number, hash: string, label: string | null, now: number): Promise<TokenRecord> {
    return users.addToken(this.pool, userId, hash, label, now);
  }
  activeTokens(userId: number): Promise<TokenRecord[]> {
    return users.activeTokens(this.pool, userId);
  }
  listTokens(userId: number): Promise<TokenRecord[]> {
    return users.listTokens(this.pool, userId);
  }
  async revokeToken(userId: number, tokenId: number, now: number): Promise<boolean> {
    const revoked = await users.revokeToken(this.pool, userId, tokenId, now);
    // Other instances cache verified tokens for a few seconds; this tells them to forget now.
    if (revoked) await notify(this.pool, this.channels.slots, { event: 'token_revoked', userId, tokenId });
    return revoked;
  }
  listWebhookSecrets(): Promise<StoredWebhookSecrets[]> {
    return userSecrets.listWebhookSecrets(this.pool);
  }
  replaceWebhookSecrets(from: StoredWebhookSecrets, to: Omit<StoredWebhookSecrets, 'userId'>): Promise<boolean> {
    return userSecrets.replaceWebhookSecrets(this.pool, from, to);
  }
  webhookReceiptSeen(receipt: string, now: number): Promise<boolean> {
    return receipts.webhookReceiptSeen(this.pool, receipt, now);
  }
  recordWebhookReceipt(receipt: string, expiresAt: number, now: number): Promise<void> {
    return receipts.recordWebhookReceipt(this.pool, receipt, expiresAt, now);
  }

  // ── accounts ──────────────────────────────────────────────────────────
  upsertAccount(input: UpsertAccountInput): Promise<{ account: Account; created: boolean }> {
    return accounts.upsertAccount(this.pool, this.channels, input);
  }
  getAccount(userId: number, email: string): Promise<Account | null> {
    return accounts.getAccount(this.pool, userId, email);
  }
  listAccounts(userId: number): Promise<Account[]> {
    return accounts.listAccounts(this.pool, userId);
  }
  deleteAccount(userId: number, email: string, now: number): Promise<{ cancelled: Job[] } | null> {
    return accounts.deleteAccount(this.pool, this.channels, this.outbox, userId, email, now);
  }
  setAccountHealth(userId: number, email: string, update: AccountHealthUpdate): Promise<void> {
    return accounts.setAccountHealth(this.pool, this.channels, userId, email, update);
  }

  // ── admission ─────────────────────────────────────────────────────────
  reserve(input: ReserveInput): Promise<ReserveResult> {
    return reserve(this.pool, input);
  }
  markRunning(jobId: number, upstreamId: string, nextPollAt: number, now: number): Promise<boolean> {
    return jobs.markRunning(this.pool, this.channels, this.outbox, jobId, upstreamId, nextPollAt, now);
  }
  finish(jobId: number, outcome: JobOutcome, now: number, opts?: { from?: Job['state'][]; leaseToken?: string }): Promise<Job | null> {
    return jobs.finish(this.pool, this.channels, this.outbox, jobId, outcome, now, opts);
  }

  // ── idempotency keys ──────────────────────────────────────────────────
  getIdempotencyKey(tokenId: number, key: string, now: number): Promise<IdempotencyRecord | null> {
    return idempotency.getKey(this.pool, tokenId, key, now);
  }
  recordIdempotentAnswer(tokenId: number, key: string, jobId: number, answer: { status: number; body: string }, now: number): Promise<boolean> {
    return idempotency.recordAnswer(this.pool, tokenId, key, jobId, answer, now);
  }
  deleteExpiredIdempotencyKeys(now: number, limit: number): Promise<number> {
    return idempotency.deleteExpired(this.pool, now, limit);
  }

  // ── queue ─────────────────────────────────────────────────────────────
  enqueue(input: EnqueueInput, maxQueueLength: number): Promise<EnqueueResult> {
    return queue.enqueue(this.pool, this.channels, input, maxQueueLength);
  }
  dispatch(userId: number, now: number, random?: () => number): Promise<Dispatched | null> {
    return queue.dispatch(this.pool, userId, now, random);
  }
  dispatchBatch(userId: number, now: number, limit: number, random?: () => number): Promise<Dispatched[]> {
    return queue.dispatchBatch(this.pool, userId, now, limit, random);
  }
  requeue(jobId: number, _now: number): Promise<boolean> {
    return queue.requeue(this.pool, this.channels, jobId);
  }
  queuedUsers(): Promise<number[]> {
    return queue.queuedUsers(this.pool);
  }
  queuedJobs(userId: number, limit: number): Promise<Job[]> {
    return queue.queuedJobs(this.pool, userId, limit);
  }
  queueTurns(userId: number): Promise<QueueTurn[]> {
    return queue.queueTurns(this.pool, userId);
  }
  countQueued(userId: number): Promise<number> {
    return queue.countQueued(this.pool, userId);
  }
  expireQueued(now: number, error: string): Promise<Job[]> {
    return queue.expireQueued(this.pool, this.channels, this.outbox, now, error);
  }

  // ── callbacks outbox ──────────────────────────────────────────────────
  setOutboxBuilder(builder: OutboxBuilder | null): void {
    this.outbox.builder = builder;
  }
  claimDueDeliveries(owner: string, now: number, leaseMs: number, limit: number, perUser?: number): Promise<Delivery[]> {
    return outbox.claimDueDeliveries(this.pool, owner, now, leaseMs, limit, perUser ?? null);
  }
  recordAttempt(deliveryId: number, leaseToken: string, result: AttemptResult, now: number): Promise<boolean> {
    return outbox.recordAttempt(this.pool, this.channels, deliveryId, leaseToken, result, now);
  }
  nextDeliveryDue(): Promise<number | null> {
    return outbox.nextDeliveryDue(this.pool);
  }
  listDeliveries(userId: number, filter: DeliveryFilter): Promise<Delivery[]> {
    return outbox.listDeliveries(this.pool, userId, filter);
  }
  getDelivery(userId: number, deliveryId: number): Promise<Delivery | null> {
    return outbox.getDelivery(this.pool, userId, deliveryId);
  }
  redeliver(userId: number, filter: { deliveryId?: number; since?: number }, now: number): Promise<number> {
    return outbox.redeliver(this.pool, this.channels, userId, filter, now);
  }

  // ── reads ─────────────────────────────────────────────────────────────
  getJob(jobId: number): Promise<Job | null> {
    return jobs.getJob(this.pool, jobId);
  }
  findJob(userId: number, email: string, type: JobType, upstreamId: string): Promise<Job | null> {
    return jobs.findJob(this.pool, userId, email, type, upstreamId);
  }
  activeJobs(userId: number): Promise<Job[]> {
    return jobs.activeJobs(this.pool, userId);
  }
  accountLoads(userId: number): Promise<AccountLoad[]> {
    return accounts.accountLoads(this.pool, userId);
  }
  listJobs(userId: number, filter: JobListFilter): Promise<JobPage> {
    return jobs.listJobs(this.pool, userId, filter);
  }
  untrackJob(jobId: number, now: number, callback: boolean): Promise<Job | null> {
    return jobs.untrackJob(this.pool, this.channels, jobId, now, callback);
  }
  hideJob(jobId: number, now: number): Promise<Job | null> {
    return jobs.hideJob(this.pool, jobId, now);
  }
  recentFailures(userId: number, since: number, limit: number): Promise<Job[]> {
    return jobs.recentFailures(this.pool, userId, since, limit);
  }

  // ── tracking ──────────────────────────────────────────────────────────
  claimDuePolls(owner: string, now: number, leaseMs: number, limit: number): Promise<Job[]> {
    return tracking.claimDuePolls(this.pool, owner, now, leaseMs, limit);
  }
  reschedulePoll(jobId: number, leaseToken: string, nextPollAt: number, upstreamStatus: number | null, now: number): Promise<boolean> {
    return tracking.reschedulePoll(this.pool, jobId, leaseToken, nextPollAt, upstreamStatus, now);
  }
  renewLeases(owner: string, jobIds: number[], now: number, leaseMs: number): Promise<number[]> {
    return tracking.renewLeases(this.pool, owner, jobIds, now, leaseMs);
  }
  releaseLeases(owner: string): Promise<void> {
    return tracking.releaseLeases(this.pool, this.channels, owner);
  }
  nextPollDue(): Promise<number | null> {
    return tracking.nextPollDue(this.pool);
  }
  jobsByUpstreamId(upstreamId: string): Promise<Job[]> {
    return jobs.jobsByUpstreamId(this.pool, upstreamId);
  }
  expeditePoll(jobId: number, now: number): Promise<boolean> {
    return tracking.expeditePoll(this.pool, this.channels, jobId, now);
  }

  // ── sweeping ──────────────────────────────────────────────────────────
  expireJobs(startedBefore: number, now: number, error: string): Promise<Job[]> {
    return sweeping.expireJobs(this.pool, this.channels, this.outbox, startedBefore, now, error);
  }
  claimStaleSubmitting(owner: string, before: number, now: number, leaseMs: number, limit: number, silentSince?: number): Promise<Job[]> {
    return sweeping.claimStaleSubmitting(this.pool, owner, before, now, leaseMs, limit, silentSince ?? null);
  }
  async beatInstance(now: number): Promise<void> {
    if (this.instance) await sweeping.beatInstance(this.pool, this.instance, now);
  }
}

/**
 * Opens a store on `url`. With `schema`, every pooled connection uses that schema (created if
 * missing), which is how tests isolate themselves and how several deployments share a server.
 * Call migrate() before use.
 */
export async function openPostgresStore(url: string, opts: PoolOptions = {}): Promise<PostgresStore> {
  const instance = opts.instance ?? randomUUID();
  const pool = createPool(url, { ...opts, instance });
  if (opts.schema) {
    try {
      await ensureSchema(pool, opts.schema);
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
  }
  return new PostgresStore(pool, opts.schema ?? null, instance);
}
