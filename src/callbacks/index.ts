/**
 * Callbacks: a durable, signed, retried webhook outbox with an SSRF guard.
 *   outbox.ts    what a job state change writes to the outbox (the store calls it in-transaction)
 *   deliverer.ts the loop that claims due deliveries and attempts them
 *   sender.ts    one HTTP attempt (undici, no redirects, timeout, guarded DNS)
 *   retry.ts     schedule, jitter, Retry-After, dead-lettering
 *   signing.ts   Standard Webhooks headers and verification
 *   ssrf.ts      URL checks at submit and at connect; addresses.ts the address ranges
 *   secrets.ts   per-tenant signing secrets and rotation
 */
export { AddressPolicy, BLOCKED_RANGES, CidrSet, nonPublicReason, parseCidr } from './addresses.ts';
export { CallbackDeliverer, type AttemptKind, type CallbackDelivererOptions } from './deliverer.ts';
export { callbackBody, createOutboxBuilder, outboxEntry, wantsProgress } from './outbox.ts';
export { MAX_RETRY_AFTER_MS, parseRetryAfter, planAttempt, withJitter } from './retry.ts';
export {
  ROTATION_GRACE_MS,
  rotateSecret,
  sealClearSecrets,
  signingSecrets,
  userWithSecret,
} from './secrets.ts';
export { CallbackSender } from './sender.ts';
export { sign, verifyWebhook, webhookHeaders, webhookId } from './signing.ts';
export {
  BlockedTargetError,
  CallbackPolicy,
  checkCallbackUrl,
  createCallbackPolicy,
  guardedLookup,
  systemResolver,
  UnresolvedHostError,
  type CallbackPolicyInput,
  type Resolver,
} from './ssrf.ts';
