/**
 * API tokens in useapi's form `user:<userId>-<secret>`. Only a SHA-256 hash is stored;
 * comparison is constant-time so response timing never reveals how much of a token matched.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const TOKEN_PATTERN = /^user:(\d{1,15})-([A-Za-z0-9_-]{16,128})$/;

export function generateToken(userId: number): string {
  return `user:${userId}-${randomBytes(24).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The user id a token claims, or null when the text is not shaped like a token. */
export function tokenUserId(token: string): number | null {
  const match = TOKEN_PATTERN.exec(token);
  if (!match) return null;
  const id = Number(match[1]);
  return Number.isSafeInteger(id) ? id : null;
}

/** Constant-time equality of two hex digests of equal length. */
export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}
