/**
 * A tenant's webhook signing secrets. Users created before secrets existed have '' stored;
 * they get one on first use (first callback, or GET /callbacks/secret).
 */
import { newWebhookSecret } from '../security/webhookSecret.ts';
import type { Store, User } from '../store/store.ts';

/** How long the previous secret keeps signing after a rotation. */
export const ROTATION_GRACE_MS = 24 * 3_600_000;

/** The user with a signing secret, creating one if it has none. Null for an unknown user. */
export async function userWithSecret(store: Store, userId: number, now: number): Promise<User | null> {
  const user = await store.getUser(userId);
  if (!user || user.webhookSecret !== '') return user;
  // prevUntil = now: the empty "previous" secret is never used for signing.
  const rotated = await store.rotateWebhookSecret(userId, newWebhookSecret(), now);
  // Two instances may race here; whichever rotation landed last is what the store holds.
  return (await store.getUser(userId)) ?? rotated;
}

/** Secrets to sign with now: the current one, plus the previous one during its grace period. */
export function signingSecrets(user: User, now: number): string[] {
  const secrets = [user.webhookSecret];
  if (user.webhookSecretPrev && user.webhookSecretPrevUntil !== null && user.webhookSecretPrevUntil > now && user.webhookSecretPrev !== user.webhookSecret) {
    secrets.push(user.webhookSecretPrev);
  }
  return secrets.filter((secret) => secret !== '');
}

/** A new secret; the old one stays valid for ROTATION_GRACE_MS. */
export async function rotateSecret(store: Store, userId: number, now: number): Promise<User | null> {
  const user = await userWithSecret(store, userId, now);
  if (!user) return null;
  return store.rotateWebhookSecret(userId, newWebhookSecret(), now + ROTATION_GRACE_MS);
}
