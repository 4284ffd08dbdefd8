/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com):
 *   webhook-id:        msg_<deliveryId>            (stable across retries: receivers dedupe on it)
 *   webhook-timestamp: <unix seconds of this attempt>
 *   webhook-signature: v1,<base64 HMAC-SHA256("<id>.<timestamp>.<body>")> [v1,<…> …]
 * The HMAC key is the base64-decoded part of the secret after "whsec_". During a rotation's
 * grace period a message carries one signature per valid secret, space-separated, so receivers
 * holding either secret accept it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const PREFIX = 'whsec_';

export function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret;
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw new Error('webhook secret is empty');
  return key;
}

export function webhookId(deliveryId: number): string {
  return `msg_${deliveryId}`;
}

/** The base64 HMAC of one message under one secret (no "v1," prefix). */
export function sign(secret: string, id: string, timestampS: number, body: string | Buffer): string {
  return createHmac('sha256', secretKey(secret)).update(`${id}.${timestampS}.`).update(body).digest('base64');
}

/** The three Standard Webhooks headers for one attempt, signed with every given secret. */
export function webhookHeaders(
  secrets: readonly string[],
  id: string,
  timestampS: number,
  body: string,
): Record<string, string> {
  if (secrets.length === 0) throw new Error('no webhook secret to sign with');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampS),
    'webhook-signature': secrets.map((secret) => `v1,${sign(secret, id, timestampS, body)}`).join(' '),
  };
}

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | null {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  const bag = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(bag).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : bag[key];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

/**
 * True when `body` (the raw request body, exactly as received) carries a valid signature under
 * `secret` and its timestamp is within `toleranceS` of now (replay protection).
 *
 *   if (!verifyWebhook(process.env.PIXGATE_WEBHOOK_SECRET, req.headers, rawBody)) return res.status(401).end();
 */
export function verifyWebhook(
  secret: string,
  headers: HeaderBag,
  body: string | Buffer,
  toleranceS = 300,
  nowMs = Date.now(),
): boolean {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceS) return false;
  let expected: Buffer;
  try {
    expected = Buffer.from(sign(secret, id, Number(timestamp), body), 'base64');
  } catch {
    return false;
  }
  let valid = false;
  for (const entry of signatures.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma === -1 || entry.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(entry.slice(comma + 1), 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) valid = true;
  }
  return valid;
}
