/**
 * Test/bench control plane under /_sim (no API key), plain JSON and plain HTTP statuses since it is
 * not PixVerse's API:
 *   GET  /_sim/stats                 per-key and total counters
 *   POST /_sim/reset-stats           clears peaks and violations
 *   POST /_sim/keys/<key>            {maxConcurrent?, creditMonthly?, creditPackage?}
 *   POST /_sim/videos/<id>/delete    the video reads as status 6 (deleted) from now on (also
 *                                    /_sim/images/<id>/delete)
 * The platform console's webhooks (webhooks.ts):
 *   POST   /_sim/webhooks            {url, secret?, webhook_id?, api_key?} → {webhook_id, url, secret,
 *                                    api_key?}; the secret is generated when absent, the id too;
 *                                    api_key restricts it to that key's creates; 409 if the id exists
 *   GET    /_sim/webhooks            {webhooks: [...]}
 *   GET    /_sim/webhooks/<id>       one webhook, or 404
 *   DELETE /_sim/webhooks/<id>       removes it; deliveries still pending for it are dropped
 */
import type { Engine } from './engine.ts';
import type { WebhookConfig } from './options.ts';
import { WebhookConfigError } from './webhooks.ts';

export interface ControlReply {
  status: number;
  text: string;
}

const reply = (status: number, value: unknown): ControlReply => ({ status, text: JSON.stringify(value) });

function nonNegativeInt(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new Error(`${name} must be a non-negative integer`);
  }
  return value;
}

/** Returns null when the path is not a control route. */
export function handleControl(
  engine: Engine,
  method: string,
  path: string,
  body: string,
): ControlReply | null {
  const now = Date.now();
  if (path === '/_sim/stats' && method === 'GET') return reply(200, engine.stats(now));
  if (path === '/_sim/reset-stats' && method === 'POST') {
    engine.resetStats(now);
    return reply(200, { ok: true });
  }
  const deleteMatch = /^\/_sim\/(videos|images)\/(\d{1,20})\/delete$/.exec(path);
  if (deleteMatch && method === 'POST') {
    const id = deleteMatch[2]!.replace(/^0+(?=\d)/, '');
    if (!engine.deleteJob(id, now)) return reply(404, { error: `no job ${id}` });
    return reply(200, { ok: true, id, status: 6 });
  }
  if (path === '/_sim/webhooks' || path.startsWith('/_sim/webhooks/'))
    return webhookControl(engine, method, path, body);
  const keyMatch = /^\/_sim\/keys\/([^/]+)$/.exec(path);
  if (keyMatch && method === 'POST') {
    let key: string;
    try {
      key = decodeURIComponent(keyMatch[1]!);
    } catch {
      return reply(400, { error: 'bad key encoding' });
    }
    try {
      const input: unknown = body.trim() === '' ? {} : JSON.parse(body);
      if (input === null || typeof input !== 'object' || Array.isArray(input))
        throw new Error('body must be a JSON object');
      const fields = input as Record<string, unknown>;
      const limit = nonNegativeInt(fields.maxConcurrent, 'maxConcurrent');
      const monthly = nonNegativeInt(fields.creditMonthly, 'creditMonthly');
      const pkg = nonNegativeInt(fields.creditPackage, 'creditPackage');
      if (limit !== undefined) engine.setLimit(key, limit);
      engine.setCredits(key, monthly, pkg);
      return reply(200, { key, ...engine.keyStats(key, now) });
    } catch (err) {
      return reply(400, { error: (err as Error).message });
    }
  }
  return null;
}

function webhookControl(engine: Engine, method: string, path: string, body: string): ControlReply | null {
  if (path === '/_sim/webhooks') {
    if (method === 'GET') return reply(200, { webhooks: engine.webhooks.list() });
    if (method !== 'POST') return null;
    try {
      // create() checks the shape itself: plain JS callers of the handle get the same checks.
      return reply(200, engine.webhooks.create(JSON.parse(body) as WebhookConfig));
    } catch (err) {
      if (err instanceof WebhookConfigError) return reply(err.status, { error: err.message });
      return reply(400, { error: 'body must be a JSON object' });
    }
  }
  const match = /^\/_sim\/webhooks\/([^/]+)$/.exec(path);
  if (!match) return null;
  let id: string;
  try {
    id = decodeURIComponent(match[1]!);
  } catch {
    return reply(400, { error: 'bad webhook id encoding' });
  }
  if (method === 'GET') {
    const hook = engine.webhooks.get(id);
    return hook ? reply(200, hook) : reply(404, { error: `no webhook ${id}` });
  }
  if (method === 'DELETE') {
    return engine.webhooks.remove(id)
      ? reply(200, { ok: true, webhook_id: id })
      : reply(404, { error: `no webhook ${id}` });
  }
  return null;
}
