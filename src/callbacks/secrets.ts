/**
 * A tenant's webhook signing secrets. Users created before secrets existed (and new ones) have ''
 * stored; they get one on first use (first callback, or GET /callbacks/secret).
 *
 * At rest they are sealed with the master key like account API keys (bound to the user row), so a
 * copy of the database does not let anyone forge a tenant's signed callbacks. Rows written before
 * sealing existed hold clear text: `sealClearSecrets` seals them at start, and until then they
 * are read as they are.
 */
import { newWebhookSecret } from '../security/webhookSecret.ts';
import { SecretBox, userAad } from '../security/secretBox.ts';
import type { Store, User } from '../store/store.ts';

/** How long the previous secret keeps signing after a rotation. */
export const ROTATION_GRACE_MS = 24 * 3_600_000;

/** Null only in tests of signing itself; the gateway always seals. */
export type SecretSealer = SecretBox | null | undefined;

function seal(box: SecretSealer, userId: number, plain: string): string {
  return box ? box.encrypt(plain, userAad(userId)) : plain;
}

function openValue(box: SecretSealer, userId: number, stored: string): string {
  if (stored === '' || !SecretBox.isSealed(stored)) return stored;
  if (!box) throw new Error('a sealed webhook secret needs the master key');
  return box.decrypt(stored, userAad(userId));
}

/** The user as the rest of the code sees it: secrets in clear (in memory only). */
function opened(user: User, box: SecretSealer): User {
  return {
    ...user,
    webhookSecret: openValue(box, user.id, user.webhookSecret),
    webhookSecretPrev:
      user.webhookSecretPrev === null ? null : openValue(box, user.id, user.webhookSecretPrev),
  };
}

/** The user with a signing secret, creating one if it has none. Null for an unknown user. */
export async function userWithSecret(
  store: Store,
  userId: number,
  now: number,
  box?: SecretSealer,
): Promise<User | null> {
  const user = await store.getUser(userId);
  if (!user) return null;
  if (user.webhookSecret !== '') return opened(user, box);
  // prevUntil = now: the empty "previous" secret is never used for signing.
  const rotated = await store.rotateWebhookSecret(userId, seal(box, userId, newWebhookSecret()), now);
  // Two instances may race here; whichever rotation landed last is what the store holds.
  const latest = (await store.getUser(userId)) ?? rotated;
  return latest ? opened(latest, box) : null;
}

/** Secrets to sign with now: the current one, plus the previous one during its grace period. */
export function signingSecrets(user: User, now: number): string[] {
  const secrets = [user.webhookSecret];
  if (
    user.webhookSecretPrev &&
    user.webhookSecretPrevUntil !== null &&
    user.webhookSecretPrevUntil > now &&
    user.webhookSecretPrev !== user.webhookSecret
  ) {
    secrets.push(user.webhookSecretPrev);
  }
  return secrets.filter((secret) => secret !== '');
}

/** A new secret; the old one stays valid for ROTATION_GRACE_MS. */
export async function rotateSecret(
  store: Store,
  userId: number,
  now: number,
  box?: SecretSealer,
): Promise<User | null> {
  const user = await userWithSecret(store, userId, now, box);
  if (!user) return null;
  const rotated = await store.rotateWebhookSecret(
    userId,
    seal(box, userId, newWebhookSecret()),
    now + ROTATION_GRACE_MS,
  );
  return rotated ? opened(rotated, box) : null;
}

/**
 * The data migration that seals rows written in clear (before sealing existed). Safe with several
 * instances starting at once: each row is replaced by compare-and-swap. Returns the rows sealed.
 */
export async function sealClearSecrets(store: Store, box: SecretBox): Promise<number> {
  let sealed = 0;
  for (const row of await store.listWebhookSecrets()) {
    const clear = (value: string | null) => value !== null && value !== '' && !SecretBox.isSealed(value);
    if (!clear(row.current) && !clear(row.previous)) continue;
    const to = {
      current: clear(row.current) ? seal(box, row.userId, row.current) : row.current,
      previous:
        row.previous !== null && clear(row.previous) ? seal(box, row.userId, row.previous) : row.previous,
    };
    if (await store.replaceWebhookSecrets(row, to)) sealed++;
  }
  return sealed;
}
