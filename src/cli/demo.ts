/**
 * First-run demo data for the embedded mode: one tenant with three accounts whose API keys
 * the built-in simulator accepts. The demo token is kept in the data dir so restarts reuse it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AccountKeys } from '../scheduler/accountKeys.ts';
import { generateToken, hashToken, tokenUserId } from '../security/tokens.ts';
import { newWebhookSecret } from '../security/webhookSecret.ts';
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
  const user = await store.createUser('demo', now, newWebhookSecret());
  const token = generateToken(user.id);
  await store.addToken(user.id, hashToken(token), 'demo', now);
  for (const account of DEMO_ACCOUNTS) {
    await store.upsertAccount({ userId: user.id, email: account.email, apiKeyEnc: keys.seal(user.id, account.email, account.apiKey), maxJobs: account.maxJobs, now });
  }
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return token;
}
