/**
 * Encrypts secrets at rest (upstream API keys, webhook secrets): AES-256-GCM, random 12-byte IV,
 * the owning row bound as associated data so a ciphertext copied onto another row fails to
 * decrypt, and a version prefix so the key derivation and the master key can change.
 *
 * Versions:
 * - `v1:iv:body:tag` — the key is the master key itself (64 hex chars or base64 of 32 bytes), or,
 *   for data written before v2, a passphrase stretched with one unsalted SHA-256 (still read).
 * - `v2:salt:iv:body:tag` — a passphrase master key stretched with scrypt and the value's salt.
 *   Each process picks one salt when it starts, so deriving costs one scrypt per process and per
 *   salt read back (cached), not one per secret.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync } from 'node:crypto';

const RAW = 'v1';
const SCRYPT = 'v2';
/** N=2^15, r=8: 32 MiB and tens of milliseconds per guess, once per salt for us. */
const SCRYPT_OPTIONS = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export function scryptKey(passphrase: string, salt: Buffer): Buffer {
  return scryptSync(passphrase, salt, 32, SCRYPT_OPTIONS);
}

export interface SecretBoxOptions {
  /** Set when the master key is a passphrase: new values are sealed as v2 with scrypt. */
  passphrase?: string;
  /** The salt new values use (default: random per process). */
  salt?: Buffer;
}

export class SecretBox {
  /** v1 key: the raw master key, or the legacy SHA-256 of a passphrase. */
  private readonly key: Buffer;
  private readonly passphrase: string | null;
  private readonly salt: Buffer;
  private readonly derived = new Map<string, Buffer>();

  constructor(masterKey: Buffer, options: SecretBoxOptions = {}) {
    if (masterKey.length !== 32) throw new Error('master key must be 32 bytes');
    this.key = masterKey;
    this.passphrase = options.passphrase ?? null;
    this.salt = options.salt ?? randomBytes(16);
  }

  /** True for a value this box wrote (any version), false for clear text. */
  static isSealed(value: string): boolean {
    return /^v[12]:[A-Za-z0-9_-]+:/.test(value);
  }

  encrypt(plain: string, associated: string): string {
    if (this.passphrase === null) return [RAW, ...seal(this.key, plain, associated)].join(':');
    return [SCRYPT, this.salt.toString('base64url'), ...seal(this.keyFor(this.salt), plain, associated)].join(
      ':',
    );
  }

  decrypt(sealed: string, associated: string): string {
    const parts = sealed.split(':');
    if (parts[0] === RAW && parts.length === 4) return open(this.key, parts.slice(1), associated);
    if (parts[0] === SCRYPT && parts.length === 5 && this.passphrase !== null) {
      return open(this.keyFor(Buffer.from(parts[1]!, 'base64url')), parts.slice(2), associated);
    }
    throw new Error('unsupported secret format');
  }

  private keyFor(salt: Buffer): Buffer {
    const id = salt.toString('base64url');
    let key = this.derived.get(id);
    if (!key) {
      key = scryptKey(this.passphrase!, salt);
      this.derived.set(id, key);
    }
    return key;
  }
}

function seal(key: Buffer, plain: string, associated: string): string[] {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(associated, 'utf8'));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')];
}

function open(key: Buffer, [iv, body, tag]: string[], associated: string): string {
  if (!iv || body === undefined || !tag) throw new Error('unsupported secret format');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(associated, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}

/** The box for a master key text: raw keys seal as v1, passphrases as v2 (scrypt) and still read v1. */
export function secretBoxFor(masterKeyText: string): SecretBox {
  const key = parseMasterKey(masterKeyText);
  return isPassphrase(masterKeyText)
    ? new SecretBox(key, { passphrase: masterKeyText.trim() })
    : new SecretBox(key);
}

function isPassphrase(text: string): boolean {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return false;
  return !(Buffer.from(trimmed, 'base64').length === 32 && /^[A-Za-z0-9+/=_-]+$/.test(trimmed));
}

/** Associated data binding a tenant's callback signing secret to its user row. */
export function userAad(userId: number): string {
  // One for both columns: a rotation moves the current value into the previous one as it is.
  return `user:${userId}:webhook_secret`;
}

/** Associated data binding a secret to its account row. */
export function accountAad(userId: number, email: string): string {
  return `account:${userId}:${email}`;
}

/**
 * Accepts a master key as 64 hex chars or base64 of 32 bytes; any other text is a passphrase,
 * and this returns its legacy (v1) key, one unsalted SHA-256: only for reading old values.
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
