/**
 * What an upstream failure at submit time means for the account and for the client
 * (design: "Accounts and health"). Returns whether another account may be tried.
 */
import { EngineError } from '../domain/outcomes.ts';
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
  error: EngineError;
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
      return { error: new EngineError('concurrency_limit', `Account ${account.email} is at its PixVerse concurrency limit`, wait), tryAnother: true };
    }
    case 'rate_limit': {
      await health('cooldown', 'PixVerse rate limit', now + tuning.rateLimitCooldownMs);
      const wait = Math.ceil(tuning.rateLimitCooldownMs / 1000);
      return { error: new EngineError('rate_limit', `PixVerse is rate limiting account ${account.email}`, wait), tryAnother: true };
    }
    case 'out_of_credits':
      await health('error', OUT_OF_CREDITS, null);
      ctx.creditWatch?.park(account.userId, account.email);
      return {
        error: new EngineError('out_of_credits', `All Credits have been used up on account ${account.email}. Top up and re-post the account.`),
        tryAnother: true,
      };
    case 'auth':
      await health('error', `PixVerse rejected the API key: ${err.message}`, null);
      return { error: new EngineError('account_error', `Account ${account.email} in error state: PixVerse rejected the API key`), tryAnother: true };
    case 'moderation':
      return { error: new EngineError('moderation', `PixVerse moderation rejected the request: ${err.message}`), tryAnother: false };
    case 'bad_request':
    case 'not_found':
      // A reference the provider does not know (an uploaded file, a source video) is the request's fault.
      return { error: new EngineError('invalid', `PixVerse rejected the request: ${err.message}`), tryAnother: false };
    case 'transient':
      return { error: new EngineError('transient', `PixVerse is unavailable: ${err.message}`), tryAnother: false };
  }
}
