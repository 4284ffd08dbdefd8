/**
 * PixverseClient transport behaviour against a canned server: deadlines, dropped and refused
 * connections, `maybeSubmitted`, connection pooling, base URLs and local refusals.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Dispatcher } from 'undici';
import { createPixverseClient, type PixverseClient } from '../../src/providers/pixverse/upstream/index.ts';
import { json, rejectsWith, startCanned, type Canned } from './canned.ts';

describe('PixverseClient transport (canned server)', () => {
  let srv: Canned;
  let client: PixverseClient;
  const clients: PixverseClient[] = [];

  function newClient(
    opts: { timeoutMs?: number; connections?: number; baseUrl?: string } = {},
  ): PixverseClient {
    const c = createPixverseClient({ baseUrl: srv.url, ...opts });
    clients.push(c);
    return c;
  }

  before(async () => {
    srv = await startCanned();
  });
  after(async () => {
    await srv.close();
  });
  afterEach(async () => {
    srv.seen.length = 0;
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('slow answer beyond the timeout on a create → transient, maybeSubmitted', async () => {
    client = newClient({ timeoutMs: 300 });
    srv.handle(() => {
      /* never answer */
    });
    const started = Date.now();
    const e = await rejectsWith(client.submit('k', { op: 'video.text', params: { prompt: 'slow' } }, 't'));
    const took = Date.now() - started;
    assert.equal(e.errorClass, 'transient');
    assert.equal(e.maybeSubmitted, true);
    assert.match(e.message, /timeout/);
    assert.ok(took >= 250 && took < 3000, `took ${took} ms`);
    assert.equal(srv.seen.length, 1, 'the create reached the server exactly once (no retry)');
  });

  it('headers sent but the body never finishes → timeout, maybeSubmitted', async () => {
    client = newClient({ timeoutMs: 300 });
    srv.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"ErrCode":0,');
    });
    const e = await rejectsWith(client.submit('k', { op: 'video.text', params: {} }, 't'));
    assert.equal(e.errorClass, 'transient');
    assert.equal(e.maybeSubmitted, true);
  });

  it('connection reset after the request was read → transient, maybeSubmitted, no retry', async () => {
    client = newClient();
    srv.handle((_req, res) => {
      res.socket?.resetAndDestroy();
    });
    const e = await rejectsWith(client.submit('k', { op: 'video.text', params: { prompt: 'x' } }, 't'));
    assert.equal(e.errorClass, 'transient');
    assert.equal(e.maybeSubmitted, true);
    assert.equal(srv.seen.length, 1);
  });

  it('timeout while queued behind a busy connection → not submitted', async () => {
    client = newClient({ timeoutMs: 300, connections: 1 });
    let release: (() => void) | undefined;
    srv.handle((_req, res) => {
      release = () => json(res, 200, '{"ErrCode":0,"Resp":{}}');
    });
    // Hold the pool's only socket with a request that has no deadline of ours (white-box: same pool).
    const pool = (client as unknown as { pool: Dispatcher }).pool;
    const holder = pool.request({
      path: '/hold',
      method: 'GET',
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
    while (srv.seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    const e = await rejectsWith(client.submit('k', { op: 'video.text', params: { prompt: 'queued' } }, 't2'));
    assert.equal(e.errorClass, 'transient');
    assert.equal(e.maybeSubmitted, false, e.message);
    assert.match(e.message, /before the request was sent/);
    assert.equal(srv.seen.length, 1, 'the create never reached the server');
    release?.();
    await (await holder).body.text();
  });

  it('DNS failure → transient, not submitted', async () => {
    client = newClient({ baseUrl: 'http://pixgate-test.invalid', timeoutMs: 3000 });
    const e = await rejectsWith(client.submit('k', { op: 'video.text', params: { prompt: 'x' } }, 't'));
    assert.equal(e.errorClass, 'transient');
    assert.equal(e.maybeSubmitted, false, e.message);
  });

  it('keeps connections alive across calls', async () => {
    client = newClient({ connections: 4 });
    srv.handle((_req, res) =>
      json(res, 200, '{"ErrCode":0,"Resp":{"account_id":1,"credit_monthly":1,"credit_package":0}}'),
    );
    const before = srv.connections;
    for (let i = 0; i < 20; i++) await client.balance('k');
    // undici may open a second socket while the first is still settling; never one per call.
    assert.ok(srv.connections - before <= 2, `${srv.connections - before} connections for 20 calls`);
  });

  it('bounds parallel sockets to `connections`', async () => {
    client = newClient({ connections: 2 });
    let inFlight = 0;
    let peak = 0;
    srv.handle((_req, res) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      setTimeout(() => {
        inFlight -= 1;
        json(res, 200, '{"ErrCode":0,"Resp":{"id":1,"status":5}}');
      }, 30);
    });
    await Promise.all(Array.from({ length: 8 }, () => client.status('k', 'video', '1')));
    assert.equal(peak, 2);
  });

  it('baseUrl with a path prefix', async () => {
    client = newClient({ baseUrl: `${srv.url}/proxy/` });
    srv.handle((_req, res) =>
      json(res, 200, '{"ErrCode":0,"Resp":{"account_id":1,"credit_monthly":2,"credit_package":3}}'),
    );
    await client.balance('k');
    assert.equal(srv.seen[0].url, '/proxy/openapi/v2/account/balance');
  });

  it('an oversized answer is cut off → transient', async () => {
    client = newClient();
    srv.handle((_req, res) =>
      json(res, 200, `{"ErrCode":0,"Resp":{"pad":"${'x'.repeat(9 * 1024 * 1024)}"}}`),
    );
    const e = await rejectsWith(client.balance('k'));
    assert.equal(e.errorClass, 'transient');
  });

  it('an empty trace id is refused locally', async () => {
    client = newClient();
    const e = await rejectsWith(client.submit('k', { op: 'video.text', params: {} }, ''));
    assert.equal(e.errorClass, 'bad_request');
    assert.equal(srv.seen.length, 0);
  });

  it('an API key with control characters is refused locally as auth', async () => {
    client = newClient();
    const e = await rejectsWith(client.balance('bad\r\nkey'));
    assert.equal(e.errorClass, 'auth');
    assert.equal(srv.seen.length, 0);
  });
});

describe('PixverseClient: connection refused', () => {
  it('nothing listening → transient, not submitted', async () => {
    // Grab a free port, then close it so nothing listens there.
    const tmp = createServer();
    await new Promise<void>((resolve) => tmp.listen(0, '127.0.0.1', resolve));
    const { port } = tmp.address() as AddressInfo;
    await new Promise<void>((resolve) => tmp.close(() => resolve()));
    const client = createPixverseClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
    try {
      const e = await rejectsWith(client.submit('k', { op: 'video.text', params: { prompt: 'x' } }, 't'));
      assert.equal(e.errorClass, 'transient');
      assert.equal(e.maybeSubmitted, false);
      assert.match(e.message, /ECONNREFUSED/);
    } finally {
      await client.close();
    }
  });
});
