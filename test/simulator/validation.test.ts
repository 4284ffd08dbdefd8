/** Request validation: each bad combination answers the ErrCode PixVerse documents (reference §3, §5). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call, createVideo, sim, stats, textVideo } from './helpers.ts';

const long = (n: number) => 'x'.repeat(n);

/** [label, overrides (undefined value = field removed), expected ErrCode, message fragment] */
const TEXT_CASES: [string, Record<string, unknown>, number, string?][] = [
  ['missing prompt', { prompt: undefined }, 400011, 'prompt'],
  ['empty prompt', { prompt: '  ' }, 400011, 'prompt'],
  ['missing model', { model: undefined }, 400011, 'model'],
  ['missing duration', { duration: undefined }, 400011, 'duration'],
  ['missing quality', { quality: undefined }, 400011, 'quality'],
  ['missing aspect_ratio', { aspect_ratio: undefined }, 400011, 'aspect_ratio'],
  ['duration as string', { duration: '5' }, 400013, 'duration'],
  ['duration as float', { duration: 5.5 }, 400013, 'duration'],
  ['prompt as number', { prompt: 5 }, 400013, 'prompt'],
  ['seed as string', { seed: '7' }, 400013, 'seed'],
  ['switch as string', { generate_audio_switch: 'true', model: 'v6' }, 400013, 'generate_audio_switch'],
  ['unknown model', { model: 'v7' }, 400017, 'model'],
  ['unknown quality', { quality: '4k' }, 400017, 'quality'],
  ['unknown aspect', { aspect_ratio: '5:4' }, 400017, 'aspect_ratio'],
  ['21:9 before v6', { aspect_ratio: '21:9', model: 'v5.5' }, 400017, 'aspect_ratio'],
  ['v5 duration 10', { duration: 10 }, 400017, 'duration'],
  ['v4.5 8 s at 1080p', { model: 'v4.5', duration: 8, quality: '1080p' }, 400017, 'duration'],
  ['v5.5 10 s at 1080p', { model: 'v5.5', duration: 10, quality: '1080p' }, 400017, 'duration'],
  ['v5.6 duration 6', { model: 'v5.6', duration: 6 }, 400017, 'duration'],
  ['v6 duration 16', { model: 'v6', duration: 16 }, 400017, 'duration'],
  ['c1 duration 0', { model: 'c1', duration: 0 }, 400017, 'duration'],
  ['seed negative', { seed: -1 }, 400017, 'seed'],
  ['seed too big', { seed: 2147483648 }, 400017, 'seed'],
  ['fast on v5', { motion_mode: 'fast' }, 400017, 'motion_mode'],
  ['fast 8 s', { model: 'v4', motion_mode: 'fast', duration: 8 }, 400017, 'motion_mode'],
  ['fast 1080p', { model: 'v4', motion_mode: 'fast', quality: '1080p' }, 400017, 'motion_mode'],
  ['bad motion mode', { motion_mode: 'slow' }, 400017, 'motion_mode'],
  ['bad style', { style: 'oil' }, 400017, 'style'],
  ['bad camera movement', { model: 'v4.5', camera_movement: 'barrel_roll' }, 400017, 'camera_movement'],
  ['native audio on v5', { generate_audio_switch: true }, 400017, 'generate_audio_switch'],
  [
    'bad speaker',
    { lip_sync_tts_switch: true, lip_sync_tts_content: 'hi', lip_sync_tts_speaker_id: '99' },
    400017,
    'speaker',
  ],
  ['prompt 2049 on v5', { prompt: long(2049) }, 400018, '2048'],
  ['prompt 5001 on v5.5', { model: 'v5.5', prompt: long(5001) }, 400018, '5000'],
  ['negative prompt too long', { negative_prompt: long(2049) }, 400019, 'negative_prompt'],
];

/** Valid edge cases that must pass. */
const VALID_CASES: [string, Record<string, unknown>][] = [
  ['v5 8 s 1080p', { duration: 8, quality: '1080p' }],
  ['v5.5 10 s 720p', { model: 'v5.5', duration: 10, quality: '720p' }],
  [
    'v6 13 s 21:9 with audio',
    { model: 'v6', duration: 13, aspect_ratio: '21:9', generate_audio_switch: true },
  ],
  ['c1 1 s 3:2', { model: 'c1', duration: 1, aspect_ratio: '3:2' }],
  ['v4 fast 5 s 720p', { model: 'v4', motion_mode: 'fast', quality: '720p' }],
  ['prompt 2048 on v5', { prompt: long(2048) }],
  ['prompt 5000 on v6', { model: 'v6', prompt: long(5000) }],
  ['2048 CJK code points on v5', { prompt: '猫'.repeat(2048) }],
  [
    'all optional fields',
    {
      seed: 2147483647,
      negative_prompt: 'blur',
      style: 'anime',
      camera_movement: 'zoom_in',
      sound_effect_switch: true,
      sound_effect_content: 'wind',
      lip_sync_tts_switch: true,
      lip_sync_tts_content: 'hello',
      lip_sync_tts_speaker_id: 'Auto',
      water_mark: false,
      webhook_id: 'wh-1',
      generate_multi_clip_switch: false,
      unknown_field: 1,
    },
  ],
];

function bodyWith(overrides: Record<string, unknown>): Record<string, unknown> {
  const body = textVideo(overrides);
  for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete body[k];
  return body;
}

test('text-to-video validation table', async (t) => {
  const s = await sim(t, { maxConcurrent: 100 });
  for (const [label, overrides, code, fragment] of TEXT_CASES) {
    const a = await call(s, '/video/text/generate', { json: bodyWith(overrides) });
    assert.equal(a.code, code, `${label}: ${a.text}`);
    if (fragment)
      assert.ok(
        a.body.ErrMsg.includes(fragment),
        `${label}: message "${a.body.ErrMsg}" should name ${fragment}`,
      );
  }
  // No refused request created a job or was counted as a violation.
  const st = await stats(s);
  assert.equal(st.totals.created, 0);
  assert.equal(st.totals.violations, 0);
});

test('valid edge cases are accepted', async (t) => {
  const s = await sim(t, { maxConcurrent: 100 });
  for (const [label, overrides] of VALID_CASES) {
    const a = await createVideo(s, overrides);
    assert.equal(a.code, 0, `${label}: ${a.text}`);
    assert.match(a.resp.video_id, /^\d{15}$/);
    assert.ok(a.resp.credits > 0);
  }
});

test('image-to-video requires a known img_id of the same key', async (t) => {
  const s = await sim(t);
  const body = { prompt: 'p', model: 'v5', duration: 5, quality: '540p' };
  assert.equal((await call(s, '/video/img/generate', { json: body })).code, 400011);
  assert.equal(
    (await call(s, '/video/img/generate', { json: { ...body, img_id: 123456789012345 } })).code,
    400032,
  );
  assert.equal(
    (await call(s, '/video/img/generate', { json: { ...body, img_id: '123456789012345' } })).code,
    400013,
  );
  // img_ids only with a template.
  assert.equal((await call(s, '/video/img/generate', { json: { ...body, img_ids: [1, 2] } })).code, 400017);
});

test('only documented operations exist: text-to-image and music answer "no such endpoint"', async (t) => {
  const s = await sim(t);
  assert.equal(
    (
      await call(s, '/image/generate', {
        json: { prompt: 'a cat', model: 'seedream-4.5', quality: '2k', aspect_ratio: '1:1' },
      })
    ).code,
    500008,
  );
  assert.equal((await call(s, '/music/generate', { json: { prompt: 'lofi' } })).code, 500008);
  assert.equal((await call(s, '/music/result/123456789012345', { method: 'GET' })).code, 500008);
});
