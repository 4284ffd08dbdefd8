/**
 * Provider webhooks: a signed notice that a job ended makes its poll due at once, so the slot is
 * freed (and refilled from the queue) within milliseconds instead of at the next scheduled poll.
 *
 * The notice is not trusted for the outcome itself: it only expedites the tracker's poll, which
 * reads the job's state from the provider under the usual lease, compare-and-swap and callback
 * path. A forged or replayed delivery can therefore cost at most one status read.
 */
import { createHash } from 'node:crypto';
import type { Account } from '../domain/account.ts';
import { isTerminal, type Job } from '../domain/job.ts';
import {
  WebhookFormatError,
  type ProviderWebhook,
  type WebhookNotice,
  type WebhookVerdict,
} from './provider.ts';
import type { SchedulerContext } from './context.ts';
import type { WebhookOutcome } from './events.ts';
import { webhookBackstop, type PollPolicy } from '../domain/policy/pollSchedule.ts';
import { ReplayGuard } from './replayGuard.ts';

// Declared with the event that carries it, so events.ts imports nothing that imports the context.
export type { WebhookOutcome } from './events.ts';

/** The poll policy of a job on `account`: the webhook backstop when its end will be reported. */
export function pollPolicyFor(
  ctx: SchedulerContext,
  account: Pick<Account, 'webhookId'> | null,
  job: Pick<Job, 'upstream'>,
): PollPolicy {
  return account?.webhookId && ctx.upstream.acceptsWebhook(job.upstream.op)
    ? webhookBackstop(ctx.tuning.poll)
    : ctx.tuning.poll;
}

/** A provider without webhooks refuses every delivery as unsigned. */
const NO_WEBHOOKS: ProviderWebhook = {
  toleranceMs: 0,
  deliveryHeaders: [],
  refusals: {
    unsigned: 'This provider sends no webhooks',
    stale: 'This provider sends no webhooks',
    bad_signature: 'This provider sends no webhooks',
  },
};

export class WebhookIntake {
  private readonly scheme: ProviderWebhook;
  /** The provider's replay window either side of our clock. */
  private readonly replayWindowMs: number;
  private readonly replays: ReplayGuard;

  constructor(
    private readonly ctx: SchedulerContext,
    /** Wakes the tracker so the expedited poll is claimed now, not at its next wake-up. */
    private readonly wakeTracker: () => void,
  ) {
    this.scheme = ctx.provider.webhook ?? NO_WEBHOOKS;
    this.replayWindowMs = 2 * this.scheme.toleranceMs;
    this.replays = new ReplayGuard(this.replayWindowMs);
  }

  async receive(header: (name: string) => string | undefined, rawBody: string): Promise<WebhookOutcome> {
    // The same signed headers and body again are the same delivery (a provider retry whose "ok" was
    // lost, or a replay). Answered "ok" so a genuine retry stops, without reading the store or the
    // provider again. Only deliveries that were acted on are remembered, so nothing unverified is.
    const replayKey = createHash('sha256')
      .update(this.scheme.deliveryHeaders.map((name) => `${header(name) ?? ''}\n`).join(''))
      .update(rawBody)
      .digest('base64url');
    // This process's memory first; the store's is shared by instances and survives restarts.
    const now = this.ctx.now();
    if (this.replays.has(replayKey, now) || (await this.ctx.store.webhookReceiptSeen(replayKey, now))) {
      this.replays.remember(replayKey, now);
      this.ctx.log.debug({ replayKey }, 'webhook: duplicate delivery ignored');
      return { ok: true, jobId: null, action: 'duplicate' };
    }
    const outcome = await this.verifyAndAct(header, rawBody);
    if (outcome.ok) {
      const at = this.ctx.now();
      this.replays.remember(replayKey, at);
      await this.ctx.store.recordWebhookReceipt(replayKey, at + this.replayWindowMs, at);
    }
    return outcome;
  }

  private async verifyAndAct(
    header: (name: string) => string | undefined,
    rawBody: string,
  ): Promise<WebhookOutcome> {
    if (this.ctx.provider.webhook === null)
      return { ok: false, status: 401, error: NO_WEBHOOKS.refusals.unsigned };
    let notice: WebhookNotice;
    try {
      notice = this.ctx.upstream.readWebhook(header, rawBody);
    } catch (err) {
      if (err instanceof WebhookFormatError)
        return { ok: false, status: 400, error: `Invalid webhook delivery: ${err.message}` };
      throw err;
    }
    const jobs = await this.ctx.store.jobsByUpstreamId(notice.upstreamId);
    if (jobs.length === 0)
      return { ok: false, status: 404, error: `No job with upstream id ${notice.upstreamId}` };
    const now = this.ctx.now();
    let refusal: Exclude<WebhookVerdict, 'ok'> | null = null;
    for (const job of jobs) {
      const secret = await this.secretOf(job);
      if (secret === null) continue;
      const verdict = notice.verify(secret, now);
      if (verdict !== 'ok') {
        refusal = verdict;
        continue;
      }
      return this.accept(job, notice, now);
    }
    if (refusal === null)
      return {
        ok: false,
        status: 401,
        error: `The account of upstream id ${notice.upstreamId} has no webhook secret configured`,
      };
    return { ok: false, status: 401, error: this.scheme.refusals[refusal] };
  }

  private async accept(job: Job, notice: WebhookNotice, now: number): Promise<WebhookOutcome> {
    if (isTerminal(job.state)) return { ok: true, jobId: job.id, action: 'already_final' };
    // Still `submitting`: the id is known upstream before we stored the job as running. Refusing
    // makes the provider deliver again (2 s later), by when the poll can be expedited.
    if (job.state !== 'running')
      return {
        ok: false,
        status: 409,
        error: `Job of upstream id ${notice.upstreamId} is still being submitted; deliver again`,
      };
    if (await this.ctx.store.expeditePoll(job.id, now)) this.wakeTracker();
    this.ctx.log.debug(
      { jobId: job.id, upstreamId: notice.upstreamId, status: notice.status },
      'webhook: poll expedited',
    );
    return { ok: true, jobId: job.id, action: 'expedited' };
  }

  private async secretOf(job: Job): Promise<string | null> {
    if (job.email === null) return null;
    const account = await this.ctx.store.getAccount(job.userId, job.email);
    if (!account) return null;
    try {
      return this.ctx.keys.openWebhookSecret(account);
    } catch {
      this.ctx.log.warn(
        { email: account.email },
        'webhook secret cannot be decrypted with the current master key; re-post the account',
      );
      return null;
    }
  }
}
