/** Ids on the wire, uploads, image-to-video, and downloading results. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  call,
  createVideo,
  losslessBody,
  PNG_BYTES,
  pngForm,
  sim,
  uploadImage,
  waitFinal,
} from './helpers.ts';

test('bigIds emits 18-digit ids as raw JSON integers above 2^53', async (t) => {
  const s = await sim(t, { bigIds: true, durationMs: { min: 10, max: 10 } });
  const created = await createVideo(s);
  const match = /"video_id":(\d+)[,}]/.exec(created.text);
  assert.ok(match, `video_id must be a bare integer: ${created.text}`);
  const digits = match[1]!;
  assert.equal(digits.length, 18);
  assert.ok(BigInt(digits) > 2n ** 53n);
  // JSON.parse really would corrupt it: that is the point of the mode.
  assert.notEqual(String(JSON.parse(created.text).Resp.video_id), digits);

  const result = await waitFinal(s, 'video', digits);
  assert.match(result.text, new RegExp(`"id":${digits}[,}]`));
  assert.equal(result.resp.status, 1);
});

test('default ids are 15-digit integers, unique and increasing', async (t) => {
  const s = await sim(t, { maxConcurrent: 50 });
  const ids: bigint[] = [];
  for (let i = 0; i < 10; i++) {
    const a = await createVideo(s);
    assert.match(a.text, /"video_id":\d{15},/);
    ids.push(BigInt(a.resp.video_id));
  }
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!);
});

test('image upload then image-to-video with that img_id, sent as an int64 beyond 2^53', async (t) => {
  const s = await sim(t, { bigIds: true, durationMs: { min: 20, max: 20 } });
  const up = await call(s, '/image/upload', { form: pngForm() });
  assert.equal(up.code, 0, up.text);
  const imgId: string = up.resp.img_id;
  assert.match(up.text, /"img_id":\d{18},/);
  assert.match(up.resp.img_url, /^https:\/\/media\.pixverse\.ai\/upload\/[0-9a-f-]{36}\.png$/);

  // Raw JSON text so the 18-digit id reaches the server unrounded.
  const raw = `{"prompt":"make it move","model":"v5","duration":5,"quality":"360p","img_id":${imgId}}`;
  const gen = await call(s, '/video/img/generate', { raw });
  assert.equal(gen.code, 0, gen.text);
  const done = await waitFinal(s, 'video', gen.resp.video_id);
  assert.equal(done.resp.status, 1);
  assert.deepEqual([done.resp.outputWidth, done.resp.outputHeight], [640, 360]);

  // The same id rounded to a double is a different id: the server must not find it.
  const rounded = `{"prompt":"p","model":"v5","duration":5,"quality":"360p","img_id":${BigInt(Number(imgId))}}`;
  assert.equal((await call(s, '/video/img/generate', { raw: rounded })).code, 400032);
  // Another key cannot use it either.
  assert.equal((await call(s, '/video/img/generate', { raw, key: 'key-b' })).code, 400032);
  // Templates take img_ids.
  const tpl = `{"prompt":"","model":"v5","duration":5,"quality":"540p","template_id":302325299692608,"img_ids":[${imgId}]}`;
  assert.equal((await call(s, '/video/img/generate', { raw: tpl })).code, 0);
});

test('image upload by URL, and upload errors', async (t) => {
  const s = await sim(t);
  const byUrl = new FormData();
  byUrl.append('image_url', 'https://example.com/pics/cat.webp?x=1');
  const ok = await call(s, '/image/upload', { form: byUrl });
  assert.equal(ok.code, 0);
  assert.match(ok.resp.img_url, /\.webp$/);

  assert.equal((await call(s, '/image/upload', { form: new FormData() })).code, 400011);
  assert.equal(
    (await call(s, '/image/upload', { form: pngForm('image', 'image/gif', PNG_BYTES, 'a.gif') })).code,
    500032,
  );
  assert.equal(
    (
      await call(s, '/image/upload', {
        form: pngForm('image', 'image/png', Buffer.from('not an image at all')),
      })
    ).code,
    500031,
  );
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]);
  const octet = await call(s, '/image/upload', {
    form: pngForm('image', 'application/octet-stream', jpeg, 'photo.jpg'),
  });
  assert.equal(octet.code, 0);
  assert.match(octet.resp.img_url, /\.jpg$/);
  const bad = new FormData();
  bad.append('image_url', 'ftp://example.com/a.png');
  assert.equal((await call(s, '/image/upload', { form: bad })).code, 400017);
});

/** A multipart body built by hand: fetch's own FormData encoder is slow for 20 MB files. */
function multipart(bytes: Buffer): { body: Uint8Array<ArrayBuffer>; type: string } {
  const head = Buffer.from(
    '--b0undary\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n',
  );
  const body = new Uint8Array(Buffer.concat([head, bytes, Buffer.from('\r\n--b0undary--\r\n')]));
  return { body, type: 'multipart/form-data; boundary=b0undary' };
}

test('an image over 20 MB answers 500030', async (t) => {
  const s = await sim(t);
  // (Exactly 20 MB goes through the multipart parser instead; skipped here because parsing 20 MB
  // costs about a second on a busy machine.)
  for (const size of [21 * 1024 * 1024]) {
    const file = Buffer.alloc(size);
    PNG_BYTES.copy(file);
    const { body, type } = multipart(file);
    const res = await fetch(`${s.url}/openapi/v2/image/upload`, {
      method: 'POST',
      headers: { 'API-KEY': 'k', 'Ai-trace-id': `t${size}`, 'content-type': type },
      body,
    });
    assert.equal((await res.json()).ErrCode, 500030, `size ${size}`);
  }
  // The same framing with a small file is accepted (so the refusal above is about size).
  const { body, type } = multipart(PNG_BYTES);
  const ok = await fetch(`${s.url}/openapi/v2/image/upload`, {
    method: 'POST',
    headers: { 'API-KEY': 'k', 'Ai-trace-id': 't-small', 'content-type': type },
    body,
  });
  assert.equal((await ok.json()).ErrCode, 0);
});

test('media upload: video and audio files and URLs', async (t) => {
  const s = await sim(t);
  const video = new FormData();
  video.append('file', new Blob([Buffer.from('....ftypisom')], { type: 'video/mp4' }), 'clip.mp4');
  const v = await call(s, '/media/upload', { form: video });
  assert.equal(v.code, 0, v.text);
  assert.equal(v.resp.media_type, 'video');
  assert.match(v.text, /"media_id":\d+,/);

  const audio = new FormData();
  audio.append('file_url', 'https://example.com/voice.mp3');
  const au = await call(s, '/media/upload', { form: audio });
  assert.deepEqual([au.code, au.resp.media_type], [0, 'audio']);
  assert.match(au.resp.url, /\.mp3$/);

  const text = new FormData();
  text.append('file', new Blob(['hello'], { type: 'text/plain' }), 'a.txt');
  assert.equal((await call(s, '/media/upload', { form: text })).code, 400017);
  assert.equal((await call(s, '/media/upload', { form: new FormData() })).code, 400011);
  // A video upload is not an image: it cannot be used as img_id.
  const raw = `{"prompt":"p","model":"v5","duration":5,"quality":"360p","img_id":${v.resp.media_id}}`;
  assert.equal((await call(s, '/video/img/generate', { raw })).code, 400032);
});

test('results download from the simulator itself: MP4 and PNG with type, length and signature', async (t) => {
  const s = await sim(t, { durationMs: { min: 30, max: 30 } });
  const video = await createVideo(s, { duration: 8 });
  const pendingUrl = `${s.url}/media/video/sim-${video.resp.video_id}.mp4`;
  // Nothing to download before the job completes.
  if ((await call(s, `/video/result/${video.resp.video_id}`)).resp.status === 5)
    assert.equal((await fetch(pendingUrl)).status, 404);
  const done = await waitFinal(s, 'video', video.resp.video_id);
  assert.equal(done.resp.status, 1);
  assert.ok(done.resp.url.startsWith(`${s.url}/media/`), done.resp.url);
  const mp4 = await fetch(done.resp.url);
  assert.equal(mp4.status, 200);
  assert.equal(mp4.headers.get('content-type'), 'video/mp4');
  const bytes = Buffer.from(await mp4.arrayBuffer());
  assert.equal(Number(mp4.headers.get('content-length')), bytes.length);
  assert.equal(bytes.subarray(4, 8).toString('latin1'), 'ftyp');
  // The movie header (timescale ms) carries the video's length.
  const mvhd = bytes.indexOf('mvhd');
  assert.ok(mvhd > 0);
  assert.equal(bytes.readUInt32BE(mvhd + 4 + 12), 1000);
  assert.equal(bytes.readUInt32BE(mvhd + 4 + 16), 8000);

  const img = await uploadImage(s);
  const created = await call(s, '/image/template/generate', {
    raw: `{"img_ids":[${img}],"template_id":302325299692635}`,
  });
  const image = await waitFinal(s, 'image', created.resp.image_id);
  assert.equal(image.resp.status, 1);
  const png = await fetch(image.resp.url);
  assert.equal(png.status, 200);
  assert.equal(png.headers.get('content-type'), 'image/png');
  const pngBytes = Buffer.from(await png.arrayBuffer());
  assert.equal(Number(png.headers.get('content-length')), pngBytes.length);
  assert.deepEqual([...pngBytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(pngBytes.subarray(12, 16).toString('latin1'), 'IHDR');

  // A failed job has no file; a video path with an image id, or a wrong extension, is not found.
  const failed = await createVideo(s, { prompt: 'x #sim:fail' });
  await waitFinal(s, 'video', failed.resp.video_id);
  assert.equal((await fetch(`${s.url}/media/video/sim-${failed.resp.video_id}.mp4`)).status, 404);
  assert.equal((await fetch(`${s.url}/media/video/sim-${created.resp.image_id}.mp4`)).status, 404);
  assert.equal((await fetch(`${s.url}/media/video/sim-${video.resp.video_id}.png`)).status, 404);
});

test('the lossless helper keeps big ids exact (guards the tests themselves)', () => {
  const body = losslessBody('{"a":324059936888515989,"b":12}');
  assert.deepEqual(body, { a: '324059936888515989', b: 12 });
});
