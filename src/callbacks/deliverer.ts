/**
 * CallbackDeliverer: the outbox's consumer, on the same claim loop as the tracker: claim due
 * deliveries with a lease, POST each one (at most `concurrency` in flight), record the attempt
 * fenced by the lease, then sleep until the next delivery is due or something wakes it. The lease
 * outlives an attempt (leaseMs > timeoutMs), so it is not renewed; an attempt whose record finds the
 * lease gone is reported as a lost lease.
 *
 * Delivery is at-least-once: the store leases each delivery to one deliverer at a time and
 * hands out only the lowest undelivered seq of a job, so a job's callbacks arrive in order;
 * a deliverer that dies mid-attempt loses its lease and another one retries. Receivers dedupe
 * on `webhook-id`, which is stable across retries.
 */
import type { Logger } from 'pino';
import type { AttemptResult, Delivery, Store } from '../store/store.ts';
import { planAttempt, type AttemptOutcome } from './retry.ts';
import { signingSecrets, userWithSecret } from './secrets.ts';
import type { SecretBox } from '../security/secretBox.ts';
import { CallbackSender } from './sender.ts';
import { webhookHeaders, webhookId } from './signing.ts';
import { CallbackPolicy, type Resolver } from './ssrf.ts';
import { ClaimLoop, type Claimed, type Lease, type LeaseLoss } from '../workers/index.ts';

export interface CallbackDelivererOptions {
  store: Store;
  log: Logger;
  now?: () => number;
  /** Delay before each attempt (config callbackScheduleMs); its length is the attempt limit. */
  schedule: readonly number[];
  /** Per-attempt HTTP timeout (config callbackTimeoutMs). */
  timeoutMs: number;
  /** CIDRs callbacks may reach although not public (config callbackAllowlist). */
  allowlist: readonly string[];
  /** Identifies this process in leases. */
  owner: string;
  /** Attempts in flight at once (default 16). */
  concurrency?: number;
  /** Delivery lease; at least timeoutMs + 5 s so an attempt never outlives its lease (default timeoutMs + 30 s). */
  leaseMs?: number;
  /** Longest sleep when nothing is due: the backstop for wake-ups from other instances (default 1 s). */
  idleWakeMs?: number;
  /** DNS resolver for the SSRF guard (tests inject one). */
  resolve?: Resolver;
  /** Uniform [0,1) source for jitter. */
  random?: () => number;
  /**
   * Share of `concurrency` one tenant's deliveries may hold at once, 0–1 (default 0.25): a tenant
   * whose receiver hangs cannot delay everyone else's callbacks. 1 turns the cap off.
   */
  tenantShare?: number;
  /** Opens (and seals new) tenant signing secrets; the gateway always passes its master-key box. */
  secretBox?: SecretBox;
  /** Told of every recorded attempt (metrics); `now` is when it was recorded. */
  onAttempt?: (outcome: AttemptKind, delivery: Delivery, now: number) => void;
  /** Told of every lease found lost (metrics); `key` is the delivery id. */
  onLeaseLost?: (loss: LeaseLoss<number>) => void;
}

export type AttemptKind = 'delivered' | 'retry' | 'dead' | 'lease_lost';

const LEASE_MARGIN_MS = 5_000;

export class CallbackDeliverer {
  private stopped: Promise<void> | null = null;
  private readonly loop: ClaimLoop<Delivery, number>;
  private readonly sender: CallbackSender;
  private readonly now: () => number;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly idleWakeMs: number;
  private readonly claimBatch: number;
  private readonly perTenant: number | undefined;
  private readonly random: () => number;
  readonly policy: CallbackPolicy;
  /** Attempts made by this deliverer (delivered + failed), for metrics and benchmarks. */
  readonly counts = { delivered: 0, failed: 0, dead: 0, leaseLost: 0 };

  constructor(private readonly opts: CallbackDelivererOptions) {
    if (opts.schedule.length === 0) throw new Error('the callback schedule needs at least one delay');
    this.now = opts.now ?? Date.now;
    this.concurrency = Math.max(1, opts.concurrency ?? 16);
    this.leaseMs = Math.max(opts.leaseMs ?? opts.timeoutMs + 30_000, opts.timeoutMs + LEASE_MARGIN_MS);
    this.idleWakeMs = opts.idleWakeMs ?? 1_000;
    this.claimBatch = Math.max(1, Math.floor(this.concurrency / 4));
    const share = opts.tenantShare ?? 0.25;
    this.perTenant = share >= 1 ? undefined : Math.max(1, Math.floor(this.concurrency * share));
    this.random = opts.random ?? Math.random;
    this.policy = new CallbackPolicy(
      opts.resolve ? { allowlist: opts.allowlist, resolve: opts.resolve } : { allowlist: opts.allowlist },
    );
    this.sender = new CallbackSender({
      policy: this.policy,
      timeoutMs: opts.timeoutMs,
      connectionsPerOrigin: this.concurrency,
    });
    this.loop = new ClaimLoop<Delivery, number>({
      worker: 'deliverer',
      key: (delivery) => delivery.id,
      concurrency: this.concurrency,
      claim: (room) => this.claim(room),
      work: (delivery, lease) => this.attempt(delivery, lease),
      errorBackoffMs: this.idleWakeMs,
      // An attempt ends within timeoutMs; its lease lasts longer, so this bound is never the one that bites.
      stopDeadlineMs: this.leaseMs,
      onLeaseLost: (loss) => {
        this.counts.leaseLost++;
        this.opts.log.warn(
          { deliveryId: loss.key, found: loss.reason },
          'callback lease lost before its attempt was recorded',
        );
        this.opts.onLeaseLost?.(loss);
      },
      onError: (err, phase, key) => {
        if (phase === 'claim') this.opts.log.error({ err }, 'callback loop error');
        else
          this.opts.log.error(
            { err, ...(key === undefined ? {} : { deliveryId: key }) },
            'callback attempt failed',
          );
      },
    });
  }

  start(): void {
    if (this.stopped) throw new Error('a stopped CallbackDeliverer cannot be restarted; create a new one');
    this.loop.start();
  }

  /** Stops claiming and waits for the attempts in flight to be recorded. Final. */
  stop(): Promise<void> {
    return (this.stopped ??= (async () => {
      await this.loop.stop();
      await this.sender.close();
    })());
  }

  /** Something may be due now (a job changed state, a redelivery was requested). */
  wake(): void {
    this.loop.wake();
  }

  private async claim(room: number): Promise<Claimed<Delivery>> {
    let claimed = 0;
    const items: Delivery[] = [];
    // Claim in batches of at least a quarter of the concurrency rather than one per finished
    // attempt: each claim is a write transaction. Only a nearly full deliverer waits for more
    // attempts to finish; one with room claims at once.
    // A cheap read first: claiming is a write transaction, wasted when nothing is due.
    const next = room >= this.claimBatch ? await this.opts.store.nextDeliveryDue() : null;
    if (next !== null && next <= this.now()) {
      const due = await this.opts.store.claimDueDeliveries(
        this.opts.owner,
        this.now(),
        this.leaseMs,
        room,
        this.perTenant,
      );
      claimed = due.length;
      items.push(...due);
      if (claimed === room) return { items, sleepMs: 0 };
    }
    return { items, sleepMs: await this.sleepFor(claimed, room) };
  }

  private async sleepFor(claimed: number, room: number): Promise<number> {
    if (room < this.claimBatch) return this.idleWakeMs; // a finishing attempt wakes us
    const due = await this.opts.store.nextDeliveryDue();
    if (due === null) return this.idleWakeMs;
    const wait = due - this.now();
    // Due but not claimed: another instance holds it; don't spin.
    if (wait <= 0) return claimed > 0 ? 0 : Math.min(this.idleWakeMs, 50);
    return Math.min(wait, this.idleWakeMs);
  }

  private async attempt(delivery: Delivery, lease: Lease): Promise<void> {
    const attempt = delivery.attempts + 1;
    const outcome = await this.post(delivery);
    const result: AttemptResult = planAttempt(outcome, attempt, this.opts.schedule, this.now(), this.random);
    const recorded = await lease.settle('record attempt', () =>
      this.opts.store.recordAttempt(delivery.id, delivery.leaseToken!, result, this.now()),
    );
    const fields = { deliveryId: delivery.id, jobId: delivery.jobId, attempt, status: result.status };
    this.opts.onAttempt?.(
      !recorded
        ? 'lease_lost'
        : result.delivered
          ? 'delivered'
          : result.nextAttemptAt === null
            ? 'dead'
            : 'retry',
      delivery,
      this.now(),
    );
    if (!recorded) return; // counted and logged as a lost lease
    if (result.delivered) {
      this.counts.delivered++;
      this.opts.log.debug(fields, 'callback delivered');
    } else if (result.nextAttemptAt === null) {
      this.counts.dead++;
      this.opts.log.warn({ ...fields, error: result.error }, 'callback dead-lettered');
    } else {
      this.counts.failed++;
      this.opts.log.info(
        { ...fields, error: result.error, retryInMs: result.nextAttemptAt - this.now() },
        'callback attempt failed; will retry',
      );
    }
  }

  private async post(delivery: Delivery): Promise<AttemptOutcome> {
    const now = this.now();
    const user = await userWithSecret(this.opts.store, delivery.userId, now, this.opts.secretBox);
    if (!user) return { delivered: false, status: null, error: 'the tenant no longer exists', final: true };
    const headers = webhookHeaders(
      signingSecrets(user, now),
      webhookId(delivery.id),
      Math.floor(now / 1000),
      delivery.body,
    );
    return this.sender.send(delivery.url, delivery.body, headers, this.now);
  }
}
