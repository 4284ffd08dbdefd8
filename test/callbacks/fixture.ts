/**
 * A real SQLite store in a temp file with the callbacks outbox builder installed, plus helpers
 * that move jobs through their life the way the scheduler does (reserve → markRunning → finish),
 * so every transition writes its outbox entry in the store's own transaction.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { CallbackDeliverer, type CallbackDelivererOptions } from '../../src/callbacks/deliverer.ts';
import { createOutboxBuilder } from '../../src/callbacks/outbox.ts';
import type { Job, JobOutcome } from '../../src/domain/job.ts';
import { newWebhookSecret } from '../../src/security/webhookSecret.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { Delivery, Store, User } from '../../src/store/store.ts';

export const silent = pino({ level: 'silent' });

export interface Fixture {
  store: Store;
  dir: string;
  path: string;
  /** Closes and reopens the store file (a process restart). */
  reopen(): Promise<Store>;
  close(): Promise<void>;
}

export async function openFixture(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'pixgate-callbacks-'));
  const path = join(dir, 'pixgate.db');
  const open = async () => {
    const store = await openSqliteStore(path);
    store.setOutboxBuilder(createOutboxBuilder());
    return store;
  };
  const fixture: Fixture = {
    store: await open(),
    dir,
    path,
    async reopen() {
      await fixture.store.close();
      fixture.store = await open();
      return fixture.store;
    },
    async close() {
      await fixture.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}

let emails = 0;

/** A tenant with one roomy account. `secret: ''` makes a row as migrated from before secrets. */
export async function tenant(store: Store, secret: string = newWebhookSecret()): Promise<User> {
  const user = await store.createUser(`tenant-${++emails}`, Date.now(), secret);
  await store.upsertAccount({
    userId: user.id,
    email: `acct${emails}@x.com`,
    apiKeyEnc: 'enc',
    maxJobs: 8,
    now: Date.now(),
  });
  return user;
}

let upstreamIds = 1_000_000;

export interface JobOptions {
  replyUrl: string | null;
  replyRef?: string | null;
  progress?: boolean;
}

/** submitting → running (a 'progress' delivery when asked for). */
export async function startJob(store: Store, user: User, opts: JobOptions): Promise<Job> {
  const reserved = await store.reserve({
    provider: 'pixverse',
    userId: user.id,
    tokenId: null,
    email: null,
    maxJobsOverride: 1_000,
    type: 'video',
    traceId: `trace-${Math.random().toString(36).slice(2)}`,
    upstream: { op: 'video.text', params: { prompt: 'a cat' } },
    request: opts.progress ? { prompt: 'a cat', replyProgress: true } : { prompt: 'a cat' },
    replyUrl: opts.replyUrl,
    replyRef: opts.replyRef ?? null,
    now: Date.now(),
  });
  if (!reserved.ok) throw new Error(`reserve: ${reserved.reason}`);
  const upstreamId = String(++upstreamIds);
  if (!(await store.markRunning(reserved.job.id, upstreamId, Date.now() + 60_000, Date.now())))
    throw new Error('markRunning lost');
  return (await store.getJob(reserved.job.id))!;
}

/** running → a final state (the 'final' delivery). */
export async function finishJob(
  store: Store,
  job: Job,
  outcome: JobOutcome = { state: 'completed', resultUrl: 'https://media.example/v.mp4' },
): Promise<Job> {
  const finished = await store.finish(job.id, outcome, Date.now());
  if (!finished) throw new Error('finish lost');
  return finished;
}

export function deliverer(store: Store, opts: Partial<CallbackDelivererOptions> = {}): CallbackDeliverer {
  const d = new CallbackDeliverer({
    store,
    log: silent,
    schedule: [0, 200, 400, 800],
    timeoutMs: 2_000,
    allowlist: ['127.0.0.0/8'],
    owner: `test-${Math.random().toString(36).slice(2, 8)}`,
    idleWakeMs: 100,
    ...opts,
  });
  d.start();
  return d;
}

export async function deliveriesOf(store: Store, userId: number, jobId?: number): Promise<Delivery[]> {
  const list = await store.listDeliveries(userId, { limit: 1000, ...(jobId !== undefined ? { jobId } : {}) });
  return list.sort((a, b) => a.id - b.id);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor<T>(
  check: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}
