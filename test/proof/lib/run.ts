/** Shared steps of the proof suites: tenants, bursts of creates, waiting for final states, figures. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { call, sleep } from '../../helpers/harness.ts';

export interface Tenant {
  token: string;
  userId: number;
}

export async function setupTenant(
  url: string,
  adminToken: string,
  accounts: { key: string; maxJobs: number }[],
  settings: Record<string, unknown> = {},
): Promise<Tenant> {
  const user = await call(url, 'POST', '/admin/users', adminToken, { name: 'proof' });
  if (user.status !== 201) throw new Error(`tenant: ${user.status} ${JSON.stringify(user.body)}`);
  if (Object.keys(settings).length > 0) {
    const res = await call(url, 'PATCH', `/admin/users/${user.body.userId}`, adminToken, settings);
    if (res.status !== 200) throw new Error(`settings: ${res.status} ${JSON.stringify(res.body)}`);
  }
  for (const [i, account] of accounts.entries()) {
    const email = `acct${i}@example.com`;
    const res = await call(url, 'POST', `/v2/pixverse/accounts/${email}`, user.body.token, {
      email,
      apiKey: account.key,
      maxJobs: account.maxJobs,
    });
    if (res.status !== 201) throw new Error(`account: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { token: user.body.token, userId: user.body.userId };
}

/** A callback receiver on loopback counting deliveries per job id. */
export interface Receiver {
  url: string;
  deliveries: Map<string, number>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const deliveries = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      try {
        const parsed = JSON.parse(body) as { replyRef?: string; video_status_final?: boolean };
        if (parsed.replyRef && parsed.video_status_final)
          deliveries.set(parsed.replyRef, (deliveries.get(parsed.replyRef) ?? 0) + 1);
      } catch {
        /* not ours */
      }
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    deliveries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * GETs each id until all are final (or the deadline passes); returns id → final view. Paced: a
 * pass over thousands of ids runs 8 reads at a time and no pass starts sooner than a second after
 * the previous one began, so the status reads stay a small share of the work of the gateway under
 * test (and of this process, which also hosts the simulator) on a shared, loaded machine.
 */
export async function waitAllFinal(
  urls: () => string[],
  token: string,
  ids: string[],
  timeoutMs: number,
): Promise<Map<string, { video_status_name: string; error?: string }>> {
  const done = new Map<string, { video_status_name: string; error?: string }>();
  const deadline = Date.now() + timeoutMs;
  while (done.size < ids.length && Date.now() < deadline) {
    const passStart = Date.now();
    const pending = ids.filter((id) => !done.has(id));
    for (let i = 0; i < pending.length && Date.now() < deadline; i += 8) {
      await Promise.all(
        pending.slice(i, i + 8).map(async (id) => {
          const list = urls();
          if (list.length === 0) return;
          const url = list[Math.floor(Math.random() * list.length)]!;
          try {
            const res = await call(url, 'GET', `/v2/pixverse/videos/${encodeURIComponent(id)}`, token);
            if (res.status === 200 && res.body.video_status_final) done.set(id, res.body);
          } catch {
            /* the instance may be down right now */
          }
        }),
      );
    }
    if (done.size < ids.length) await sleep(Math.max(250, 1000 - (Date.now() - passStart)));
  }
  return done;
}

/** Ids of the tenant's jobs holding a slot now, by `/scheduler/available`. */
export async function executingIds(url: string, token: string): Promise<string[]> {
  const res = await call(url, 'GET', '/v2/pixverse/scheduler/available', token);
  if (res.status !== 200) throw new Error(`available: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body.executing as { id: string }[]).map((item) => item.id);
}

/** Milliseconds until none of `ids` holds a slot any more (or `timeoutMs`, then it throws). */
export async function waitNotExecuting(
  urls: () => string[],
  token: string,
  ids: string[],
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  const watched = new Set(ids);
  while (watched.size > 0) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`still holding a slot after ${timeoutMs} ms: ${[...watched].join(', ')}`);
    const list = urls();
    try {
      if (list.length > 0) {
        const now = new Set(await executingIds(list[Math.floor(Math.random() * list.length)]!, token));
        for (const id of watched) if (!now.has(id)) watched.delete(id);
      }
    } catch {
      /* the instance may be down right now */
    }
    if (watched.size > 0) await sleep(200);
  }
  return Date.now() - started;
}

/** The suite's one line of figures. */
export function figures(suite: string, values: Record<string, string | number>): string {
  const line = `proof ${suite}: ${Object.entries(values)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;
  console.log(line);
  return line;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
