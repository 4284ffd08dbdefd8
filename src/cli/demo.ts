/**
 * First-run demo data for the embedded mode: one tenant with three accounts whose API keys
 * the built-in simulator accepts. The demo token is kept in the data dir so restarts reuse it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AccountKeys } from '../scheduler/accountKeys.ts';
import type { Webhook, WebhookConfig } from '../providers/pixverse/simulator/index.ts';
import { generateToken, hashToken, tokenUserId } from '../security/tokens.ts';
import type { Store } from '../store/store.ts';

export const DEMO_ACCOUNTS = [
  { email: 'demo-1@pixgate.local', apiKey: 'sim-demo-key-0001', maxJobs: 2 },
  { email: 'demo-2@pixgate.local', apiKey: 'sim-demo-key-0002', maxJobs: 3 },
  { email: 'demo-3@pixgate.local', apiKey: 'sim-demo-key-0003', maxJobs: 4 },
];

/** Simulator concurrency limits equal to the demo accounts' maxJobs. */
export const DEMO_KEY_LIMITS = Object.fromEntries(DEMO_ACCOUNTS.map((a) => [a.apiKey, a.maxJobs]));

export async function ensureDemoTenant(store: Store, keys: AccountKeys, dataDir: string): Promise<string> {
  const path = join(dataDir, 'demo.token');
  if (existsSync(path)) {
    const token = readFileSync(path, 'utf8').trim();
    const userId = tokenUserId(token);
    if (userId !== null && (await store.getUser(userId))) return token;
  }
  const now = Date.now();
  const user = await store.createUser('demo', now, '');
  const token = generateToken(user.id);
  await store.addToken(user.id, hashToken(token), 'demo', now);
  for (const account of DEMO_ACCOUNTS) {
    await store.upsertAccount({ userId: user.id, email: account.email, apiKeyEnc: keys.seal(user.id, account.email, account.apiKey), maxJobs: account.maxJobs, now });
  }
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return token;
}

/**
 * Gives every demo account a webhook at the built-in simulator pointing at this gateway, as an
 * operator would in the PixVerse console, so the demo shows jobs finishing the moment they end.
 * The simulator starts empty each run, so this runs on every start (re-sealing the new secrets).
 */
export async function wireDemoWebhooks(store: Store, keys: AccountKeys, token: string, gatewayUrl: string, createWebhook: (config: WebhookConfig) => Webhook): Promise<void> {
  const userId = tokenUserId(token);
  if (userId === null) return;
  const now = Date.now();
  for (const account of DEMO_ACCOUNTS) {
    const current = await store.getAccount(userId, account.email);
    if (!current) continue;
    const hook = createWebhook({ url: `${gatewayUrl}/upstream/pixverse/webhook`, api_key: account.apiKey });
    await store.upsertAccount({
      userId,
      email: account.email,
      apiKeyEnc: current.apiKeyEnc,
      maxJobs: current.maxJobs,
      webhook: { id: hook.webhook_id, secretEnc: keys.sealWebhookSecret(userId, account.email, hook.secret) },
      now,
    });
  }
}
