/** Small JSON-over-HTTP helper for seeding state through the real API (bounded in time). */
import { request } from 'undici';

export interface JsonReply<T = unknown> {
  status: number;
  body: T;
  raw: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

export async function call<T = unknown>(
  origin: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<JsonReply<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await request(origin + path, {
    method: method as 'GET',
    headers,
    body,
    headersTimeout: 15_000,
    bodyTimeout: 15_000,
  });
  const raw = Buffer.from(await res.body.arrayBuffer());
  let parsed: unknown = null;
  try {
    parsed = raw.length ? JSON.parse(raw.toString('utf8')) : null;
  } catch {
    parsed = raw.toString('utf8');
  }
  return { status: res.statusCode, body: parsed as T, raw, headers: res.headers };
}

export async function expectStatus<T>(
  what: string,
  reply: Promise<JsonReply<T>>,
  status: number,
): Promise<T> {
  const r = await reply;
  if (r.status !== status)
    throw new Error(
      `${what}: expected HTTP ${status}, got ${r.status} ${r.raw.toString('utf8').slice(0, 300)}`,
    );
  return r.body;
}

/** Runs `task(i)` for i in [0, count) with at most `parallel` in flight. */
export async function inParallel(
  count: number,
  parallel: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
}
