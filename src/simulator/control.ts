/**
 * Test/bench control plane under /_sim (no API key): stats, per-key limits and balances, counter
 * resets. Plain JSON (no ids involved), and plain HTTP statuses since it is not PixVerse's API.
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
