/** The typed client as library users import it (`pixgate/client`), against a real gateway and simulator. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { download, JobFailedError, PixgateClient, PixgateError, WaitTimeoutError } from 'pixgate/client';
import { addAccount, createTenant, startHarness, type Harness } from '../helpers/harness.ts';

const PNG = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
]);

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('typed client', () => {
  let h: Harness;
  let client: PixgateClient;
  let token: string;

  before(async () => {
    h = await startHarness();
    ({ token } = await createTenant(h, 'lib'));
    await addAccount(h, token, 'solo@example.com', 'sim-key-client-solo', 1);
    client = new PixgateClient({ url: h.gw.url, token });
  });
  after(() => h.close());

  it('creates, waits for completion, and reads the job through its typed status', async () => {
    const id = await client.createVideo({ prompt: 'a red fox', duration: 5 });
    const seen: string[] = [];
    const done = await client.waitForJob(id, { intervalMs: 50, onUpdate: (s) => seen.push(s.state) });
    assert.equal(done.state, 'completed');
    assert.equal(done.id, id);
    assert.equal(done.email, 'solo@example.com');
    assert.match(done.url ?? '', /\.mp4$/);
    assert.equal(seen.at(-1), 'completed');
    // An image comes from an image effect template (302325299692635 in the simulator's catalogue).
    const frame = await client.uploadFile(PNG, 'image/png');
    const image = await client.createImage({ template_id: 302325299692635, first_frame_path: frame.path });
    assert.match(image, /-image:\d+$/);
    const picture = await client.waitForJob(image, { intervalMs: 50 });
    assert.equal(picture.state, 'completed');
    assert.match(picture.url ?? '', /^https?:\/\//);
  });

  it('a failed job rejects waitForJob with JobFailedError; a timeout with WaitTimeoutError', async () => {
    const id = await client.createVideo({ prompt: 'boom #sim:fail' });
    await assert.rejects(
      client.waitForJob(id, { intervalMs: 50 }),
      (err: unknown) => err instanceof JobFailedError && err.state === 'failed' && err.jobId === id,
    );
    const stuck = await client.createVideo({ prompt: 'hold #sim:stuck' });
    try {
      await assert.rejects(
        client.waitForJob(stuck, { intervalMs: 50, timeoutMs: 200 }),
        (err: unknown) => err instanceof WaitTimeoutError && err.state === 'running',
      );
    } finally {
      await client.cancel(stuck);
    }
  });

  it('maps error envelopes to PixgateError with the gateway’s message and status', async () => {
    const stranger = new PixgateClient({ url: h.gw.url, token: 'user:1-wrong' });
    await assert.rejects(
      stranger.available(),
      (err: unknown) =>
        err instanceof PixgateError && err.status === 401 && err.isAuth && err.message === 'Unauthorized',
    );
    await assert.rejects(
      client.createVideo({ prompt: 'x', duration: 99 }),
      (err: unknown) => err instanceof PixgateError && err.status === 400 && /duration/.test(err.message),
    );
    const empty = new PixgateClient({ url: h.gw.url, token: (await createTenant(h, 'empty')).token });
    assert.deepEqual(await empty.listAccounts(), []);
  });

  it('reports Retry-After on a 429, and waits it out when asked to', async () => {
    const holder = await client.createVideo({ prompt: 'hold #sim:stuck' });
    let freed = false;
    try {
      await assert.rejects(
        client.createVideo({ prompt: 'second' }),
        (err: unknown) =>
          err instanceof PixgateError &&
          err.status === 429 &&
          err.isBusy &&
          typeof err.retryAfterS === 'number',
      );
      const retries: number[] = [];
      // The slot is freed only once the patient client has been turned away.
      const patient = new PixgateClient({
        url: h.gw.url,
        token,
        retryBusyForMs: 60_000,
        onRetry: (err, attempt) => {
          retries.push(err.status);
          if (attempt === 1) void client.cancel(holder).then(() => (freed = true));
        },
      });
      const id = await patient.createVideo({ prompt: 'second, patiently' });
      assert.ok(
        retries.length >= 1 && retries.every((status) => status === 429),
        `retried after 429s only: ${retries}`,
      );
      assert.ok(freed);
      assert.equal((await client.waitForJob(id, { intervalMs: 50 })).state, 'completed');
    } finally {
      if (!freed) await client.cancel(holder).catch(() => undefined);
    }
  });

  it('sends a fresh Idempotency-Key with every create, a given one, or none', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          video_id: 'user:1-pixverse:a@b.c-video:1',
          image_id: 'user:1-pixverse:a@b.c-image:2',
        }),
      );
    });
    const url = await listen(server);
    try {
      const recorder = new PixgateClient({ url, token: 't' });
      await recorder.createVideo({ prompt: 'a' });
      await recorder.createVideo({ prompt: 'b' });
      await recorder.createImage(
        { template_id: 1, first_frame_path: 'upload/c.png' },
        { idempotencyKey: 'mine-1' },
      );
      await recorder.createVideo({ prompt: 'd' }, { idempotencyKey: null });
      await recorder.available().catch(() => undefined);
      const keys = seen.map((headers) => headers['idempotency-key']);
      assert.match(keys[0] as string, /^[0-9a-f-]{36}$/);
      assert.match(keys[1] as string, /^[0-9a-f-]{36}$/);
      assert.notEqual(keys[0], keys[1]);
      assert.deepEqual(keys.slice(2), ['mine-1', undefined, undefined]);
      assert.ok(seen.every((headers) => headers.authorization === 'Bearer t'));
    } finally {
      server.close();
    }
  });

  it('download saves the body under the URL’s file name and leaves nothing behind on failure', async () => {
    const payload = Buffer.alloc(300_000, 1);
    const server = createServer((req, res) => {
      if (req.url === '/media/clip%201.mp4') return res.end(payload);
      if (req.url === '/cut.mp4') {
        // Promises more than it sends, then drops the connection mid-body.
        res.writeHead(200, { 'content-length': String(payload.length) });
        res.write(payload.subarray(0, 1000));
        return setTimeout(() => res.destroy(), 20);
      }
      res.statusCode = 404;
      res.end('missing');
    });
    const url = await listen(server);
    const dir = mkdtempSync(join(tmpdir(), 'pixgate-dl-'));
    try {
      const saved = await download(`${url}/media/clip%201.mp4`, join(dir, 'out'));
      assert.equal(saved, join(dir, 'out', 'clip 1.mp4'));
      assert.ok(readFileSync(saved).equals(payload));
      await assert.rejects(
        download(`${url}/nope.mp4`, dir),
        (err: unknown) => err instanceof PixgateError && err.status === 404,
      );
      await assert.rejects(download(`${url}/cut.mp4`, dir));
      assert.ok(!existsSync(join(dir, 'nope.mp4')));
      assert.deepEqual(readdirSync(dir), ['out'], 'no partial file is left');
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
