/**
 * Operations on an existing video: extend, lip sync, sound effect, restyle, swap (+ mask selection),
 * mimic, modify, upscale — their fields, their sources (owned, completed, not deleted, right media
 * type), their prices and the shape of their results.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  balance,
  call,
  completedVideo,
  createVideo,
  deleteJob,
  sim,
  uploadImage,
  uploadMedia,
  waitFinal,
} from './helpers.ts';

const SLOW = { durationMs: { min: 30_000, max: 30_000 }, maxConcurrent: 100 };

test('every editing endpoint accepts a completed source video and answers the documented fields', async (t) => {
  const s = await sim(t, SLOW);
  const src = await completedVideo(s, { quality: '720p', aspect_ratio: '9:16', duration: 8 });
  const img = await uploadImage(s);
  const audio = await uploadMedia(s, 'audio');
  const restyleId = (await call(s, '/video/restyle/list')).resp.data[0].restyle_id;
  const mask = await call(s, '/video/mask/selection', { ids: { source_video_id: src, keyframe_id: 12 } });
  assert.equal(mask.code, 0, mask.text);
  assert.equal(mask.resp.keyframe_id, 12);
  assert.equal(mask.resp.credits, 5);
  assert.equal(mask.resp.mask_info.length, 3);
  const maskId: string = mask.resp.mask_info[0].mask_id;

  /** [path, body, credits, credit field, result quality] */
  const ops: [string, Record<string, unknown>, number, string, string][] = [
    [
      'extend',
      { source_video_id: src, prompt: 'keep going', model: 'v5', duration: 5, quality: '720p', seed: 3 },
      60,
      'credits',
      '720p',
    ],
    ['lip_sync', { source_video_id: src, audio_media_id: audio }, 32, 'credits', '720p'],
    [
      'lip_sync',
      {
        source_video_id: src,
        lip_sync_tts_speaker_id: '7',
        lip_sync_tts_content: 'Welcome to the product tour.',
      },
      8,
      'credits',
      '720p',
    ],
    [
      'sound_effect',
      { source_video_id: src, sound_effect_content: 'rain', original_sound_switch: true },
      20,
      'credits',
      '720p',
    ],
    ['restyle', { source_video_id: src, restyle_id: restyleId }, 120, 'credits', '720p'],
    ['restyle', { source_video_id: src, restyle_prompt: 'as a watercolor' }, 120, 'credits', '720p'],
    [
      'swap',
      { source_video_id: src, keyframe_id: 12, mask_id: maskId, img_id: img, quality: '540p' },
      90,
      'credits',
      '540p',
    ],
    ['mimic', { source_video_id: src, img_id: img, quality: '540p' }, 80, 'credit', '540p'],
    [
      'modify',
      {
        source_video_id: src,
        prompt: 'make @selection0 red like @img0',
        quality: '360p',
        img_ids: [img],
        mask_ids: [maskId],
        keyframe_ids: 1,
      },
      90,
      'credits',
      '360p',
    ],
    ['upscale', { source_video_id: src }, 120, 'credits', '1080p'],
  ];
  for (const [op, body, credits, field, quality] of ops) {
    const before = await balance(s);
    const a = await call(s, `/video/${op}/generate`, { ids: body });
    assert.equal(a.code, 0, `${op}: ${a.text}`);
    assert.match(
      a.text,
      new RegExp(
        `^\\{"ErrCode":0,"ErrMsg":"success","Resp":\\{"video_id":\\d{15},"${field}":${credits}\\}\\}$`,
      ),
      op,
    );
    assert.equal((await balance(s)).monthly, before.monthly - credits, `${op} charged`);
    const r = (await call(s, `/video/result/${a.resp.video_id}`)).resp;
    assert.equal(r.status, 5);
    assert.equal(r.resolution_ratio, Number.parseInt(quality, 10), `${op} quality`);
    assert.equal(r.credits, credits);
  }
});

test('result of an edit keeps the source aspect ratio; extend adds its duration', async (t) => {
  const s = await sim(t, { durationMs: { min: 20, max: 20 } });
  const src = await completedVideo(s, { quality: '540p', aspect_ratio: '9:16' });
  const ext = await call(s, '/video/extend/generate', {
    ids: { source_video_id: src, prompt: 'more', model: 'v5', duration: 8, quality: '720p' },
  });
  const done = await waitFinal(s, 'video', ext.resp.video_id);
  assert.deepEqual([done.resp.status, done.resp.outputWidth, done.resp.outputHeight], [1, 720, 1280]);
  const up = await call(s, '/video/upscale/generate', { ids: { source_video_id: ext.resp.video_id } });
  const upDone = await waitFinal(s, 'video', up.resp.video_id);
  assert.deepEqual([upDone.resp.outputWidth, upDone.resp.outputHeight], [1080, 1920]);
  // Extend output: 5 s source + 8 s → 13 s; upscale prices 13 s as three 5 s clips of 60.
  assert.equal(up.resp.credits, 180);
  const lip = await call(s, '/video/lip_sync/generate', {
    ids: { source_video_id: src, lip_sync_tts_speaker_id: 'Auto', lip_sync_tts_content: 'hi' },
  });
  assert.equal((await waitFinal(s, 'video', lip.resp.video_id)).resp.has_audio, true);
});

test('sources: xor, ownership, completion, deletion and media types', async (t) => {
  const s = await sim(t, SLOW);
  const src = await completedVideo(s);
  const running = (await createVideo(s)).resp.video_id;
  const failed = await createVideo(s, { prompt: 'x #sim:fail #sim:duration=1' });
  const gone = await completedVideo(s);
  assert.equal(await deleteJob(s, gone), 200);
  const video = await uploadMedia(s, 'video');
  const audio = await uploadMedia(s, 'audio');
  const img = await uploadImage(s);
  await waitFinal(s, 'video', failed.resp.video_id);
  const upscale = (body: Record<string, unknown>, key = 'key-a') =>
    call(s, '/video/upscale/generate', { ids: body, key });

  assert.equal((await upscale({ video_media_id: video })).code, 0, 'an uploaded video is a source');
  const cases: [string, Record<string, unknown>, number, string?][] = [
    ['neither', {}, 400011],
    ['both', { source_video_id: src, video_media_id: video }, 400017],
    ['unknown video', { source_video_id: '123456789012345' }, 500008],
    ['still generating', { source_video_id: running }, 400017],
    ['failed', { source_video_id: failed.resp.video_id }, 400017],
    ['deleted', { source_video_id: gone }, 500064],
    ['audio as video_media_id', { video_media_id: audio }, 400017, 'not a video'],
    ['image as video_media_id', { video_media_id: img }, 400017],
    ['unknown media', { video_media_id: '123456789012345' }, 400017, "couldn't find"],
    ['id as string', { source_video_id: `x${src}` }, 400013],
  ];
  for (const [label, body, code, fragment] of cases) {
    const a = await upscale(body);
    assert.equal(a.code, code, `${label}: ${a.text}`);
    if (fragment) assert.ok(a.body.ErrMsg.includes(fragment), `${label}: ${a.body.ErrMsg}`);
  }
  assert.equal(
    (await upscale({ source_video_id: src }, 'key-b')).code,
    500008,
    "another key's video is not found",
  );
  assert.equal(
    (await upscale({ video_media_id: video }, 'key-b')).code,
    400017,
    "another key's upload is not found",
  );
  // Lip sync reports an unknown source under 400017, as its guide documents.
  const lip = await call(s, '/video/lip_sync/generate', {
    ids: { source_video_id: '123456789012345', audio_media_id: audio },
  });
  assert.equal(lip.code, 400017);
});

test('per-endpoint validation of the editing operations', async (t) => {
  const s = await sim(t, SLOW);
  const src = await completedVideo(s, { duration: 5 });
  const img = await uploadImage(s);
  const audio = await uploadMedia(s, 'audio');
  const video = await uploadMedia(s, 'video');
  const v = { source_video_id: src };
  const cases: [string, Record<string, unknown>, number][] = [
    ['extend', { ...v, model: 'v5', duration: 5, quality: '540p' }, 400011],
    ['extend', { ...v, prompt: 'p', model: 'v5', duration: 10, quality: '540p' }, 400017],
    [
      'extend',
      { ...v, prompt: 'p', model: 'v5', duration: 5, quality: '540p', generate_audio_switch: true },
      400017,
    ],
    ['lip_sync', { ...v }, 400011],
    [
      'lip_sync',
      { ...v, audio_media_id: audio, lip_sync_tts_content: 'hi', lip_sync_tts_speaker_id: '1' },
      400017,
    ],
    ['lip_sync', { ...v, lip_sync_tts_content: 'hi' }, 400011],
    ['lip_sync', { ...v, lip_sync_tts_speaker_id: '1' }, 400011],
    ['lip_sync', { ...v, lip_sync_tts_speaker_id: '15', lip_sync_tts_content: 'hi' }, 400017],
    ['lip_sync', { ...v, lip_sync_tts_speaker_id: '1', lip_sync_tts_content: 'x'.repeat(201) }, 400017],
    ['lip_sync', { ...v, audio_media_id: video }, 400017],
    ['lip_sync', { ...v, audio_media_id: '123456789012345' }, 400017],
    ['sound_effect', { ...v, original_sound_switch: 'yes' }, 400013],
    ['restyle', { ...v }, 400011],
    ['restyle', { ...v, restyle_id: '331000000000101', restyle_prompt: 'x' }, 400017],
    ['restyle', { ...v, restyle_id: '123456789012345' }, 400017],
    ['restyle', { ...v, restyle_prompt: 'x'.repeat(5001) }, 400018],
    ['swap', { ...v, keyframe_id: 1, mask_id: 'mask-1-0', img_id: img, quality: '1080p' }, 400017],
    ['swap', { ...v, keyframe_id: 1, mask_id: 'mask-2-0', img_id: img, quality: '720p' }, 400017],
    ['swap', { ...v, keyframe_id: 121, mask_id: 'mask-121-0', img_id: img, quality: '720p' }, 400017],
    ['swap', { ...v, mask_id: 'mask-1-0', img_id: img, quality: '720p' }, 400011],
    ['mimic', { ...v, img_id: img, quality: '1080p' }, 400017],
    ['mimic', { ...v, quality: '720p' }, 400011],
    ['mimic', { ...v, img_id: audio, quality: '720p' }, 400032],
    ['modify', { ...v, prompt: 'p', quality: '1080p' }, 400017],
    ['modify', { ...v, prompt: 'use @img0', quality: '720p' }, 400017],
    ['modify', { ...v, prompt: 'use @selection1', quality: '720p', mask_ids: ['a'] }, 400017],
    ['modify', { ...v, prompt: 'p', quality: '720p', mask_ids: ['a', 'b', 'c', 'd'] }, 400017],
    ['modify', { ...v, prompt: 'p', quality: '720p', mask_ids: [1] }, 400013],
    ['modify', { ...v, quality: '720p' }, 400011],
  ];
  for (const [op, body, code] of cases) {
    const a = await call(s, `/video/${op}/generate`, { ids: body });
    assert.equal(a.code, code, `${op} ${JSON.stringify(body)}: ${a.text}`);
  }
  const mask = await call(s, '/video/mask/selection', { ids: { ...v, keyframe_id: 0 } });
  assert.equal(mask.code, 400017);
  assert.equal(
    (await call(s, '/video/mask/selection', { ids: v })).resp.keyframe_id,
    1,
    'keyframe_id defaults to 1',
  );
});

test('mimic markers: #sim:no-subject → 701002, #sim:no-person → 701003, nothing charged', async (t) => {
  const s = await sim(t, SLOW);
  const src = await completedVideo(s);
  const img = await uploadImage(s);
  const start = await balance(s);
  const body = { source_video_id: src, img_id: img, quality: '720p' };
  const noSubject = await call(s, '/video/mimic/generate', { ids: { ...body, prompt: '#sim:no-subject' } });
  assert.equal(noSubject.code, 701002);
  assert.equal(
    (await call(s, '/video/mimic/generate', { ids: { ...body, note: '#sim:no-person' } })).code,
    701003,
  );
  assert.deepEqual(await balance(s), start);
  // The markers only mean something on mimic.
  assert.equal((await createVideo(s, { prompt: 'x #sim:no-subject' })).code, 0);
});
