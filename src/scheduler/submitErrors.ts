/**
 * What an upstream failure at submit time means for the account and for the client
 * (design: "Accounts and health"). Returns whether another account may be tried.
 */
import { GatewayError } from '../domain/errors.ts';
import type { Account } from '../domain/account.ts';
import { UpstreamError } from '../upstream/upstream.ts';
import type { SchedulerContext } from './context.ts';
import { OUT_OF_CREDITS } from './creditWatch.ts';
import { healthAfterSubmitError, triesAnother } from '../domain/policy/health.ts';

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
  const transition = healthAfterSubmitError(err.errorClass, ctx.tuning, now);
  const tryAnother = triesAnother(transition);
  const health = async (state: Account['state'], reason: string, until: number | null) => {
    await ctx.store.setAccountHealth(account.userId, account.email, { state, reason, cooldownUntil: until, now });
    ctx.events.emit('account', account.userId, account.email);
  };
  // The transition (domain/policy/health.ts) decides what happens to the account; below are only
  // the words for it and the client's answer.
  switch (err.errorClass) {
    case 'concurrency_limit':
      if (transition.kind !== 'cooldown') break;
      await health(transition.state, 'PixVerse reported its concurrency limit (500044)', transition.until);
      return { error: new GatewayError(429, `Account ${account.email} is at its PixVerse concurrency limit`, transition.retryAfterS), tryAnother };
    case 'rate_limit':
      if (transition.kind !== 'cooldown') break;
      await health(transition.state, 'PixVerse rate limit', transition.until);
      return { error: new GatewayError(429, `PixVerse is rate limiting account ${account.email}`, transition.retryAfterS), tryAnother };
    case 'out_of_credits':
      if (transition.kind !== 'error') break;
      await health(transition.state, OUT_OF_CREDITS, null);
      if (transition.parked) ctx.creditWatch?.park(account.userId, account.email);
      return {
        error: new GatewayError(412, `All Credits have been used up on account ${account.email}. Top up and re-post the account.`),
        tryAnother,
      };
    case 'auth':
      if (transition.kind !== 'error') break;
      await health(transition.state, `PixVerse rejected the API key: ${err.message}`, null);
      return { error: new GatewayError(596, `Account ${account.email} in error state: PixVerse rejected the API key`), tryAnother };
    case 'moderation':
      return { error: new GatewayError(422, `PixVerse moderation rejected the request: ${err.message}`), tryAnother };
    case 'bad_request':
    case 'not_found':
      return { error: new GatewayError(400, `PixVerse rejected the request: ${err.message}`), tryAnother };
    case 'transient':
      break;
  }
  return { error: new GatewayError(502, `PixVerse is unavailable: ${err.message}`), tryAnother };
}
