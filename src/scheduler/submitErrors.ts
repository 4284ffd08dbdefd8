/**
 * What an upstream failure at submit time means for the account and for the client
 * (design: "Accounts and health"). Returns whether another account may be tried.
 */
import { GatewayError } from '../domain/errors.ts';
import type { Account } from '../domain/account.ts';
import { UpstreamError } from '../upstream/upstream.ts';
import type { SchedulerContext } from './context.ts';
import { OUT_OF_CREDITS } from './creditWatch.ts';

export function asUpstreamError(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new UpstreamError('transient', message);
}

export interface SubmitFailure {
  /** The error for the client if no other account is tried. */
  error: GatewayError;
  /** True when the failure is about this account, so an unpinned job may go to another. */
  tryAnother: boolean;
}

export async function handleSubmitError(ctx: SchedulerContext, account: Account, err: UpstreamError): Promise<SubmitFailure> {
  const now = ctx.now();
  const { store, tuning } = ctx;
  const health = async (state: Account['state'], reason: string, until: number | null) => {
    await store.setAccountHealth(account.userId, account.email, { state, reason, cooldownUntil: until, now });
    ctx.events.emit('account', account.userId, account.email);
  };
  switch (err.errorClass) {
    case 'concurrency_limit': {
      // Our count says there was room, so the slot is used elsewhere (website, another tool).
      // Back off briefly instead of punishing the account.
      await health('cooldown', 'PixVerse reported its concurrency limit (500044)', now + tuning.concurrencyBackoffMs);
      const wait = Math.ceil(tuning.concurrencyBackoffMs / 1000);
      return { error: new GatewayError(429, `Account ${account.email} is at its PixVerse concurrency limit`, wait), tryAnother: true };
    }
    case 'rate_limit': {
      await health('cooldown', 'PixVerse rate limit', now + tuning.rateLimitCooldownMs);
      const wait = Math.ceil(tuning.rateLimitCooldownMs / 1000);
      return { error: new GatewayError(429, `PixVerse is rate limiting account ${account.email}`, wait), tryAnother: true };
    }
    case 'out_of_credits':
      await health('error', OUT_OF_CREDITS, null);
      ctx.creditWatch?.park(account.userId, account.email);
      return {
        error: new GatewayError(412, `All Credits have been used up on account ${account.email}. Top up and re-post the account.`),
        tryAnother: true,
      };
    case 'auth':
      await health('error', `PixVerse rejected the API key: ${err.message}`, null);
      return { error: new GatewayError(596, `Account ${account.email} in error state: PixVerse rejected the API key`), tryAnother: true };
    case 'moderation':
      return { error: new GatewayError(422, `PixVerse moderation rejected the request: ${err.message}`), tryAnother: false };
    case 'bad_request':
    case 'not_found':
      return { error: new GatewayError(400, `PixVerse rejected the request: ${err.message}`), tryAnother: false };
    case 'transient': {
      const error = new GatewayError(502, `PixVerse is unavailable: ${err.message}`);
      // No answer and the request never left (refused connection, a timeout while waiting for a
      // socket): nothing can exist upstream, so a queued job may simply wait and be tried again.
      // The brief cool-down keeps a dead upstream from being hit in a tight loop.
      if (!err.maybeSubmitted && err.httpStatus === null && err.errCode === null) {
        await health('cooldown', `PixVerse could not be reached: ${err.message}`, now + tuning.concurrencyBackoffMs);
        return { error, tryAnother: true };
      }
      return { error, tryAnother: false };
    }
  }
}
