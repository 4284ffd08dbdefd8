/**
 * SqliteStore: the embedded Store. Composes one statement family per responsibility over a
 * single connection. better-sqlite3 is synchronous; methods are `async` only to satisfy the
 * shared contract (a thrown SQLite error becomes a rejected promise).
 */
import type { Account } from '../../domain/account.ts';
import type { Job, JobOutcome, JobType } from '../../domain/job.ts';
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
import { AccountQueries } from './accounts.ts';
import { AdmissionQueries } from './admission.ts';
import { openDatabase, StatementCache, type Db } from './database.ts';
import { GroupCommit } from './groupCommit.ts';
import { IdempotencyQueries } from './idempotency.ts';
import { JobQueries } from './jobs.ts';
import { migrate } from './migrations.ts';
import { Outbox } from './outbox.ts';
import { QueueQueries } from './queue.ts';
import { SnapshotQueries } from './snapshot.ts';
import { TrackingQueries } from './tracking.ts';
import { UserQueries } from './users.ts';
import { UserSecretQueries } from './userSecrets.ts';
import { WebhookReceiptQueries } from './webhookReceipts.ts';

export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  private readonly users: UserQueries;
  private readonly userSecrets: UserSecretQueries;
  private readonly receipts: WebhookReceiptQueries;
  private readonly accounts: AccountQueries;
  private readonly admission: AdmissionQueries;
  private readonly jobs: JobQueries;
  private readonly tracking: TrackingQueries;
  private readonly queue: QueueQueries;
  private readonly outbox: Outbox;
  private readonly idempotency: IdempotencyQueries;
  private readonly snapshots: SnapshotQueries;
  /** The create path's write transactions (reserve, markRunning, finish) commit in groups. */
  private readonly group: GroupCommit;

  constructor(
    /** The underlying connection; exposed for diagnostics and tests, not for callers' SQL. */
    readonly db: Db,
    /** The file path (or ':memory:') this store was opened on. */
    readonly path: string,
  ) {
    const sql = new StatementCache(db);
    this.outbox = new Outbox(db, sql);
    this.users = new UserQueries(sql);
    this.userSecrets = new UserSecretQueries(sql);
    this.receipts = new WebhookReceiptQueries(sql);
    this.accounts = new AccountQueries(db, sql, this.outbox);
    this.idempotency = new IdempotencyQueries(sql);
    this.admission = new AdmissionQueries(db, sql, this.idempotency);
    this.jobs = new JobQueries(db, sql, this.outbox);
    this.tracking = new TrackingQueries(db, sql);
    this.queue = new QueueQueries(db, sql, this.outbox, this.idempotency);
    this.snapshots = new SnapshotQueries(sql);
    this.group = new GroupCommit(db);
  }

  async migrate(): Promise<void> {
    migrate(this.db);
  }

  async pendingMigrations(): Promise<number> {
    return this.snapshots.pendingMigrations();
  }

  async snapshot(): Promise<StoreSnapshot> {
    return this.snapshots.snapshot();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  // ── tenants and tokens ──
  async createUser(name: string | null, now: number, webhookSecret: string): Promise<User> {
    return this.users.createUser(name, now, webhookSecret);
  }
  async getUser(userId: number): Promise<User | null> {
    return this.users.getUser(userId);
  }
  async listUsers(): Promise<User[]> {
    return this.users.listUsers();
  }
  async setUserReplyUrl(userId: number, replyUrl: string | null): Promise<void> {
    this.users.setUserReplyUrl(userId, replyUrl);
  }
  async updateTenantSettings(userId: number, settings: TenantSettings): Promise<User | null> {
    return this.users.updateTenantSettings(userId, settings);
  }
  async rotateWebhookSecret(userId: number, secret: string, prevUntil: number): Promise<User | null> {
    return this.users.rotateWebhookSecret(userId, secret, prevUntil);
  }
  async setTokenWeight(userId: number, tokenId: number, weight: number): Promise<boolean> {
    return this.users.setTokenWeight(userId, tokenId, weight);
  }
  async addToken(userId: number, hash: string, label: string | null, now: number): Promise<TokenRecord> {
    return this.users.addToken(userId, hash, label, now);
  }
  async activeTokens(userId: number): Promise<TokenRecord[]> {
    return this.users.activeTokens(userId);
  }
  async listTokens(userId: number): Promise<TokenRecord[]> {
    return this.users.listTokens(userId);
  }
  async revokeToken(userId: number, tokenId: number, now: number): Promise<boolean> {
    return this.users.revokeToken(userId, tokenId, now);
  }
  async listWebhookSecrets(): Promise<StoredWebhookSecrets[]> {
    return this.userSecrets.list();
  }
  async replaceWebhookSecrets(from: StoredWebhookSecrets, to: Omit<StoredWebhookSecrets, 'userId'>): Promise<boolean> {
    return this.userSecrets.replace(from, to);
  }
  async webhookReceiptSeen(receipt: string, now: number): Promise<boolean> {
    return this.receipts.seen(receipt, now);
  }
  async recordWebhookReceipt(receipt: string, expiresAt: number, now: number): Promise<void> {
    this.receipts.record(receipt, expiresAt, now);
  }

  // ── accounts ──
  async upsertAccount(input: UpsertAccountInput): Promise<{ account: Account; created: boolean }> {
    return this.accounts.upsertAccount(input);
  }
  async getAccount(userId: number, email: string): Promise<Account | null> {
    return this.accounts.getAccount(userId, email);
  }
  async listAccounts(userId: number): Promise<Account[]> {
    return this.accounts.listAccounts(userId);
  }
  async deleteAccount(userId: number, email: string, now: number): Promise<{ cancelled: Job[] } | null> {
    return this.accounts.deleteAccount(userId, email, now);
  }
  async setAccountHealth(userId: number, email: string, update: AccountHealthUpdate): Promise<void> {
    this.accounts.setAccountHealth(userId, email, update);
  }

  // ── admission ──
  async reserve(input: ReserveInput): Promise<ReserveResult> {
    return this.group.run(() => this.admission.reserve(input));
  }
  async markRunning(jobId: number, upstreamId: string, nextPollAt: number, now: number): Promise<boolean> {
    return this.group.run(() => this.jobs.markRunning(jobId, upstreamId, nextPollAt, now));
  }
  async finish(
    jobId: number,
    outcome: JobOutcome,
    now: number,
    opts?: { from?: Job['state'][]; leaseToken?: string },
  ): Promise<Job | null> {
    return this.group.run(() => this.jobs.finish(jobId, outcome, now, opts));
  }

  // ── idempotency keys ──
  async getIdempotencyKey(tokenId: number, key: string, now: number): Promise<IdempotencyRecord | null> {
    return this.idempotency.get(tokenId, key, now);
  }
  async recordIdempotentAnswer(tokenId: number, key: string, jobId: number, answer: { status: number; body: string }, now: number): Promise<boolean> {
    return this.idempotency.record(tokenId, key, jobId, answer, now);
  }
  async deleteExpiredIdempotencyKeys(now: number, limit: number): Promise<number> {
    return this.idempotency.deleteExpired(now, limit);
  }

  // ── queue ──
  async enqueue(input: EnqueueInput, maxQueueLength: number): Promise<EnqueueResult> {
    return this.queue.enqueue(input, maxQueueLength);
  }
  async dispatch(userId: number, now: number, random?: () => number): Promise<Dispatched | null> {
    return this.queue.dispatch(userId, now, random);
  }
  async dispatchBatch(userId: number, now: number, limit: number, random?: () => number): Promise<Dispatched[]> {
    return this.queue.dispatchBatch(userId, now, limit, random);
  }
  async requeue(jobId: number, now: number): Promise<boolean> {
    return this.queue.requeue(jobId, now);
  }
  async queuedUsers(): Promise<number[]> {
    return this.queue.queuedUsers();
  }
  async queuedJobs(userId: number, limit: number): Promise<Job[]> {
    return this.queue.queuedJobs(userId, limit);
  }
  async countQueued(userId: number): Promise<number> {
    return this.queue.countQueued(userId);
  }
  async expireQueued(now: number, error: string): Promise<Job[]> {
    return this.queue.expireQueued(now, error);
  }

  // ── callbacks outbox ──
  /** Per store object (per process); the builder runs inside each transition's transaction. */
  setOutboxBuilder(builder: OutboxBuilder | null): void {
    this.outbox.setBuilder(builder);
  }
  async claimDueDeliveries(owner: string, now: number, leaseMs: number, limit: number, perUser?: number): Promise<Delivery[]> {
    return this.outbox.claimDueDeliveries(owner, now, leaseMs, limit, perUser ?? null);
  }
  async recordAttempt(deliveryId: number, leaseToken: string, result: AttemptResult, now: number): Promise<boolean> {
    return this.outbox.recordAttempt(deliveryId, leaseToken, result, now);
  }
  async nextDeliveryDue(): Promise<number | null> {
    return this.outbox.nextDeliveryDue();
  }
  async listDeliveries(userId: number, filter: DeliveryFilter): Promise<Delivery[]> {
    return this.outbox.listDeliveries(userId, filter);
  }
  async getDelivery(userId: number, deliveryId: number): Promise<Delivery | null> {
    return this.outbox.getDelivery(userId, deliveryId);
  }
  async redeliver(userId: number, filter: { deliveryId?: number; since?: number }, now: number): Promise<number> {
    return this.outbox.redeliver(userId, filter, now);
  }

  // ── reads ──
  async getJob(jobId: number): Promise<Job | null> {
    return this.jobs.getJob(jobId);
  }
  async findJob(userId: number, email: string, type: JobType, upstreamId: string): Promise<Job | null> {
    return this.jobs.findJob(userId, email, type, upstreamId);
  }
  async activeJobs(userId: number): Promise<Job[]> {
    return this.jobs.activeJobs(userId);
  }
  async accountLoads(userId: number): Promise<AccountLoad[]> {
    return this.accounts.accountLoads(userId);
  }
  async listJobs(userId: number, filter: JobListFilter): Promise<JobPage> {
    return this.jobs.listJobs(userId, filter);
  }
  async untrackJob(jobId: number, now: number, callback: boolean): Promise<Job | null> {
    return this.jobs.untrackJob(jobId, now, callback);
  }
  async hideJob(jobId: number, now: number): Promise<Job | null> {
    return this.jobs.hideJob(jobId, now);
  }
  async recentFailures(userId: number, since: number, limit: number): Promise<Job[]> {
    return this.jobs.recentFailures(userId, since, limit);
  }

  // ── tracking ──
  async claimDuePolls(owner: string, now: number, leaseMs: number, limit: number): Promise<Job[]> {
    return this.tracking.claimDuePolls(owner, now, leaseMs, limit);
  }
  async reschedulePoll(
    jobId: number,
    leaseToken: string,
    nextPollAt: number,
    upstreamStatus: number | null,
    now: number,
  ): Promise<boolean> {
    return this.tracking.reschedulePoll(jobId, leaseToken, nextPollAt, upstreamStatus, now);
  }
  async renewLeases(owner: string, jobIds: number[], now: number, leaseMs: number): Promise<number[]> {
    return this.tracking.renewLeases(owner, jobIds, now, leaseMs);
  }
  async releaseLeases(owner: string): Promise<void> {
    this.tracking.releaseLeases(owner);
  }
  async nextPollDue(): Promise<number | null> {
    return this.tracking.nextPollDue();
  }
  async jobsByUpstreamId(upstreamId: string): Promise<Job[]> {
    return this.jobs.jobsByUpstreamId(upstreamId);
  }
  /** Nothing to wake: one process, and the caller wakes its own tracker. */
  async expeditePoll(jobId: number, now: number): Promise<boolean> {
    return this.tracking.expeditePoll(jobId, now);
  }

  // ── sweeping ──
  async expireJobs(startedBefore: number, now: number, error: string): Promise<Job[]> {
    return this.jobs.expireJobs(startedBefore, now, error);
  }
  async claimStaleSubmitting(owner: string, before: number, now: number, leaseMs: number, limit: number): Promise<Job[]> {
    return this.tracking.claimStaleSubmitting(owner, before, now, leaseMs, limit);
  }
  async beatInstance(): Promise<void> {
    // One process owns the file: the scheduler reconciles every earlier submit at start instead.
  }
}

/**
 * Opens (creating if needed) a SQLite store and applies pending migrations.
 * `path` may be ':memory:'. Pass `{ migrate: false }` to control migration yourself.
 */
export async function openSqliteStore(path: string, opts: { migrate?: boolean } = {}): Promise<SqliteStore> {
  const db = openDatabase(path);
  const store = new SqliteStore(db, path);
  if (opts.migrate ?? true) {
    try {
      await store.migrate();
    } catch (err) {
      db.close();
      throw err;
    }
  }
  return store;
}
