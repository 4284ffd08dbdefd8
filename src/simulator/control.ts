/**
 * Test/bench control plane under /_sim (no API key), plain JSON and plain HTTP statuses since it is
 * not PixVerse's API:
 *   GET  /_sim/stats                 per-key and total counters
 *   POST /_sim/reset-stats           clears peaks and violations
 *   POST /_sim/keys/<key>            {maxConcurrent?, creditMonthly?, creditPackage?}
 *   POST /_sim/videos/<id>/delete    the video reads as status 6 (deleted) from now on (also
 *                                    /_sim/images/<id>/delete and /_sim/music/<id>/delete)
 */
import type { Engine } from './engine.ts';

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
export function handleControl(engine: Engine, method: string, path: string, body: string): ControlReply | null {
  const now = Date.now();
  if (path === '/_sim/stats' && method === 'GET') return reply(200, engine.stats(now));
  if (path === '/_sim/reset-stats' && method === 'POST') {
    engine.resetStats(now);
    return reply(200, { ok: true });
  }
  const deleteMatch = /^\/_sim\/(videos|images|music)\/(\d{1,20})\/delete$/.exec(path);
  if (deleteMatch && method === 'POST') {
    const id = deleteMatch[2]!.replace(/^0+(?=\d)/, '');
    if (!engine.deleteJob(id, now)) return reply(404, { error: `no job ${id}` });
    return reply(200, { ok: true, id, status: 6 });
  }
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
      if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new Error('body must be a JSON object');
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
