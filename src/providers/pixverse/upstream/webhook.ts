/**
 * PixVerse webhook deliveries: reading the notice and checking its signature.
 *
 * PixVerse POSTs `{"id": <video id>, "status": <1|5|6|7|8>, "url": …, …}` with the headers
 * Webhook-Timestamp (Unix seconds), Webhook-Nonce and Webhook-Signature =
 * Base64(HMAC-SHA256(secret, "{timestamp}\n{nonce}\n{form-encoded top-level body}")).
 *
 * The official samples disagree on the order of the form-encoded pairs (Go and Java sort the keys,
 * Python and Node keep the body's order), so both are accepted: sorted first, then body order.
 * Values are encoded as the sender wrote them: numbers keep their exact text (the body is parsed
 * with every number left as written, so an int64 id or `10.50` signs as sent), booleans are
 * lowercase, strings verbatim, anything nested as compact JSON.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isLosslessNumber, parse, parseLosslessNumber, stringify } from 'lossless-json';
import { WebhookFormatError, type WebhookNotice, type WebhookVerdict } from '../../../scheduler/provider.ts';

/** How far a delivery's timestamp may be from our clock (PixVerse recommends a replay window). */
export const WEBHOOK_TOLERANCE_MS = 300_000;

interface WebhookHeaders {
  timestamp: string | undefined;
  nonce: string | undefined;
  signature: string | undefined;
}

/** Parses a delivery; throws WebhookFormatError naming what is wrong. The id may be a string or a JSON number. */
export function readWebhook(header: (name: string) => string | undefined, rawBody: string): WebhookNotice {
  const headers: WebhookHeaders = {
    timestamp: header('webhook-timestamp'),
    nonce: header('webhook-nonce'),
    signature: header('webhook-signature'),
  };
  let body: unknown;
  try {
    // Every number stays a LosslessNumber: its text is what the sender signed.
    body = parse(rawBody, null, parseLosslessNumber);
  } catch {
    throw new WebhookFormatError('body is not valid JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new WebhookFormatError('body must be a JSON object');
  const fields = body as Record<string, unknown>;
  const upstreamId = idText(fields['id']);
  if (upstreamId === null)
    throw new WebhookFormatError('id must be the video id (digits, as a string or a number)');
  const status = numberOf(fields['status']);
  const pairs = Object.entries(fields).map(([key, value]) => [key, formValue(value)] as [string, string]);
  return {
    upstreamId,
    status,
    verify: (secret, now) => verify(secret, now, headers, pairs),
  };
}

function verify(
  secret: string,
  now: number,
  headers: WebhookHeaders,
  pairs: [string, string][],
): WebhookVerdict {
  const { timestamp, nonce, signature } = headers;
  if (!timestamp || !nonce || !signature) return 'unsigned';
  const seconds = Number(timestamp);
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now - seconds * 1000) > WEBHOOK_TOLERANCE_MS) return 'stale';
  const given = Buffer.from(signature.trim(), 'base64');
  const sorted = [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const order of [sorted, pairs]) {
    const expected = createHmac('sha256', secret)
      .update(`${timestamp}\n${nonce}\n${new URLSearchParams(order).toString()}`)
      .digest();
    if (given.length === expected.length && timingSafeEqual(given, expected)) return 'ok';
  }
  return 'bad_signature';
}

function idText(value: unknown): string | null {
  const text = isLosslessNumber(value) ? value.value : typeof value === 'string' ? value.trim() : null;
  return text !== null && /^\d{1,20}$/.test(text) ? text : null;
}

function numberOf(value: unknown): number | null {
  const text = isLosslessNumber(value) ? value.value : typeof value === 'string' ? value : null;
  const n = text === null ? NaN : Number(text);
  return Number.isFinite(n) ? n : null;
}

function formValue(value: unknown): string {
  if (isLosslessNumber(value)) return value.value;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === null) return '';
  return stringify(value) ?? '';
}
