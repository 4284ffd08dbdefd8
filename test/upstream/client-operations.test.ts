/**
 * Every upstream operation end to end: PixverseClient → simulator over real HTTP. Each case checks
 * the request as the simulator received it (path, headers, raw body with ids as JSON integers) and
 * the parsed SubmitResult; then catalog() for voices, restyles and effects.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { parse } from 'lossless-json';
import { after, before, describe, it } from 'node:test';
import type { Json } from '../../src/domain/job.ts';
import {
  startSimulator,
  type RunningSimulator,
  type SeenRequest,
} from '../../src/providers/pixverse/simulator/index.ts';
import {
  createPixverseClient,
  OPERATIONS,
  type PixverseClient,
} from '../../src/providers/pixverse/upstream/index.ts';

/** The body as the simulator got it, with 12+ digit integers (ids) read as exact decimal strings. */
function idsAsStrings(text: string): unknown {
  return parse(text, null, (digits) => (/^\d{12,}$/.test(digits) ? digits : Number(digits)));
}

const PNG = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
]);
const KEY = 'key-ops';

describe('PixverseClient: every operation against the simulator', () => {
  let sim: RunningSimulator;
  let client: PixverseClient;
  const seen: SeenRequest[] = [];
  let src: string;
  let img: [string, string, string];
  let video: string;
  let audio: string;

  before(async () => {
    sim = await startSimulator({
      seed: 3,
      durationMs: { min: 30_000, max: 30_000 },
      maxConcurrent: 100,
      bigIds: true,
      onRequest: (r) => seen.push(r),
    });
    client = createPixverseClient({ baseUrl: sim.url, timeoutMs: 5000 });
    const source = await client.submit(
      KEY,
      {
        op: 'video.text',
        params: {
          prompt: 'source #sim:duration=1',
          model: 'v5',
          duration: 8,
          quality: '720p',
          aspect_ratio: '16:9',
        },
      },
      randomUUID(),
    );
    src = source.upstreamId;
    img = [
      (await client.upload(KEY, PNG, 'image/png', 'a.png')).id,
      (await client.upload(KEY, PNG, 'image/png', 'b.png')).id,
      (await client.upload(KEY, PNG, 'image/png', 'c.png')).id,
    ];
    video = (await client.upload(KEY, Buffer.from('mp4'), 'video/mp4', 'v.mp4')).id;
    audio = (await client.upload(KEY, Buffer.from('mp3'), 'audio/mpeg', 'a.mp3')).id;
    for (;;) {
      if ((await client.status(KEY, 'video', src)).state === 'completed') break;
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  after(async () => {
    await client.close();
    await sim.close();
  });

  /** [op, params, credits] — params use ids as decimal strings, as the gateway stores them. */
  const cases = (): [string, { [key: string]: Json }, number][] => [
    [
      'video.text',
      {
        prompt: 'fox',
        model: 'v6',
        duration: 5,
        quality: '720p',
        aspect_ratio: '21:9',
        generate_audio_switch: true,
      },
      75,
    ],
    ['video.img', { prompt: 'move', model: 'v5', duration: 5, quality: '540p', img_id: img[0] }, 45],
    [
      'video.img',
      {
        prompt: '',
        model: 'v5',
        duration: 5,
        quality: '540p',
        template_id: '302325299692611',
        img_ids: [img[0], img[1]],
      },
      45,
    ],
    [
      'video.transition',
      {
        prompt: 'morph',
        model: 'v5',
        duration: 5,
        quality: '360p',
        first_frame_img: img[0],
        last_frame_img: img[1],
      },
      45,
    ],
    [
      'video.multi_transition',
      {
        model: 'v5',
        quality: '720p',
        multi_transition: [
          { img_id: img[0], duration: 3, prompt: 'a' },
          { img_id: img[1], duration: 2 },
          { img_id: img[2] },
        ],
      },
      60,
    ],
    [
      'video.fusion',
      {
        prompt: '@hero walks in @bg ',
        model: 'v5.6',
        duration: 5,
        quality: '540p',
        aspect_ratio: '1:1',
        image_references: [
          { type: 'subject', img_id: img[0], ref_name: 'hero' },
          { type: 'background', img_id: img[1], ref_name: 'bg' },
        ],
      },
      45,
    ],
    [
      'video.extend',
      { source_video_id: src, prompt: 'continue', model: 'v5', duration: 5, quality: '720p' },
      60,
    ],
    [
      'video.lip_sync',
      { source_video_id: src, lip_sync_tts_speaker_id: '3', lip_sync_tts_content: 'Hello there, friends!' },
      8,
    ],
    ['video.lip_sync', { video_media_id: video, audio_media_id: audio }, 20],
    [
      'video.sound_effect',
      { source_video_id: src, sound_effect_content: 'waves', original_sound_switch: false },
      20,
    ],
    ['video.restyle', { source_video_id: src, restyle_id: '331000000000103' }, 120],
    [
      'video.swap',
      { source_video_id: src, keyframe_id: 1, mask_id: 'mask-1-0', img_id: img[2], quality: '720p' },
      120,
    ],
    ['video.mimic', { video_media_id: video, img_id: img[0], quality: '360p' }, 45],
    [
      'video.modify',
      { source_video_id: src, prompt: 'paint @img0 gold', quality: '540p', img_ids: [img[0]] },
      90,
    ],
    ['video.upscale', { source_video_id: src }, 120],
    ['image.template', { img_ids: [img[0]], template_id: '302325299692635' }, 10],
  ];

  it('submits each operation with the Platform field names and parses id and credits', async () => {
    const covered = new Set<string>();
    for (const [op, params, credits] of cases()) {
      seen.length = 0;
      const trace = randomUUID();
      const r = await client.submit(KEY, { op, params }, trace);
      covered.add(op);
      const [req] = seen;
      assert.ok(req, `${op}: nothing reached the simulator`);
      assert.equal(req.method, 'POST');
      assert.equal(req.path, OPERATIONS[op]!.path);
      assert.deepEqual([req.apiKey, req.traceId, req.contentType], [KEY, trace, 'application/json']);
      // Ids (18 digits here: bigIds) travel as bare JSON integers, everything else as given.
      assert.deepEqual(idsAsStrings(req.body), params, `${op}: body as received`);
      assert.doesNotMatch(req.body, /"\d{12,}"/, `${op}: ids must not be quoted`);
      assert.match(r.upstreamId, /^\d{18}$/, op);
      assert.equal(r.credits, credits, `${op} credits`);
      const type = OPERATIONS[op]!.type;
      const status = await client.status(KEY, type, r.upstreamId);
      assert.notEqual(type, 'music', `${op}: the Platform API has no music`);
      assert.deepEqual([status.state, status.code], ['pending', 5], op);
    }
    assert.deepEqual([...covered].sort(), Object.keys(OPERATIONS).sort(), 'every operation is exercised');
  });

  it('catalog(): voices, restyles and effects with ids as strings and the page in the query', async () => {
    seen.length = 0;
    const voices = await client.catalog(KEY, 'voices');
    assert.equal(voices.total, 15);
    assert.equal(voices.items.length, 15);
    assert.deepEqual(voices.items[13], { speaker_id: '14', name: 'Ethan' });
    assert.deepEqual(
      [seen[0]!.method, seen[0]!.path, seen[0]!.query],
      ['GET', '/video/lip_sync/tts_list', { page_num: '1', page_size: '100' }],
    );

    const restyles = await client.catalog(KEY, 'restyles', { num: 2, size: 3 });
    assert.equal(restyles.total, 8);
    assert.deepEqual(
      restyles.items.map((r) => r.restyle_id),
      ['331000000000104', '331000000000105', '331000000000106'],
    );
    assert.deepEqual(seen[1]!.query, { page_num: '2', page_size: '3' });

    const effects = await client.catalog(KEY, 'effects');
    assert.equal(effects.total, 12);
    assert.deepEqual(seen[2]!.query, { page: '1', pageSize: '100' });
    const hug = effects.items.find((e) => e.display_name === 'Hug');
    assert.deepEqual(hug && [hug.template_id, hug.effect_type, hug.template_type, hug.activated], [
      '302325299692611',
      '2',
      1,
      true,
    ]);
    assert.ok(effects.items.every((e) => typeof e.template_id === 'string' && Array.isArray(e.qualities)));

    const empty = await client.catalog(KEY, 'effects', { num: 9, size: 100 });
    assert.deepEqual([empty.items, empty.total], [[], 12]);
    await assert.rejects(client.catalog(KEY, 'effects', { num: 0, size: 10 }), /invalid catalog page/);
    await assert.rejects(client.catalog(KEY, 'nope' as 'effects'), /unknown catalog/);
  });

  it('a completed edit is tracked like any video; a deleted one reads as deleted', async () => {
    const r = await client.submit(
      KEY,
      { op: 'video.upscale', params: { source_video_id: src, prompt: '#sim:duration=50' } },
      randomUUID(),
    );
    let s = await client.status(KEY, 'video', r.upstreamId);
    while (s.state === 'pending') {
      await new Promise((res) => setTimeout(res, 20));
      s = await client.status(KEY, 'video', r.upstreamId);
    }
    assert.equal(s.state, 'completed');
    assert.equal(s.raw.outputHeight, 1080);
    assert.equal(sim.deleteJob(r.upstreamId), true);
    const gone = await client.status(KEY, 'video', r.upstreamId);
    assert.deepEqual([gone.state, gone.code, gone.url], ['deleted', 6, null]);
  });
});
