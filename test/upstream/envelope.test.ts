import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UpstreamError } from '../../src/scheduler/provider.ts';
import {
  mapPixverseStatus,
  parseEnvelope,
  parseLossless,
  toStatusResult,
  unwrapEnvelope,
  isJsonObject,
} from '../../src/providers/pixverse/upstream/index.ts';

function caught(fn: () => unknown): UpstreamError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UpstreamError, `expected UpstreamError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a throw');
}

describe('envelope', () => {
  it('reads the uppercase envelope', () => {
    assert.deepEqual(parseEnvelope('{"ErrCode":0,"ErrMsg":"success","Resp":{"video_id":391504480090022}}'), {
      code: 0,
      message: 'success',
      resp: { video_id: '391504480090022' },
    });
  });

  it('reads the lowercase envelope', () => {
    assert.deepEqual(
      parseEnvelope('{"err_code":0,"err_msg":"ok","resp":{"img_id":1,"img_url":"https://x/y.png"}}'),
      {
        code: 0,
        message: 'ok',
        resp: { img_id: '1', img_url: 'https://x/y.png' },
      },
    );
  });

  it('returns an empty Resp when Resp is missing or null', () => {
    assert.deepEqual(unwrapEnvelope(200, '{"ErrCode":0,"ErrMsg":"success"}'), {});
    assert.deepEqual(unwrapEnvelope(200, '{"ErrCode":0,"ErrMsg":"success","Resp":null}'), {});
  });

  it('HTTP 200 with a non-zero code is an error, classified by code', () => {
    const e = caught(() =>
      unwrapEnvelope(
        200,
        '{"ErrCode":500044,"ErrMsg":"Reached the limit for concurrent generations","Resp":{}}',
        true,
      ),
    );
    assert.equal(e.errorClass, 'concurrency_limit');
    assert.equal(e.errCode, 500044);
    assert.equal(e.httpStatus, 200);
    assert.equal(e.maybeSubmitted, false, 'an envelope refusal proves nothing was started');
    assert.match(e.message, /500044/);
  });

  it('HTTP 500 with the lowercase moderation envelope (upload spec example)', () => {
    const e = caught(() => unwrapEnvelope(500, '{"err_code":500052,"err_msg":"图片审核未通过","resp":{}}'));
    assert.equal(e.errorClass, 'moderation');
    assert.equal(e.errCode, 500052);
    assert.equal(e.httpStatus, 500);
    assert.match(e.message, /图片审核未通过/);
  });

  it('a string ErrCode is still read', () => {
    const e = caught(() => unwrapEnvelope(200, '{"ErrCode":"400017","ErrMsg":"invalid param"}'));
    assert.equal(e.errorClass, 'bad_request');
    assert.equal(e.errCode, 400017);
  });

  it('code 0 is success even on a non-2xx status (the envelope is authoritative)', () => {
    assert.deepEqual(unwrapEnvelope(500, '{"ErrCode":0,"Resp":{"video_id":5}}'), { video_id: '5' });
  });

  it('a non-JSON body is a transient error carrying the HTTP status', () => {
    const e = caught(() => unwrapEnvelope(502, '<html><body>502 Bad Gateway</body></html>', true));
    assert.equal(e.errorClass, 'transient');
    assert.equal(e.httpStatus, 502);
    assert.equal(e.errCode, null);
    assert.equal(e.maybeSubmitted, true, 'a proxy error on a create is ambiguous');
    assert.match(e.message, /502/);
  });

  it('an empty body or JSON without a code is not an envelope', () => {
    assert.equal(parseEnvelope(''), null);
    assert.equal(parseEnvelope('{"Resp":{}}'), null);
    assert.equal(parseEnvelope('[1,2]'), null);
    assert.equal(caught(() => unwrapEnvelope(200, '')).errorClass, 'transient');
  });

  it('HTTP 429 / 401 / 403 without an envelope are rate_limit / auth, never maybeSubmitted', () => {
    const r = caught(() => unwrapEnvelope(429, 'Too Many Requests', true));
    assert.equal(r.errorClass, 'rate_limit');
    assert.equal(r.maybeSubmitted, false);
    assert.equal(caught(() => unwrapEnvelope(401, 'Unauthorized')).errorClass, 'auth');
    assert.equal(caught(() => unwrapEnvelope(403, '{"message":"Forbidden"}')).errorClass, 'auth');
  });

  it('500060 says it is a quota', () => {
    const e = caught(() => unwrapEnvelope(200, '{"ErrCode":500060,"ErrMsg":"limit"}'));
    assert.equal(e.errorClass, 'bad_request');
    assert.match(e.message, /quota/);
  });
});

describe('status mapping', () => {
  it('maps the PixVerse codes', () => {
    assert.equal(mapPixverseStatus(1, 'https://media.pixverse.ai/a.mp4'), 'completed');
    assert.equal(mapPixverseStatus(1, null), 'failed');
    assert.equal(mapPixverseStatus(5, null), 'pending');
    assert.equal(mapPixverseStatus(6, null), 'deleted');
    assert.equal(mapPixverseStatus(7, null), 'moderated');
    assert.equal(mapPixverseStatus(8, null), 'failed');
    for (const other of [0, 2, 3, 4, 9, 10, -1])
      assert.equal(mapPixverseStatus(other, null), 'pending', String(other));
  });

  it('reads the documented video result document', () => {
    const resp = unwrapEnvelope(
      200,
      `{"ErrCode":0,"ErrMsg":"success","Resp":{"create_time":"2025-01-20T10:00:00Z","id":391504480090022,
        "modify_time":"2025-01-20T10:01:00Z","negative_prompt":"","outputHeight":720,"outputWidth":1280,
        "prompt":"a cat","resolution_ratio":720,"seed":123456,"size":10.5,"status":1,"style":"",
        "url":"https://media.pixverse.ai/pixverse/mp4/media/web/ori/abc.mp4"}}`,
    );
    const r = toStatusResult(resp);
    assert.equal(r.state, 'completed');
    assert.equal(r.code, 1);
    assert.equal(r.url, 'https://media.pixverse.ai/pixverse/mp4/media/web/ori/abc.mp4');
    assert.equal(r.raw.id, '391504480090022');
    assert.equal(r.raw.outputWidth, 1280);
    assert.equal(r.raw.outputHeight, 720);
    assert.equal(r.raw.size, 10.5);
  });

  it('status 1 with an empty url is a failure; status as string is coerced', () => {
    assert.equal(
      toStatusResult(unwrapEnvelope(200, '{"ErrCode":0,"Resp":{"id":1,"status":1,"url":""}}')).state,
      'failed',
    );
    const r = toStatusResult(unwrapEnvelope(200, '{"ErrCode":0,"Resp":{"id":1,"status":"7"}}'));
    assert.equal(r.code, 7);
    assert.equal(r.state, 'moderated');
  });

  it('a result with no status is pending with code -1', () => {
    const r = toStatusResult({});
    assert.equal(r.state, 'pending');
    assert.equal(r.code, -1);
  });

  it('reads the image result document (image_id, template_id, customer_paths)', () => {
    const resp = unwrapEnvelope(
      200,
      '{"ErrCode":0,"ErrMsg":"success","Resp":{"image_id":391504480090022123,"template_id":302325299692608,' +
        '"status":1,"url":"https://media.pixverse.ai/i.png","outputWidth":1024,"outputHeight":1024,"credits":5,' +
        '"customer_paths":{"customer_img_paths":["a"]}}}',
    );
    const r = toStatusResult(resp);
    assert.equal(r.state, 'completed');
    assert.equal(r.raw.image_id, '391504480090022123');
    assert.equal(r.raw.template_id, '302325299692608');
    assert.equal(r.raw.credits, 5);
  });
});

describe('documented response shapes', () => {
  it('balance', () => {
    const resp = unwrapEnvelope(
      200,
      '{"ErrCode":0,"ErrMsg":"success","Resp":{"account_id":123456,"credit_monthly":1069020,"credit_package":3630}}',
    );
    assert.deepEqual(resp, { account_id: '123456', credit_monthly: 1069020, credit_package: 3630 });
  });

  it('image upload and media upload', () => {
    assert.deepEqual(
      unwrapEnvelope(
        200,
        '{"ErrCode":0,"ErrMsg":"success","Resp":{"img_id":391504480090022123,"img_url":"https://media.pixverse.ai/openapi/x.png"}}',
      ),
      {
        img_id: '391504480090022123',
        img_url: 'https://media.pixverse.ai/openapi/x.png',
      },
    );
    assert.deepEqual(
      unwrapEnvelope(
        200,
        '{"ErrCode":0,"ErrMsg":"success","Resp":{"media_id":300001,"media_type":"audio","url":"https://m/a.mp3"}}',
      ),
      {
        media_id: '300001',
        media_type: 'audio',
        url: 'https://m/a.mp3',
      },
    );
  });

  it('webhook-style body with id as a string and as a number', () => {
    const a = parseLossless(
      '{"id":"123456789","status":1,"url":"https://x.mp4","size":10.5,"has_audio":true,"credits":100}',
    );
    const b = parseLossless('{"id":391504480090022123,"status":1,"url":"https://x.mp4","has_audio":true}');
    assert.ok(isJsonObject(a) && isJsonObject(b));
    assert.equal(a.id, '123456789');
    assert.equal(b.id, '391504480090022123');
    assert.equal(toStatusResult(a).state, 'completed');
    assert.equal(a.has_audio, true);
  });

  it('create responses with credits / credit', () => {
    assert.deepEqual(unwrapEnvelope(200, '{"ErrCode":0,"Resp":{"video_id":391504480090022,"credits":45}}'), {
      video_id: '391504480090022',
      credits: 45,
    });
    assert.deepEqual(unwrapEnvelope(200, '{"ErrCode":0,"Resp":{"image_id":7,"credit":3}}'), {
      image_id: '7',
      credit: 3,
    });
  });
});
