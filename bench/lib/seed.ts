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
  return expectStatus(
    'create tenant',
    call<Tenant>(gatewayUrl, 'POST', '/admin/users', { token: adminToken, body: { name } }),
    201,
  );
}

/** Account i gets email bench-i@example.com and simulator API key `${keyPrefix}${i}`. */
export async function addAccounts(
  gatewayUrl: string,
  token: string,
  count: number,
  maxJobs: number,
  keyPrefix: string,
): Promise<void> {
  await inParallel(count, 8, async (i) => {
    const email = `bench-${i}@example.com`;
    await expectStatus(
      `add account ${email}`,
      call(gatewayUrl, 'POST', `/v2/pixverse/accounts/${email}`, {
        token,
        body: { email, apiKey: `${keyPrefix}${i}`, maxJobs },
      }),
      201,
    );
  });
}

/** `count` video creates that all must be accepted (HTTP 200). */
export async function createJobs(
  gatewayUrl: string,
  token: string,
  count: number,
  prompt: (i: number) => string,
): Promise<void> {
  await inParallel(count, 8, async (i) => {
    await expectStatus(
      `create job ${i}`,
      call(gatewayUrl, 'POST', '/v2/pixverse/videos/create', { token, body: { prompt: prompt(i) } }),
      200,
    );
  });
}

export interface SimWebhook {
  webhook_id: string;
  secret: string;
}

/** A PixVerse webhook at the simulator (its stand-in for the platform console) pointing at the gateway's receiver. */
export async function createSimWebhook(simUrl: string, gatewayUrl: string): Promise<SimWebhook> {
  return expectStatus(
    'simulator webhook',
    call<SimWebhook>(simUrl, 'POST', '/_sim/webhooks', {
      body: { url: `${gatewayUrl}/upstream/pixverse/webhook` },
    }),
    200,
  );
}

/**
 * Accounts with their own maxJobs each: account i gets key `${keyPrefix}${i}` and maxJobs[i]; with
 * `webhookSim`, each also gets its own webhook created at that simulator for the gateway.
 */
export async function addAccountsWith(
  gatewayUrl: string,
  token: string,
  maxJobs: number[],
  keyPrefix: string,
  webhookSim: string | null = null,
): Promise<void> {
  await inParallel(maxJobs.length, 8, async (i) => {
    const email = `bench-${i}@example.com`;
    const hook = webhookSim === null ? null : await createSimWebhook(webhookSim, gatewayUrl);
    const body = {
      email,
      apiKey: `${keyPrefix}${i}`,
      maxJobs: maxJobs[i],
      ...(hook ? { webhookId: hook.webhook_id, webhookSecret: hook.secret } : {}),
    };
    await expectStatus(
      `add account ${email}`,
      call(gatewayUrl, 'POST', `/v2/pixverse/accounts/${email}`, { token, body }),
      201,
    );
  });
}

/** The simulator's own concurrency limit per key (POST /_sim/keys/<key>), equal to the account's maxJobs. */
export async function setSimLimits(simUrl: string, keyPrefix: string, limits: number[]): Promise<void> {
  await inParallel(limits.length, 8, async (i) => {
    await expectStatus(
      `simulator limit ${keyPrefix}${i}`,
      call(simUrl, 'POST', `/_sim/keys/${encodeURIComponent(`${keyPrefix}${i}`)}`, {
        body: { maxConcurrent: limits[i] },
      }),
      200,
    );
  });
}

/** PATCH /admin/users/:id (queueByDefault, maxQueueLength, maxQueueWaitSeconds). */
export async function setTenantQueue(
  gatewayUrl: string,
  adminToken: string,
  userId: number,
  settings: { queueByDefault?: boolean; maxQueueLength?: number; maxQueueWaitSeconds?: number },
): Promise<void> {
  await expectStatus(
    'tenant queue settings',
    call(gatewayUrl, 'PATCH', `/admin/users/${userId}`, { token: adminToken, body: settings }),
    200,
  );
}

/** Polls `check` every `everyMs` until it returns true; throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 50,
): Promise<void> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (performance.now() > until)
      throw new Error(`${what}: not done within ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
