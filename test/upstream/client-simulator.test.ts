/**
 * PixverseClient end to end against the PixVerse simulator (src/providers/pixverse/simulator) over real HTTP.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { JobType, Json } from '../../src/domain/job.ts';
import { startSimulator } from '../../src/providers/pixverse/simulator/index.ts';
import { UpstreamError, type StatusResult } from '../../src/scheduler/provider.ts';
import { createPixverseClient, type PixverseClient } from '../../src/providers/pixverse/upstream/index.ts';

type Sim = Awaited<ReturnType<typeof startSimulator>>;

const VIDEO = { model: 'v5', duration: 5, quality: '540p', aspect_ratio: '16:9' } as const;
/** Smallest byte string the simulator's sniffer accepts as a PNG. */
const PNG = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
]);

async function rejectsWith(p: Promise<unknown>): Promise<UpstreamError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof UpstreamError, `expected UpstreamError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

async function waitDone(
  client: PixverseClient,
  key: string,
  type: JobType,
  id: string,
  timeoutMs = 10_000,
): Promise<StatusResult> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await client.status(key, type, id);
    if (s.state !== 'pending') return s;
    if (Date.now() > until) assert.fail(`job ${id} still pending after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 40));
  }
}

function videoParams(prompt: string, extra: { [key: string]: Json } = {}): { [key: string]: Json } {
  return { prompt, ...VIDEO, ...extra };
}

describe('PixverseClient against the simulator', () => {
  let sim: Sim;
  let client: PixverseClient;

  before(async () => {
    sim = await startSimulator({
      durationMs: { min: 100, max: 300 },
      keyLimits: { 'key-limited': 1 },
      maxConcurrent: 50,
    });
    client = createPixverseClient({ baseUrl: sim.url, timeoutMs: 5000 });
  });
  after(async () => {
    await client.close();
    await sim.close();
  });

  it('text-to-video: submit, then status until completed', async () => {
    const r = await client.submit(
      'key-a',
      { op: 'video.text', params: videoParams('a red fox in snow #sim:duration=1500') },
      randomUUID(),
    );
    assert.match(r.upstreamId, /^\d+$/);
    assert.equal(typeof r.credits, 'number');
    const first = await client.status('key-a', 'video', r.upstreamId);
    assert.equal(first.state, 'pending');
    assert.equal(first.code, 5);
    const done = await waitDone(client, 'key-a', 'video', r.upstreamId);
    assert.equal(done.state, 'completed');
    assert.equal(done.code, 1);
    assert.ok((done.url ?? '').startsWith(`${sim.url}/media/video/`), String(done.url));
    assert.equal(done.raw.id, r.upstreamId);
    assert.equal(done.raw.outputWidth, 960);
    assert.equal(done.raw.outputHeight, 540);
  });

  it('upload an image, then image-to-video with its img_id', async () => {
    const up = await client.upload('key-a', PNG, 'image/png', 'frame.png');
    assert.equal(up.mediaType, 'image');
    assert.match(up.id, /^\d+$/);
    assert.match(up.url, /^https:\/\//);
    const r = await client.submit(
      'key-a',
      { op: 'video.img', params: videoParams('make it move', { img_id: up.id }) },
      randomUUID(),
    );
    const done = await waitDone(client, 'key-a', 'video', r.upstreamId);
    assert.equal(done.state, 'completed');
  });

  it('media upload (video and audio)', async () => {
    const v = await client.upload('key-a', Buffer.from('not really an mp4'), 'video/mp4', 'clip.mp4');
    assert.equal(v.mediaType, 'video');
    assert.match(v.id, /^\d+$/);
    const a = await client.upload('key-a', Buffer.from('not really an mp3'), 'audio/mpeg', 'song.mp3');
    assert.equal(a.mediaType, 'audio');
  });

  it('image template jobs use the image result endpoint; music has none', async () => {
    const up = await client.upload('key-a', PNG, 'image/png', 'a.png');
    const img = await client.submit(
      'key-a',
      { op: 'image.template', params: { img_ids: [up.id], template_id: '302325299692635' } },
      randomUUID(),
    );
    assert.equal((await waitDone(client, 'key-a', 'image', img.upstreamId)).state, 'completed');
    await assert.rejects(client.status('key-a', 'music', img.upstreamId), /unknown job type/);
  });

  it('terminal failures: #sim:fail → failed (8), #sim:moderate → moderated (7)', async () => {
    const f = await client.submit(
      'key-a',
      { op: 'video.text', params: videoParams('boom #sim:fail') },
      randomUUID(),
    );
    const m = await client.submit(
      'key-a',
      { op: 'video.text', params: videoParams('hmm #sim:moderate') },
      randomUUID(),
    );
    const fs = await waitDone(client, 'key-a', 'video', f.upstreamId);
    const ms = await waitDone(client, 'key-a', 'video', m.upstreamId);
    assert.deepEqual([fs.state, fs.code], ['failed', 8]);
    assert.deepEqual([ms.state, ms.code], ['moderated', 7]);
  });

  it('the same Ai-trace-id replays the same upstreamId; a new one creates a new job', async () => {
    const trace = randomUUID();
    const req = { op: 'video.text', params: videoParams('replay me') };
    const a = await client.submit('key-a', req, trace);
    const b = await client.submit('key-a', req, trace);
    const c = await client.submit('key-a', req, randomUUID());
    assert.equal(a.upstreamId, b.upstreamId);
    assert.notEqual(a.upstreamId, c.upstreamId);
  });

  it('concurrency limit → concurrency_limit (500044), not maybeSubmitted', async () => {
    await client.submit(
      'key-limited',
      { op: 'video.text', params: videoParams('long #sim:duration=3000') },
      randomUUID(),
    );
    const e = await rejectsWith(
      client.submit('key-limited', { op: 'video.text', params: videoParams('second') }, randomUUID()),
    );
    assert.equal(e.errorClass, 'concurrency_limit');
    assert.equal(e.errCode, 500044);
    assert.equal(e.maybeSubmitted, false);
  });

  it('create-time refusals surface as the right classes', async () => {
    const mod = await rejectsWith(
      client.submit(
        'key-a',
        { op: 'video.text', params: videoParams('x #sim:reject-moderation') },
        randomUUID(),
      ),
    );
    assert.deepEqual([mod.errorClass, mod.errCode], ['moderation', 500063]);

    const over = await rejectsWith(
      client.submit('key-a', { op: 'video.text', params: videoParams('x #sim:overload') }, randomUUID()),
    );
    assert.deepEqual([over.errorClass, over.errCode], ['transient', 500069]);

    const h500 = await rejectsWith(
      client.submit('key-a', { op: 'video.text', params: videoParams('x #sim:http500') }, randomUUID()),
    );
    assert.equal(h500.errorClass, 'transient');
    assert.equal(h500.httpStatus, 500);
    assert.notEqual(h500.errCode, null, 'the lowercase envelope was read');

    const bad = await rejectsWith(
      client.submit('key-a', { op: 'video.text', params: videoParams('x', { model: 'v99' }) }, randomUUID()),
    );
    assert.equal(bad.errorClass, 'bad_request');

    const auth = await rejectsWith(
      client.submit('sim-invalid-1', { op: 'video.text', params: videoParams('x') }, randomUUID()),
    );
    assert.deepEqual([auth.errorClass, auth.errCode], ['auth', 400012]);
    assert.equal((await rejectsWith(client.balance('sim-invalid-2'))).errorClass, 'auth');
  });

  it('unknown job id → not_found (500008)', async () => {
    const e = await rejectsWith(client.status('key-a', 'video', '123456789012345'));
    assert.deepEqual([e.errorClass, e.errCode], ['not_found', 500008]);
  });

  it('out of credits → out_of_credits (500090); balance reflects the account', async () => {
    const key = 'key-broke';
    const before = await client.balance(key);
    assert.ok(before.creditMonthly > 0);
    assert.match(before.accountId, /^\d*$/);
    const res = await fetch(`${sim.url}/_sim/keys/${key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ creditMonthly: 0, creditPackage: 0 }),
    });
    assert.equal(res.status, 200);
    const e = await rejectsWith(
      client.submit(key, { op: 'video.text', params: videoParams('x') }, randomUUID()),
    );
    assert.deepEqual([e.errorClass, e.errCode], ['out_of_credits', 500090]);
    const after = await client.balance(key);
    assert.deepEqual([after.creditMonthly, after.creditPackage], [0, 0]);
  });
});

describe('PixverseClient against the simulator with ids beyond 2^53', () => {
  let sim: Sim;
  let client: PixverseClient;

  before(async () => {
    sim = await startSimulator({ bigIds: true, durationMs: { min: 50, max: 150 } });
    client = createPixverseClient({ baseUrl: sim.url, timeoutMs: 5000 });
  });
  after(async () => {
    await client.close();
    await sim.close();
  });

  it('big ids survive submit, status, upload and an id in a request body', async () => {
    const up = await client.upload('key-big', PNG, 'image/png', 'big.png');
    assert.ok(BigInt(up.id) > BigInt(Number.MAX_SAFE_INTEGER), `img_id ${up.id} should exceed 2^53`);
    // The simulator only accepts an img_id it issued: a rounded id would be refused with 400032.
    const r = await client.submit(
      'key-big',
      { op: 'video.img', params: videoParams('big', { img_id: up.id }) },
      randomUUID(),
    );
    assert.ok(
      BigInt(r.upstreamId) > BigInt(Number.MAX_SAFE_INTEGER),
      `video_id ${r.upstreamId} should exceed 2^53`,
    );
    assert.equal(BigInt(r.upstreamId).toString(), r.upstreamId);
    const done = await waitDone(client, 'key-big', 'video', r.upstreamId);
    assert.equal(done.state, 'completed');
    assert.equal(done.raw.id, r.upstreamId);
  });

  it('an id off in its last digit is refused (so the test above can fail)', async () => {
    const up = await client.upload('key-big', PNG, 'image/png', 'big.png');
    // What a lossy double would do to the id: change its low digits.
    const altered = (BigInt(up.id) + 1n).toString();
    const e = await rejectsWith(
      client.submit(
        'key-big',
        { op: 'video.img', params: videoParams('big', { img_id: altered }) },
        randomUUID(),
      ),
    );
    assert.deepEqual([e.errorClass, e.errCode], ['bad_request', 400032]);
  });
});
