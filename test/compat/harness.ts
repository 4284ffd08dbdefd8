/**
 * Harness for the compat endpoint tests: a real simulator, a recording HTTP proxy in front of it
 * (so tests can read the exact Platform bodies the gateway sent) and a real gateway whose
 * upstream is the proxy. Nothing of Pixgate is mocked.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config.ts';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import {
  startSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../src/providers/pixverse/simulator/index.ts';
import { call, FAST_TUNING, waitFor, type Reply } from '../helpers/harness.ts';

export const P = '/v2/pixverse';
export const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
/** Enough of an MP4 (an `ftyp` box) for an upload sniffer; the simulator never decodes files. */
export const MP4 = Buffer.concat([
  Buffer.from('000000186674797069736f6d0000020069736f6d69736f32', 'hex'),
  Buffer.alloc(64),
]);
export const MP3 = Buffer.concat([Buffer.from('494433040000000000', 'hex'), Buffer.alloc(64, 0xff)]);

export interface Received {
  method: string;
  path: string;
  apiKey: string | undefined;
  text: string;
  body: any;
}

/** An HTTP proxy that forwards to `target` and keeps every request it saw. */
export class RecordingProxy {
  readonly received: Received[] = [];
  private server: Server | null = null;
  url = '';

  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    const target = new URL(this.target);
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const isJson = String(req.headers['content-type'] ?? '').includes('application/json');
        const text = isJson ? raw.toString('utf8') : '';
        let body: any = null;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          body = null;
        }
        this.received.push({
          method: req.method ?? 'GET',
          path: (req.url ?? '').split('?')[0]!,
          apiKey: req.headers['api-key'] as string | undefined,
          text,
          body,
        });
        const upstream = httpRequest(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: target.host },
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on('error', () => res.destroy());
        upstream.end(raw);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Bodies POSTed to a Platform path (e.g. `/video/extend/generate`), oldest first. */
  posted(path: string): Received[] {
    return this.received.filter((r) => r.method === 'POST' && r.path === `/openapi/v2${path}`);
  }

  last(path: string): Received {
    const all = this.posted(path);
    if (all.length === 0)
      throw new Error(
        `nothing was POSTed to ${path}; saw ${[...new Set(this.received.map((r) => r.path))].join(', ')}`,
      );
    return all[all.length - 1]!;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }
}

export interface CompatHarness {
  sim: RunningSimulator;
  proxy: RecordingProxy;
  gw: Gateway;
  /** Base URL of the gateway. */
  url: string;
  close(): Promise<void>;
}

export async function startCompatHarness(
  simulator: SimulatorOptions = {},
  overrides: Partial<Config> = {},
): Promise<CompatHarness> {
  const sim = await startSimulator({
    durationMs: { min: 100, max: 250 },
    seed: 11,
    maxConcurrent: 50,
    ...simulator,
  });
  const proxy = new RecordingProxy(sim.url);
  await proxy.start();
  const dataDir = mkdtempSync(join(tmpdir(), 'pixgate-compat-'));
  const config: Config = {
    ...loadConfig({}, {}),
    host: '127.0.0.1',
    port: 0,
    dataDir,
    expectedDurationMs: 200,
    logLevel: 'silent',
    ...overrides,
  };
  const gw = await startGateway({
    config,
    upstreamUrl: proxy.url,
    logger: pino({ level: 'silent' }),
    tuning: FAST_TUNING,
  });
  const url = gw.url;
  return {
    sim,
    proxy,
    gw,
    url,
    async close() {
      await gw.close();
      await proxy.close();
      await sim.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A tenant with accounts, and helpers bound to it. */
export async function tenant(h: CompatHarness, name: string, accounts: [email: string, maxJobs: number][]) {
  const created = await call(h.gw.url, 'POST', '/admin/users', h.gw.adminToken, { name });
  if (created.status !== 201)
    throw new Error(`create tenant: ${created.status} ${JSON.stringify(created.body)}`);
  const { userId, token } = created.body as { userId: number; token: string };
  const keys: Record<string, string> = {};
  for (const [email, maxJobs] of accounts) {
    keys[email] = `pk-${name}-${email.split('@')[0]}-0123456789`;
    const added = await call(h.gw.url, 'POST', `${P}/accounts/${email}`, token, {
      email,
      apiKey: keys[email],
      maxJobs,
    });
    if (added.status !== 201) throw new Error(`add account: ${added.status} ${JSON.stringify(added.body)}`);
  }
  const api = <T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply<T>> => call<T>(h.url, method, path, token, body, headers);
  return {
    userId,
    token,
    keys,
    api,
    /** Uploads a file through POST /files and returns its path. */
    async upload(kind: 'image' | 'video' | 'audio', email: string): Promise<string> {
      const [bytes, type] =
        kind === 'image' ? [PNG, 'image/png'] : kind === 'video' ? [MP4, 'video/mp4'] : [MP3, 'audio/mpeg'];
      const res = await api('POST', `${P}/files?email=${encodeURIComponent(email)}`, bytes, {
        'content-type': type,
      });
      if (res.status !== 200) throw new Error(`upload ${kind}: ${res.status} ${JSON.stringify(res.body)}`);
      return kind === 'image' ? res.body.result[0].path : res.body.path;
    },
    /** POSTs a create and returns the id, failing loudly on anything but 200. */
    async create(path: string, body: unknown, key = 'video_id'): Promise<string> {
      const res = await api('POST', `${P}${path}`, body);
      if (res.status !== 200) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      if (typeof res.body?.[key] !== 'string')
        throw new Error(`POST ${path}: no ${key} in ${JSON.stringify(res.body)}`);
      return res.body[key];
    },
    /** Waits until GET /videos/{id} is final and returns the view. */
    async settled(id: string, kind: 'videos' | 'images' = 'videos'): Promise<any> {
      return waitFor(async () => {
        const res = await api('GET', `${P}/${kind}/${encodeURIComponent(id)}`);
        return res.status === 200 && res.body[kind === 'videos' ? 'video_status_final' : 'image_status_final']
          ? res.body
          : null;
      }, 20_000);
    },
  };
}
export type Tenant = Awaited<ReturnType<typeof tenant>>;
