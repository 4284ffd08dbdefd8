/**
 * Encrypts upstream API keys at rest: AES-256-GCM, random 12-byte IV, the owning
 * account (user id + email) bound as associated data so a ciphertext copied onto another
 * account row fails to decrypt, and a version prefix so the master key can rotate.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export class SecretBox {
  private readonly key: Buffer;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error('master key must be 32 bytes');
    this.key = masterKey;
  }

  encrypt(plain: string, associated: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(associated, 'utf8'));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, iv.toString('base64url'), body.toString('base64url'), tag.toString('base64url')].join(':');
  }

  decrypt(sealed: string, associated: string): string {
    const [version, iv, body, tag] = sealed.split(':');
    if (version !== VERSION || !iv || body === undefined || !tag) throw new Error('unsupported secret format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(associated, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}

/** Associated data binding a secret to its account row. */
export function accountAad(userId: number, email: string): string {
  return `account:${userId}:${email}`;
}

/**
 * Accepts a master key as 64 hex chars or base64 of 32 bytes; any other text is
 * stretched with SHA-256 so operators can use a passphrase.
 */
export function parseMasterKey(text: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  const decoded = Buffer.from(trimmed, 'base64');
  if (decoded.length === 32 && /^[A-Za-z0-9+/=_-]+$/.test(trimmed)) return decoded;
  return createHash('sha256').update(trimmed, 'utf8').digest();
}

/** Shows just enough of a key to recognise it. */
export function maskSecret(secret: string): string {
  if (secret.length <= 12) return '…secured…';
  return `${secret.slice(0, 4)}…secured…${secret.slice(-4)}`;
}
