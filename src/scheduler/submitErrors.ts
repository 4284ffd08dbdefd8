/**
 * What an upstream failure at submit time means for the account and for the client
 * (design: "Accounts and health"). Returns whether another account may be tried.
 */
import { EngineError } from '../domain/outcomes.ts';
import type { Account } from '../domain/account.ts';
import { UpstreamError } from './provider.ts';
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
  error: EngineError;
  /** True when the failure is about this account, so an unpinned job may go to another. */
  tryAnother: boolean;
}

export async function handleSubmitError(
  ctx: SchedulerContext,
  account: Account,
  err: UpstreamError,
): Promise<SubmitFailure> {
  const now = ctx.now();
  // What happens to the account is the policy's (domain/policy/health.ts); here are only the words.
  const unreached = !err.maybeSubmitted && err.httpStatus === null && err.errCode === null;
  const transition = healthAfterSubmitError(err.errorClass, ctx.tuning, now, unreached);
  if (transition.kind !== 'unchanged') {
    const cooldownUntil = transition.kind === 'cooldown' ? transition.until : null;
    await ctx.store.setAccountHealth(account.userId, account.email, {
      state: transition.state,
      reason: accountReason(err, ctx.provider.displayName),
      cooldownUntil,
      now,
    });
    ctx.events.emit('account', account.userId, account.email);
    if (transition.kind === 'error' && transition.parked)
      ctx.creditWatch?.park(account.userId, account.email);
  }
  const retryAfterS = transition.kind === 'cooldown' ? transition.retryAfterS : null;
  return {
    error: clientError(err, account, retryAfterS, ctx.provider.displayName),
    tryAnother: triesAnother(transition),
  };
}

/** The reason an account shows in 596 answers and /scheduler/available. */
function accountReason(err: UpstreamError, name: string): string {
  // The provider's own code, when it has one, helps an operator look the refusal up.
  const code = err.errCode !== null ? ` (${err.errCode})` : '';
  switch (err.errorClass) {
    case 'concurrency_limit':
      return `${name} reported its concurrency limit${code}`;
    case 'rate_limit':
      return `${name} rate limit`;
    case 'out_of_credits':
      return OUT_OF_CREDITS;
    case 'transient':
      return `${name} could not be reached: ${err.message}`;
    default:
      return `${name} rejected the API key: ${err.message}`;
  }
}

function clientError(
  err: UpstreamError,
  account: Account,
  retryAfterS: number | null,
  name: string,
): EngineError {
  switch (err.errorClass) {
    case 'concurrency_limit':
      return new EngineError(
        'concurrency_limit',
        `Account ${account.email} is at its ${name} concurrency limit`,
        retryAfterS,
      );
    case 'rate_limit':
      return new EngineError('rate_limit', `${name} is rate limiting account ${account.email}`, retryAfterS);
    case 'out_of_credits':
      return new EngineError(
        'out_of_credits',
        `All Credits have been used up on account ${account.email}. Top up and re-post the account.`,
      );
    case 'auth':
      return new EngineError(
        'account_error',
        `Account ${account.email} in error state: ${name} rejected the API key`,
      );
    case 'moderation':
      return new EngineError('moderation', `${name} moderation rejected the request: ${err.message}`);
    case 'bad_request':
    case 'not_found':
      // A reference the provider does not know (an uploaded file, a source video) is the request's fault.
      return new EngineError('invalid', `${name} rejected the request: ${err.message}`);
    case 'transient':
      return new EngineError('transient', `${name} is unavailable: ${err.message}`);
  }
}
