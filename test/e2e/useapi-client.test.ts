/**
 * A client written for useapi.net's PixVerse v2, unchanged, against what `npm start` runs
 * (`pixgate serve` with its built-in simulator and demo tenant, as a child process): list accounts,
 * upload a frame, create with replyUrl, poll every second, treat 429 as "retry later", download
 * every result. Only `fetch`: no Pixgate code on the client side.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Receiver } from '../callbacks/receiver.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'pixgate.mjs');
/** A 1×1 RGBA PNG. */
const FRAME = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
const JOBS = 12;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The useapi client: base URL and token are all it knows. */
class UseapiClient {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  async request(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<{ status: number; json: any; retryAfter: number }> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    let payload: string | Blob | undefined;
    if (body !== undefined) {
      headers['Content-Type'] = contentType;
      payload = Buffer.isBuffer(body) ? new Blob([new Uint8Array(body)]) : JSON.stringify(body);
    }
    const res = await fetch(`${this.base}/v2/pixverse${path}`, { method, headers, body: payload });
    const text = await res.text();
    return {
      status: res.status,
      json: text ? JSON.parse(text) : null,
      retryAfter: Number(res.headers.get('retry-after') ?? 10),
    };
  }

  /** useapi's advice: on 429 wait and submit again. */
  async create(body: Record<string, unknown>): Promise<{ id: string; retries: number }> {
    for (let retries = 0; ; retries++) {
      const res = await this.request('POST', '/videos/create', body);
      if (res.status === 200) return { id: res.json.video_id ?? res.json.image_id, retries };
      assert.equal(res.status, 429, JSON.stringify(res.json));
      await sleep(Math.min(res.retryAfter, 2) * 1000);
    }
  }

  async waitFinal(id: string): Promise<any> {
    for (;;) {
      const res = await this.request('GET', `/videos/${encodeURIComponent(id)}`);
      if (res.status === 200 && res.json.video_status_final) return res.json;
      await sleep(1000);
    }
  }
}

describe('a useapi client against `npm start`', () => {
  let child: ChildProcess;
  let dataDir: string;
  let base: string;
  let token: string;
  let receiver: Receiver;
  const output: string[] = [];

  before(async () => {
    receiver = await Receiver.start();
    dataDir = mkdtempSync(join(tmpdir(), 'pixgate-useapi-'));
    const env: Record<string, string | undefined> = {
      ...process.env,
      LOG_LEVEL: 'warn',
      // Short simulated jobs keep the test short; the receiver runs on loopback.
      PIXGATE_SIMULATOR_DURATION: '300ms..900ms',
      PIXGATE_CALLBACK_ALLOWLIST: '127.0.0.0/8',
    };
    delete env['DATABASE_URL'];
    delete env['PIXGATE_UPSTREAM_URL'];
    child = spawn(
      process.execPath,
      [BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    [base, token] = await new Promise<[string, string]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`did not start:\n${output.join('')}`)), 30_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        output.push(chunk.toString());
        const text = output.join('');
        const url = /running on (http:\/\/localhost:\d+)/.exec(text);
        const demo = /Demo token: (\S+)/.exec(text);
        if (url && demo) {
          clearTimeout(timer);
          resolve([url[1]!.replace('localhost', '127.0.0.1'), demo[1]!]);
        }
      });
      child.on('exit', (code) => reject(new Error(`exited with ${code}:\n${output.join('')}`)));
    });
  });
  after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    await receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs a batch end to end and downloads every file', async () => {
    assert.match(output.join(''), /curl -o/, 'the demo hints show the download');
    const client = new UseapiClient(base, token);

    const accounts = await client.request('GET', '/accounts');
    assert.equal(accounts.status, 200);
    const emails = Object.keys(accounts.json);
    assert.ok(emails.length >= 1);

    const upload = await client.request(
      'POST',
      `/files?email=${encodeURIComponent(emails[0]!)}`,
      FRAME,
      'image/png',
    );
    assert.equal(upload.status, 200, JSON.stringify(upload.json));
    assert.equal(typeof upload.json.result[0].id, 'number');
    const framePath = upload.json.result[0].path as string;

    const created = await Promise.all(
      Array.from({ length: JOBS }, (_, i) =>
        client.create(
          i % 3 === 0
            ? {
                prompt: `frame ${i}`,
                first_frame_path: framePath,
                replyUrl: receiver.url,
                replyRef: `job-${i}`,
              }
            : { prompt: `batch ${i}`, replyUrl: receiver.url, replyRef: `job-${i}` },
        ),
      ),
    );
    assert.ok(
      created.some((c) => c.retries > 0),
      'more jobs than slots: some creates met a 429 and retried',
    );

    const results = await Promise.all(created.map((c) => client.waitFinal(c.id)));
    for (const job of results) {
      assert.equal(job.video_status_name, 'COMPLETED', JSON.stringify(job));
      const file = await fetch(job.url);
      assert.equal(file.status, 200, job.url);
      assert.equal(file.headers.get('content-type'), 'video/mp4');
      const bytes = Buffer.from(await file.arrayBuffer());
      assert.equal(Number(file.headers.get('content-length')), bytes.length);
      assert.equal(bytes.subarray(4, 8).toString('latin1'), 'ftyp');
    }

    // Every job was called back once it finished (replyRef carried through).
    const deadline = Date.now() + 15_000;
    const refs = () => new Set(receiver.received.map((r) => JSON.parse(r.body).replyRef as string));
    while (refs().size < JOBS && Date.now() < deadline) await sleep(200);
    assert.equal(refs().size, JOBS);

    const listed = await client.request('GET', '/videos?limit=100');
    assert.equal(listed.json.total, JOBS);
  });
});
