/**
 * Test harness: a real simulator and a real gateway on loopback ports, with a fresh SQLite
 * data dir, plus small HTTP helpers. Nothing here mocks a Pixgate component.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig, loadLimits, type Config } from '../../src/config.ts';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/gateway.ts';
import type { SchedulerTuning } from '../../src/scheduler/context.ts';
import {
  startSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../src/providers/pixverse/simulator/index.ts';

export interface HarnessOptions {
  simulator?: SimulatorOptions;
  config?: Partial<Config>;
  tuning?: Partial<SchedulerTuning>;
  dataDir?: string;
  onRoute?: GatewayOptions['onRoute'];
}

export interface Harness {
  sim: RunningSimulator;
  gw: Gateway;
  dataDir: string;
  /** Restarts the gateway on the same data dir (the simulator keeps running). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Fast poll timing for simulated jobs that last well under a second. */
export const FAST_TUNING: Partial<SchedulerTuning> = {
  idleWakeMs: 100,
  sweepEveryMs: 200,
  poll: { lagWeight: 10, minIntervalMs: 20, maxIntervalMs: 300, maxFirstPollMs: 300, backstopQuantile: null },
};

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const sim = await startSimulator({ durationMs: { min: 150, max: 400 }, seed: 7, ...options.simulator });
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'pixgate-test-'));
  const config: Config = {
    ...loadConfig({}, {}),
    host: '127.0.0.1',
    port: 0,
    dataDir,
    expectedDurationMs: 250,
    logLevel: 'silent',
    // Tests run their callback receivers on loopback.
    callbackAllowlist: ['127.0.0.0/8'],
    // Tests poll many jobs at once from one token; the per-token rate limit has tests of its own
    // (test/proof/security.test.ts), which turn it on.
    limits: { ...loadLimits({}), rateLimitPerSecond: 0 },
    ...options.config,
  };
  const boot = () =>
    startGateway({
      config,
      upstreamUrl: sim.url,
      logger: pino({ level: config.logLevel }),
      tuning: { ...FAST_TUNING, ...options.tuning },
      ...(options.onRoute ? { onRoute: options.onRoute } : {}),
    });
  const harness: Harness = {
    sim,
    gw: await boot(),
    dataDir,
    async restart() {
      await harness.gw.close();
      harness.gw = await boot();
    },
    async close() {
      await harness.gw.close();
      await sim.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function call<T = any>(
  base: string,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply<T>> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (token) (init.headers as Record<string, string>)['authorization'] = `Bearer ${token}`;
  if (body !== undefined) {
    if (typeof body === 'string' || Buffer.isBuffer(body)) init.body = body as string;
    else {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
  }
  const response = await fetch(base + path, init);
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}

/** Creates a tenant through the admin API and returns its token. */
export async function createTenant(h: Harness, name = 'tenant'): Promise<{ userId: number; token: string }> {
  const res = await call(h.gw.url, 'POST', '/admin/users', h.gw.adminToken, { name });
  if (res.status !== 201) throw new Error(`create tenant: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function addAccount(
  h: Harness,
  token: string,
  email: string,
  apiKey: string,
  maxJobs: number,
): Promise<void> {
  const res = await call(h.gw.url, 'POST', `/v2/pixverse/accounts/${email}`, token, {
    email,
    apiKey,
    maxJobs,
  });
  if (res.status !== 201) throw new Error(`add account: ${res.status} ${JSON.stringify(res.body)}`);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 15_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}
