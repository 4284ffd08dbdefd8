/**
 * What an upstream failure at submit time does to the account (design: "Accounts and health").
 * The failure arrives already classified, in engine-neutral terms: turning a provider's error codes
 * into these classes is the provider's business.
 */
import type { AccountState } from '../account.ts';

export type UpstreamErrorClass =
  | 'concurrency_limit' // the provider says the account is full though our count had room: back off, do not punish
  | 'rate_limit' // too many requests: cool the account down
  | 'out_of_credits' // park the account until re-posted or its balance returns
  | 'moderation' // the request's content: 422, the account is fine
  | 'bad_request' // the client's input: 400, the account is fine
  | 'auth' // rejected API key or ban: account in error until re-posted
  | 'not_found'
  | 'transient'; // 5xx, timeouts, unknown: retried by the caller, the account stays as it is

export interface HealthTuning {
  /** How long an account is skipped after the provider reports its concurrency limit. */
  concurrencyBackoffMs: number;
  /** Cool-down after an upstream rate limit. */
  rateLimitCooldownMs: number;
}

export type HealthTransition =
  /** The failure is about the request or passing: the account keeps its state; no other account is tried. */
  | { kind: 'unchanged' }
  /** Skip the account until `until`; another account may take the job. */
  | { kind: 'cooldown'; state: Extract<AccountState, 'cooldown'>; until: number; retryAfterS: number }
  /** Take the account out of service until re-posted (or, when `parked`, until its credits return). */
  | { kind: 'error'; state: Extract<AccountState, 'error'>; parked: boolean };

/**
 * `unreached`: the request never left (refused connection, no socket in time) and no answer came,
 * so nothing can exist upstream and the job may simply be tried on another account.
 */
export function healthAfterSubmitError(
  errorClass: UpstreamErrorClass,
  tuning: HealthTuning,
  now: number,
  unreached = false,
): HealthTransition {
  const cooldown = (ms: number): HealthTransition => ({
    kind: 'cooldown',
    state: 'cooldown',
    until: now + ms,
    retryAfterS: Math.ceil(ms / 1000),
  });
  switch (errorClass) {
    case 'concurrency_limit':
      // Our count said there was room, so the slot is used elsewhere (website, another tool).
      return cooldown(tuning.concurrencyBackoffMs);
    case 'rate_limit':
      return cooldown(tuning.rateLimitCooldownMs);
    case 'out_of_credits':
      return { kind: 'error', state: 'error', parked: true };
    case 'auth':
      return { kind: 'error', state: 'error', parked: false };
    case 'transient':
      // The brief cool-down keeps a dead upstream from being hit in a tight loop.
      return unreached ? cooldown(tuning.concurrencyBackoffMs) : { kind: 'unchanged' };
    case 'moderation':
    case 'bad_request':
    case 'not_found':
      return { kind: 'unchanged' };
  }
}

/** Whether another account may be tried after this transition (only when the failure was about the account). */
export function triesAnother(transition: HealthTransition): boolean {
  return transition.kind !== 'unchanged';
}
