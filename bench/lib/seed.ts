/** Seeds gateway state through the real HTTP API: admin → tenant → accounts → jobs. */
import type { ServerChild } from './children.ts';
import { call, expectStatus, inParallel } from './http.ts';

/** Runs `work`; a failure carries the last lines the server logged, which usually say why. */
export async function withServerLog<T>(server: ServerChild<unknown>, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    await new Promise((r) => setTimeout(r, 100)); // let the child's stderr arrive
    const tail = server.stderrTail(8);
    if (err instanceof Error && tail) err.message += `\n--- ${server.name} stderr (last lines) ---\n${tail}`;
    throw err;
  }
}

export interface Tenant {
  userId: number;
  token: string;
}

export async function createTenant(gatewayUrl: string, adminToken: string, name: string): Promise<Tenant> {
  return expectStatus('create tenant', call<Tenant>(gatewayUrl, 'POST', '/admin/users', { token: adminToken, body: { name } }), 201);
}

/** Account i gets email bench-i@example.com and simulator API key `${keyPrefix}${i}`. */
export async function addAccounts(gatewayUrl: string, token: string, count: number, maxJobs: number, keyPrefix: string): Promise<void> {
  await inParallel(count, 8, async (i) => {
    const email = `bench-${i}@example.com`;
    await expectStatus(`add account ${email}`, call(gatewayUrl, 'POST', `/v2/pixverse/accounts/${email}`, { token, body: { email, apiKey: `${keyPrefix}${i}`, maxJobs } }), 201);
  });
}

/** `count` video creates that all must be accepted (HTTP 200). */
export async function createJobs(gatewayUrl: string, token: string, count: number, prompt: (i: number) => string): Promise<void> {
  await inParallel(count, 8, async (i) => {
    await expectStatus(`create job ${i}`, call(gatewayUrl, 'POST', '/v2/pixverse/videos/create', { token, body: { prompt: prompt(i) } }), 200);
  });
}
