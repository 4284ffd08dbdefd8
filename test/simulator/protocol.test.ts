/** Transport-level behaviour: auth, trace ids, envelopes, routing and hostile input. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { call, createVideo, sim, stats } from './helpers.ts';

test('a missing API-KEY answers HTTP 200 with ErrCode 400012', async (t) => {
  const s = await sim(t);
  const a = await call(s, '/account/balance', { key: null });
  assert.equal(a.status, 200);
  assert.deepEqual(a.body, { ErrCode: 400012, ErrMsg: 'invalid account', Resp: {} });
});

test('sim-invalid* keys are always rejected, even when listed in apiKeys', async (t) => {
  const s = await sim(t, { apiKeys: ['good', 'sim-invalid-x'] });
  assert.equal((await call(s, '/account/balance', { key: 'sim-invalid-x' })).code, 400012);
  assert.equal((await call(s, '/account/balance', { key: 'other' })).code, 400012);
  assert.equal((await call(s, '/account/balance', { key: 'good' })).code, 0);
  // Rejected creates must not reach the engine at all.
  assert.equal((await createVideo(s, {}, { key: 'other' })).code, 400012);
  assert.deepEqual(Object.keys((await stats(s)).keys), ['good']);
});

test('without apiKeys any non-empty key is accepted', async (t) => {
  const s = await sim(t);
  assert.equal((await call(s, '/account/balance', { key: 'anything-goes' })).code, 0);
  assert.equal((await call(s, '/account/balance', { key: '   ' })).code, 400012);
});

test('a missing Ai-trace-id answers ErrCode 400011', async (t) => {
  const s = await sim(t);
  const a = await createVideo(s, {}, { trace: null });
  assert.equal(a.status, 200);
  assert.equal(a.code, 400011);
  assert.match(a.body.ErrMsg, /Ai-trace-id/);
  assert.equal((await stats(s)).totals.created, 0);
});

test('unknown paths and wrong methods answer HTTP 404 with ErrCode 500008', async (t) => {
  const s = await sim(t);
  for (const [path, method] of [
    ['/video/nope', 'GET'],
    ['/video/text/generate', 'GET'],
    ['/account/balance', 'POST'],
  ] as const) {
    const a = await call(s, path, { method });
    assert.equal(a.status, 404, path);
    assert.equal(a.code, 500008, path);
  }
  const outside = await fetch(`${s.url}/v1/whatever`);
  assert.equal(outside.status, 404);
  assert.equal((await outside.json()).ErrCode, 500008);
});

test('malformed or non-object JSON bodies answer ErrCode 400013', async (t) => {
  const s = await sim(t);
  for (const raw of ['{"prompt": ', '', '[1,2]', '"text"', 'null', '5', '{"a":1,"a":2}']) {
    const a = await call(s, '/video/text/generate', { raw });
    assert.equal(a.code, 400013, JSON.stringify(raw));
  }
});

test('result ids that are not integers answer 400013; unknown ones 500008', async (t) => {
  const s = await sim(t);
  assert.equal((await call(s, '/video/result/abc')).code, 400013);
  assert.equal((await call(s, '/video/result/123456789012345')).code, 500008);
});

test('survives hostile input: junk bytes, bad request lines, prototype keys, aborted uploads', async (t) => {
  const s = await sim(t);
  // Raw garbage on the socket.
  await new Promise<void>((resolve) => {
    const sock = connect(s.port, '127.0.0.1', () => sock.end('\x00\xff GARBAGE \r\n\r\n'));
    sock.on('data', () => {});
    sock.on('close', () => resolve());
    sock.on('error', () => resolve());
  });
  // A body that tries to smuggle fields through __proto__.
  const proto = await call(s, '/video/text/generate', {
    raw: '{"__proto__":{"prompt":"x","model":"v5"},"duration":5}',
  });
  assert.equal(proto.code, 400011);
  // A multipart request cut off mid-body.
  await new Promise<void>((resolve) => {
    const sock = connect(s.port, '127.0.0.1', () => {
      sock.write(
        'POST /openapi/v2/image/upload HTTP/1.1\r\nHost: x\r\nAPI-KEY: k\r\nAi-trace-id: t\r\n' +
          'Content-Type: multipart/form-data; boundary=zz\r\nContent-Length: 1000\r\n\r\n--zz\r\n',
      );
      setTimeout(() => sock.destroy(), 20);
    });
    sock.on('close', () => resolve());
    sock.on('error', () => resolve());
  });
  // Wrong content type on an upload.
  assert.equal((await call(s, '/image/upload', { raw: '{"image_url":"https://x/y.png"}' })).code, 400013);
  // Still serving.
  assert.equal((await call(s, '/account/balance')).code, 0);
});

test('the control plane sets limits and credits and rejects bad input', async (t) => {
  const s = await sim(t);
  const ok = await fetch(`${s.url}/_sim/keys/${encodeURIComponent('key a/b')}`, {
    method: 'POST',
    body: JSON.stringify({ maxConcurrent: 2, creditMonthly: 7, creditPackage: 3 }),
  });
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).limit, 2);
  const bal = await call(s, '/account/balance', { key: 'key a/b' });
  assert.deepEqual([bal.resp.credit_monthly, bal.resp.credit_package], [7, 3]);
  for (const body of ['{"maxConcurrent":-1}', '{"maxConcurrent":"3"}', 'nope', '[]']) {
    const bad = await fetch(`${s.url}/_sim/keys/k`, { method: 'POST', body });
    assert.equal(bad.status, 400, body);
  }
  assert.equal((await fetch(`${s.url}/_sim/nothing`)).status, 404);
});

test('close() resolves even with keep-alive connections open', async (t) => {
  const s = await sim(t);
  await call(s, '/account/balance');
  const started = Date.now();
  await s.close();
  assert.ok(Date.now() - started < 1000);
  await assert.rejects(fetch(`${s.url}/_sim/stats`));
});

test('odd API keys are tracked like any other', async (t) => {
  const s = await sim(t);
  assert.equal((await createVideo(s, {}, { key: '__proto__' })).code, 0);
  const st = s.stats();
  assert.equal(Object.getPrototypeOf(st.keys), Object.prototype);
  assert.equal(Object.keys(st.keys).length, 1);
  assert.equal(Object.getOwnPropertyDescriptor(st.keys, '__proto__')?.value.created, 1);
  assert.equal(JSON.parse(await (await fetch(`${s.url}/_sim/stats`)).text()).totals.created, 1);
});
