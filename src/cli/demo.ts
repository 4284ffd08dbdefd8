/**
 * First-run demo data for the embedded mode: one tenant with three accounts whose API keys
 * the built-in simulator accepts. The demo token is kept in the data dir so restarts reuse it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Services } from '../app/index.ts';
import type { Webhook, WebhookConfig } from '../providers/pixverse/simulator/index.ts';
import { tokenUserId } from '../security/tokens.ts';

export const DEMO_ACCOUNTS = [
  { email: 'demo-1@pixgate.local', apiKey: 'sim-demo-key-0001', maxJobs: 2 },
  { email: 'demo-2@pixgate.local', apiKey: 'sim-demo-key-0002', maxJobs: 3 },
  { email: 'demo-3@pixgate.local', apiKey: 'sim-demo-key-0003', maxJobs: 4 },
];

/** Simulator concurrency limits equal to the demo accounts' maxJobs. */
export const DEMO_KEY_LIMITS = Object.fromEntries(DEMO_ACCOUNTS.map((a) => [a.apiKey, a.maxJobs]));

/** The simulator answers every key check; a failed one would only mean a slower first job. */
const ignoreUnverified = () => {};

export async function ensureDemoTenant(services: Services, dataDir: string): Promise<string> {
  const path = join(dataDir, 'demo.token');
  if (existsSync(path)) {
    const token = readFileSync(path, 'utf8').trim();
    const userId = tokenUserId(token);
    if (userId !== null && (await services.tenants.find(userId))) return token;
  }
  const { user, token } = await services.tenants.create('demo', 'demo');
  for (const account of DEMO_ACCOUNTS) {
    await services.accounts.save(
      user.id,
      account.email,
      { apiKey: account.apiKey, maxJobs: account.maxJobs, webhook: undefined },
      ignoreUnverified,
    );
  }
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return token;
}

/**
 * Gives every demo account a webhook at the built-in simulator pointing at this gateway, as an
 * operator would in the PixVerse console, so the demo shows jobs finishing the moment they end.
 * The simulator starts empty each run, so this runs on every start (re-sealing the new secrets).
 */
export async function wireDemoWebhooks(
  services: Services,
  token: string,
  gatewayUrl: string,
  createWebhook: (config: WebhookConfig) => Webhook,
): Promise<void> {
  const userId = tokenUserId(token);
  if (userId === null) return;
  for (const account of DEMO_ACCOUNTS) {
    const current = await services.accounts.find(userId, account.email);
    if (!current) continue;
    const hook = createWebhook({ url: `${gatewayUrl}/upstream/pixverse/webhook`, api_key: account.apiKey });
    await services.accounts.setWebhook(current, { id: hook.webhook_id, secret: hook.secret });
  }
}
