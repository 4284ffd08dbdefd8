/**
 * PixverseClient over real HTTP against a canned server: request paths, headers and bodies, and how
 * each documented answer shape or error envelope is read.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createPixverseClient, type PixverseClient } from '../../src/providers/pixverse/upstream/index.ts';
import { json, parseForm, rejectsWith, startCanned, UUID, type Canned } from './canned.ts';

describe('PixverseClient over HTTP (canned server)', () => {
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

  it('submit: the account webhook goes into text- and image-to-video bodies only, as a string', async () => {
    client = newClient();
    srv.handle((_req, res) => json(res, 200, '{"ErrCode":0,"ErrMsg":"success","Resp":{"video_id":1}}'));
    const params = { prompt: 'a cat', duration: 5, model: 'v5', quality: '540p' };
    const TRACE = '5f0c2d8e-1111-4222-8333-944455556666';
    await client.submit('k', { op: 'video.text', params }, TRACE, { webhookId: '100042' });
    await client.submit('k', { op: 'video.transition', params }, TRACE, { webhookId: '100042' });
    await client.submit('k', { op: 'video.text', params }, TRACE, { webhookId: null });
    const bodies = srv.seen.map((r) => JSON.parse(r.body.toString()) as Record<string, unknown>);
    assert.equal(bodies[0]!['webhook_id'], '100042');
    assert.ok(!('webhook_id' in bodies[1]!), 'transition has no webhook at PixVerse');
    assert.ok(!('webhook_id' in bodies[2]!));
    assert.equal(client.acceptsWebhook('video.img'), true);
    assert.equal(client.acceptsWebhook('video.extend'), false);
    assert.equal(client.acceptsWebhook('constructor'), false);
  });

  it('submit: path, headers, lossless body and lossless id', async () => {
    client = newClient();
    srv.handle((_req, res) =>
      json(res, 200, '{"ErrCode":0,"ErrMsg":"success","Resp":{"video_id":391504480090022123,"credits":45}}'),
    );
    const traceId = '5f0c2d8e-1111-4222-8333-944455556666';
    const r = await client.submit(
      'key-1',
      {
        op: 'video.img',
        params: {
          prompt: 'a cat',
          img_id: '391504480090022123',
          img_ids: ['18446744073709551615'],
          duration: 5,
          model: 'v5',
          quality: '540p',
        },
      },
      traceId,
    );
    assert.deepEqual(r, { upstreamId: '391504480090022123', credits: 45 });
    const [req] = srv.seen;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/openapi/v2/video/img/generate');
    assert.equal(req.headers['api-key'], 'key-1');
    assert.equal(req.headers['ai-trace-id'], traceId);
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(
      req.body.toString(),
      '{"prompt":"a cat","img_id":391504480090022123,"img_ids":[18446744073709551615],"duration":5,"model":"v5","quality":"540p"}',
    );
  });

  it('submit: `credit` (singular) and id fields image_id / audio_id / id', async () => {
    client = newClient();
    srv.handle((_req, res) => json(res, 200, '{"ErrCode":0,"Resp":{"image_id":77,"credit":3}}'));
    assert.deepEqual(
      await client.submit('k', { op: 'image.template', params: { img_ids: ['1'], template_id: '2' } }, 't1'),
      {
        upstreamId: '77',
        credits: 3,
      },
    );
    srv.handle((_req, res) => json(res, 200, '{"ErrCode":0,"Resp":{"id":"88"}}'));
    assert.deepEqual(
      await client.submit('k', { op: 'video.upscale', params: { source_video_id: '5' } }, 't2'),
      { upstreamId: '88', credits: null },
    );
    assert.equal(srv.seen[1].url, '/openapi/v2/video/upscale/generate');
  });

  it('submit: unknown op is bad_request and sends nothing', async () => {
    client = newClient();
    const e = await rejectsWith(client.submit('k', { op: 'video.nope', params: {} }, 't'));
    assert.equal(e.errorClass, 'bad_request');
    const proto = await rejectsWith(client.submit('k', { op: 'toString', params: {} }, 't'));
    assert.equal(proto.errorClass, 'bad_request');
    assert.equal(srv.seen.length, 0);
  });

  it('submit: success without an id is transient and maybeSubmitted', async () => {
    client = newClient();
    srv.handle((_req, res) => json(res, 200, '{"ErrCode":0,"Resp":{}}'));
    const e = await rejectsWith(client.submit('k', { op: 'video.text', params: { prompt: 'p' } }, 't'));
    assert.equal(e.errorClass, 'transient');
    assert.equal(e.maybeSubmitted, true);
  });

  it('status: GET with a fresh UUID trace id per call and no content-type', async () => {
    client = newClient();
    srv.handle((_req, res) =>
      json(
        res,
        200,
        '{"ErrCode":0,"Resp":{"id":391504480090022123,"status":1,"url":"https://media.pixverse.ai/a.mp4","outputWidth":1280,"outputHeight":720}}',
      ),
    );
    const a = await client.status('k', 'video', '391504480090022123');
    await client.status('k', 'image', '5');
    assert.equal(a.state, 'completed');
    assert.equal(a.code, 1);
    assert.equal(a.url, 'https://media.pixverse.ai/a.mp4');
    assert.equal(a.raw.id, '391504480090022123');
    const [r1, r2] = srv.seen;
    assert.equal(r1.method, 'GET');
    assert.equal(r1.url, '/openapi/v2/video/result/391504480090022123');
    assert.equal(r2.url, '/openapi/v2/image/result/5');
    assert.match(String(r1.headers['ai-trace-id']), UUID);
    assert.notEqual(r1.headers['ai-trace-id'], r2.headers['ai-trace-id']);
    assert.equal(r1.headers['content-type'], undefined);
    assert.equal(r1.headers['api-key'], 'k');
  });

  it('status: a non-numeric id is rejected locally', async () => {
    client = newClient();
    const e = await rejectsWith(client.status('k', 'video', '../account/balance'));
    assert.equal(e.errorClass, 'bad_request');
    assert.equal(srv.seen.length, 0);
  });

  it('balance', async () => {
    client = newClient();
    srv.handle((_req, res) =>
      json(
        res,
        200,
        '{"ErrCode":0,"ErrMsg":"success","Resp":{"account_id":391504480090022123,"credit_monthly":1069020,"credit_package":3630}}',
      ),
    );
    assert.deepEqual(await client.balance('k'), {
      accountId: '391504480090022123',
      creditMonthly: 1069020,
      creditPackage: 3630,
    });
    assert.equal(srv.seen[0].url, '/openapi/v2/account/balance');
    assert.match(String(srv.seen[0].headers['ai-trace-id']), UUID);
  });

  it('catalog: GET with the page in the query, a fresh trace id, no body; list and total parsed', async () => {
    client = newClient();
    srv.handle((req, res) => {
      if (req.url.startsWith('/openapi/v2/video/effects'))
        json(res, 200, '{"ErrCode":0,"Resp":{"effect_items":[{"template_id":391504480090022123}]}}');
      else json(res, 200, '{"ErrCode":0,"Resp":{"total":15,"data":[{"speaker_id":"1","name":"Emily"}]}}');
    });
    assert.deepEqual(await client.catalog('k', 'voices', { num: 2, size: 5 }), {
      items: [{ speaker_id: '1', name: 'Emily' }],
      total: 15,
    });
    assert.deepEqual(await client.catalog('k', 'effects'), {
      items: [{ template_id: '391504480090022123' }],
      total: null,
    });
    await client.catalog('k', 'restyles');
    const [a, b, c] = srv.seen;
    assert.deepEqual(
      [a.method, a.url, a.body.length, a.headers['content-type']],
      ['GET', '/openapi/v2/video/lip_sync/tts_list?page_num=2&page_size=5', 0, undefined],
    );
    assert.equal(b.url, '/openapi/v2/video/effects/templates/list?page=1&pageSize=100');
    assert.equal(c.url, '/openapi/v2/video/restyle/list?page_num=1&page_size=100');
    assert.match(String(a.headers['ai-trace-id']), UUID);
    assert.notEqual(a.headers['ai-trace-id'], b.headers['ai-trace-id']);
    srv.handle((_req, res) =>
      json(res, 200, '{"ErrCode":400017,"ErrMsg":"invalid parameter: page_num","Resp":{}}'),
    );
    assert.equal((await rejectsWith(client.catalog('k', 'voices'))).errorClass, 'bad_request');
  });

  it('upload: image → multipart field `image` on /image/upload', async () => {
    client = newClient();
    srv.handle((_req, res) =>
      json(
        res,
        200,
        '{"ErrCode":0,"Resp":{"img_id":391504480090022123,"img_url":"https://media.pixverse.ai/i.png"}}',
      ),
    );
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3, 255]);
    const r = await client.upload('k', png, 'image/png', 'cat "1".png');
    assert.deepEqual(r, {
      id: '391504480090022123',
      url: 'https://media.pixverse.ai/i.png',
      mediaType: 'image',
    });
    const req = srv.seen[0];
    assert.equal(req.url, '/openapi/v2/image/upload');
    assert.match(String(req.headers['content-type']), /^multipart\/form-data; boundary=/);
    assert.match(String(req.headers['ai-trace-id']), UUID);
    const form = await parseForm(req);
    const file = form.get('image');
    assert.ok(file instanceof Blob);
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), png);
    assert.equal(file.type, 'image/png');
  });

  it('upload: video and audio → field `file` on /media/upload; octet-stream falls back to the extension', async () => {
    client = newClient();
    srv.handle((_req, res) =>
      json(res, 200, '{"ErrCode":0,"Resp":{"media_id":4242,"media_type":"video","url":"https://m/v.mp4"}}'),
    );
    const v = await client.upload('k', Buffer.from('mp4data'), 'video/mp4', 'v.mp4');
    assert.deepEqual(v, { id: '4242', url: 'https://m/v.mp4', mediaType: 'video' });
    srv.handle((_req, res) =>
      json(res, 200, '{"ErrCode":0,"Resp":{"media_id":4243,"url":"https://m/a.mp3"}}'),
    );
    const a = await client.upload('k', Buffer.from('mp3data'), 'application/octet-stream', 'a.mp3');
    assert.deepEqual(a, { id: '4243', url: 'https://m/a.mp3', mediaType: 'audio' });
    for (const req of srv.seen) {
      assert.equal(req.url, '/openapi/v2/media/upload');
      const form = await parseForm(req);
      assert.ok(form.get('file') instanceof Blob);
    }
    const bad = await rejectsWith(client.upload('k', Buffer.from('x'), 'text/plain', 'x.txt'));
    assert.equal(bad.errorClass, 'bad_request');
    assert.equal(srv.seen.length, 2);
  });

  it('non-JSON 502 from a proxy: transient with the status; maybeSubmitted only on a create', async () => {
    client = newClient();
    srv.handle((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
    });
    const e = await rejectsWith(client.submit('k', { op: 'video.text', params: { prompt: 'p' } }, 't'));
    assert.equal(e.errorClass, 'transient');
    assert.equal(e.httpStatus, 502);
    assert.equal(e.maybeSubmitted, true);
    const s = await rejectsWith(client.status('k', 'video', '1'));
    assert.equal(s.errorClass, 'transient');
    assert.equal(s.httpStatus, 502);
    assert.equal(s.maybeSubmitted, false);
  });

  it('HTTP 500 with a lowercase envelope → classified by its code', async () => {
    client = newClient();
    srv.handle((_req, res) => json(res, 500, '{"err_code":500052,"err_msg":"图片审核未通过","resp":{}}'));
    const e = await rejectsWith(client.upload('k', Buffer.from('x'), 'image/jpeg', 'x.jpg'));
    assert.equal(e.errorClass, 'moderation');
    assert.equal(e.errCode, 500052);
    assert.equal(e.httpStatus, 500);
  });

  it('HTTP 200 with a non-zero code → error; 429 without envelope → rate_limit; 401 → auth', async () => {
    client = newClient();
    srv.handle((_req, res) => json(res, 200, '{"ErrCode":500090,"ErrMsg":"insufficient balance","Resp":{}}'));
    const credits = await rejectsWith(client.submit('k', { op: 'video.text', params: {} }, 't'));
    assert.equal(credits.errorClass, 'out_of_credits');
    assert.equal(credits.maybeSubmitted, false);
    srv.handle((_req, res) => {
      res.writeHead(429, { 'retry-after': '3' });
      res.end('Too Many Requests');
    });
    assert.equal((await rejectsWith(client.balance('k'))).errorClass, 'rate_limit');
    srv.handle((_req, res) => {
      res.writeHead(401);
      res.end();
    });
    assert.equal((await rejectsWith(client.balance('k'))).errorClass, 'auth');
  });
});
