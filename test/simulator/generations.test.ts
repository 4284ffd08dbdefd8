/** Multi-image generations and templates: transition, multi-transition, fusion, effect templates, image templates. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { balance, call, sim, stats, uploadImage, uploadMedia, waitFinal } from './helpers.ts';

test('transition: first_frame_img → last_frame_img, both uploaded images of the key', async (t) => {
  const s = await sim(t, { durationMs: { min: 20, max: 20 } });
  const [a, b] = [await uploadImage(s), await uploadImage(s)];
  const body = {
    prompt: 'day to night',
    model: 'v5',
    duration: 5,
    quality: '720p',
    first_frame_img: a,
    last_frame_img: b,
  };
  const ok = await call(s, '/video/transition/generate', { ids: body });
  assert.equal(ok.code, 0, ok.text);
  assert.equal(ok.resp.credits, 60);
  const done = await waitFinal(s, 'video', ok.resp.video_id);
  assert.deepEqual([done.resp.status, done.resp.outputWidth, done.resp.outputHeight], [1, 1280, 720]);

  const video = await uploadMedia(s, 'video');
  const cases: [Record<string, unknown>, number][] = [
    [{ last_frame_img: undefined }, 400011],
    [{ first_frame_img: '123456789012345' }, 400032],
    [{ last_frame_img: video }, 400032],
    [{ first_frame_img: Number(a) + 0.5 }, 400013],
    [{ model: 'v5', generate_audio_switch: true }, 400017],
    [{ duration: 10 }, 400017],
  ];
  for (const [over, code] of cases) {
    const a2 = await call(s, '/video/transition/generate', { ids: { ...body, ...over } });
    assert.equal(a2.code, code, `${JSON.stringify(over)}: ${a2.text}`);
  }
  assert.equal(
    (await call(s, '/video/transition/generate', { ids: body, key: 'key-b' })).code,
    400032,
    'images are per key',
  );
});

test('multi-transition: 2–7 items, segment durations, last item 0 or omitted, total 1–30 s', async (t) => {
  const s = await sim(t, { durationMs: { min: 20, max: 20 }, maxConcurrent: 50 });
  const imgs = await Promise.all(Array.from({ length: 8 }, () => uploadImage(s)));
  const items = (durations: (number | undefined)[]) =>
    durations.map((d, i) =>
      d === undefined ? { img_id: imgs[i] } : { img_id: imgs[i], duration: d, prompt: `step ${i}` },
    );
  const send = (multi: unknown, over: Record<string, unknown> = {}) =>
    call(s, '/video/multi_transition/generate', {
      ids: { model: 'v5', quality: '540p', multi_transition: multi, ...over },
    });

  const two = await send(items([8, undefined]));
  assert.equal(two.code, 0, two.text);
  assert.equal(two.resp.credits, 90, '8 s = two 540p clips');
  const seven = await send(items([5, 5, 5, 5, 5, 5, 0]));
  assert.equal(seven.code, 0, seven.text);
  assert.equal(seven.resp.credits, 45 * 6);
  const done = await waitFinal(s, 'video', two.resp.video_id);
  assert.equal(done.resp.status, 1);
  assert.equal(done.resp.prompt, 'step 0');

  const cases: [unknown, number, Record<string, unknown>?][] = [
    [undefined, 400011],
    [[], 400011],
    [items([5]), 400017],
    [items([5, 5, 5, 5, 5, 5, 5, 0]), 400017],
    [items([9, undefined]), 400017],
    [items([6, 5, undefined]), 400017],
    [items([0, undefined]), 400017],
    [items([5, 5]), 400017],
    [[{ img_id: imgs[0] }, { img_id: imgs[1] }], 400011],
    [[{ duration: 5 }, { img_id: imgs[1] }], 400011],
    [[{ img_id: '123456789012345', duration: 5 }, { img_id: imgs[1] }], 400032],
    [['x', 'y'], 400013],
    [items([5, undefined]), 400017, { model: 'v5.5' }],
    [items([5, undefined]), 400017, { quality: '4k' }],
  ];
  for (const [multi, code, over] of cases) {
    const a = await send(multi, over);
    assert.equal(a.code, code, `${JSON.stringify(multi)} ${JSON.stringify(over ?? {})}: ${a.text}`);
  }
});

test('fusion: image_references, @ref_name mentions, per-model reference limits', async (t) => {
  const s = await sim(t, { durationMs: { min: 20, max: 20 }, maxConcurrent: 50 });
  const imgs = await Promise.all(Array.from({ length: 8 }, () => uploadImage(s)));
  const refs = (n: number) =>
    imgs
      .slice(0, n)
      .map((img_id, i) => ({ type: i === 0 ? 'background' : 'subject', img_id, ref_name: `r${i}` }));
  const mention = (n: number) => Array.from({ length: n }, (_, i) => `@r${i} `).join('and ');
  const body = (n: number, over: Record<string, unknown> = {}) => ({
    prompt: `${mention(n)}dance`,
    model: 'v5',
    duration: 5,
    quality: '540p',
    aspect_ratio: '9:16',
    image_references: refs(n),
    ...over,
  });
  const ok = await call(s, '/video/fusion/generate', { ids: body(3) });
  assert.equal(ok.code, 0, ok.text);
  const done = await waitFinal(s, 'video', ok.resp.video_id);
  assert.deepEqual([done.resp.outputWidth, done.resp.outputHeight], [540, 960]);
  assert.equal(
    (await call(s, '/video/fusion/generate', { ids: body(7, { model: 'v6', generate_audio_switch: true }) }))
      .code,
    0,
  );
  // The last mention may end the prompt.
  assert.equal(
    (await call(s, '/video/fusion/generate', { ids: body(1, { prompt: 'look at @r0' }) })).code,
    0,
  );

  const cases: [string, Record<string, unknown>, number][] = [
    ['4 refs on v5', body(4), 400017],
    ['8 refs on v6', body(8, { model: 'v6' }), 400017],
    ['v4 model', body(1, { model: 'v4' }), 400017],
    ['no refs', body(0, { prompt: 'x' }), 400011],
    ['missing mention', body(2, { prompt: '@r0 only' }), 400017],
    ['mention without space', body(1, { prompt: 'look @r0, now' }), 400017],
    ['unknown mention', body(1, { prompt: '@r0 and @ghost here' }), 400017],
    ['bad type', body(1, { image_references: [{ type: 'prop', img_id: imgs[0], ref_name: 'r0' }] }), 400017],
    [
      'duplicate name',
      body(2, { image_references: [refs(1)[0], { ...refs(1)[0], img_id: imgs[1] }] }),
      400017,
    ],
    [
      'name with space',
      body(1, {
        prompt: '@my cat ',
        image_references: [{ type: 'subject', img_id: imgs[0], ref_name: 'my cat' }],
      }),
      400017,
    ],
    [
      'name too long',
      body(1, {
        prompt: `@${'n'.repeat(31)} `,
        image_references: [{ type: 'subject', img_id: imgs[0], ref_name: 'n'.repeat(31) }],
      }),
      400017,
    ],
    ['missing ref_name', body(1, { image_references: [{ type: 'subject', img_id: imgs[0] }] }), 400011],
    [
      'unknown image',
      body(1, { image_references: [{ type: 'subject', img_id: '123456789012345', ref_name: 'r0' }] }),
      400032,
    ],
    ['audio on v5.5', body(1, { model: 'v5.5', generate_audio_switch: true }), 400017],
    ['missing aspect', body(1, { aspect_ratio: undefined }), 400011],
    ['refs not objects', body(1, { image_references: [imgs[0]] }), 400013],
  ];
  for (const [label, b, code] of cases) {
    const a = await call(s, '/video/fusion/generate', { ids: b });
    assert.equal(a.code, code, `${label}: ${a.text}`);
  }
});

test('effect templates on /video/img: activation (500070), 720p/1080p (500071), image counts', async (t) => {
  const s = await sim(t, { durationMs: { min: 20, max: 20 }, maxConcurrent: 50 });
  const [a, b, c] = [await uploadImage(s), await uploadImage(s), await uploadImage(s)];
  const base = { prompt: '', model: 'v5', duration: 5, quality: '540p' };
  const send = (over: Record<string, unknown>) =>
    call(s, '/video/img/generate', { ids: { ...base, ...over } });

  const venom = await send({ template_id: '302325299692617', img_id: a });
  assert.equal(venom.code, 0, venom.text);
  const done = await waitFinal(s, 'video', venom.resp.video_id);
  assert.equal(done.resp.template_id, '302325299692617');
  assert.equal(done.resp.status, 1);
  assert.equal(
    (await send({ template_id: '302325299692611', img_ids: [a, b] })).code,
    0,
    'Hug takes two images',
  );
  assert.equal(
    (await send({ template_id: '302325299692626', img_id: a, img_ids: [b, c] })).code,
    0,
    'Family Photo takes three',
  );
  assert.equal((await send({ template_id: '302325299692623', img_id: a, quality: '360p' })).code, 0);

  const cases: [string, Record<string, unknown>, number][] = [
    ['not activated', { template_id: '302325299692629', img_id: a }, 500070],
    ['720p unsupported', { template_id: '302325299692623', img_id: a, quality: '720p' }, 500071],
    ['1080p unsupported', { template_id: '302325299692623', img_id: a, quality: '1080p' }, 500071],
    ['unknown template', { template_id: '999999999999999', img_id: a }, 400017],
    ['image template on video', { template_id: '302325299692635', img_id: a }, 400017],
    ['one image for Hug', { template_id: '302325299692611', img_id: a }, 400017],
    ['no image', { template_id: '302325299692608' }, 400011],
  ];
  for (const [label, over, code] of cases) assert.equal((await send(over)).code, code, label);
  // Text-to-video takes template_id too, without images.
  const text = await call(s, '/video/text/generate', {
    ids: { ...base, aspect_ratio: '1:1', template_id: '302325299692629' },
  });
  assert.equal(text.code, 500070);
});

test('image templates: /image/template/generate answers image_id and `credit`; result carries template_id', async (t) => {
  const s = await sim(t, { durationMs: { min: 20, max: 20 } });
  const [a, b] = [await uploadImage(s), await uploadImage(s)];
  const start = await balance(s);
  const ok = await call(s, '/image/template/generate', {
    ids: { img_ids: [a], template_id: '302325299692635' },
  });
  assert.equal(ok.code, 0, ok.text);
  assert.match(ok.text, /"image_id":\d{15},"credit":10\}/);
  assert.equal((await balance(s)).monthly, start.monthly - 10);
  const done = await waitFinal(s, 'image', ok.resp.image_id);
  assert.equal(done.resp.status, 1);
  assert.equal(done.resp.template_id, '302325299692635');
  assert.ok(done.resp.url.startsWith(`${s.url}/media/image/`), done.resp.url);

  const cases: [Record<string, unknown>, number][] = [
    [{ img_ids: [a, b], template_id: '302325299692638' }, 0],
    [{ img_ids: [a], template_id: '302325299692638' }, 400017],
    [{ img_ids: [a], template_id: '302325299692641' }, 500070],
    [{ img_ids: [a], template_id: '302325299692608' }, 400017],
    [{ img_ids: [], template_id: '302325299692635' }, 400011],
    [{ template_id: '302325299692635' }, 400011],
    [{ img_ids: [a] }, 400011],
    [{ img_ids: ['123456789012345'], template_id: '302325299692635' }, 400032],
  ];
  for (const [body, code] of cases) {
    assert.equal((await call(s, '/image/template/generate', { ids: body })).code, code, JSON.stringify(body));
  }
  assert.equal((await stats(s)).keys['key-a'].created, 2);
});

test('catalogues: tts_list (15 speakers), restyle list, effect templates, with paging', async (t) => {
  const s = await sim(t);
  const tts = await call(s, '/video/lip_sync/tts_list?page_num=1&page_size=20');
  assert.equal(tts.code, 0);
  assert.equal(tts.resp.total, 15);
  assert.equal(tts.resp.data.length, 15);
  assert.deepEqual(tts.resp.data[0], { speaker_id: '1', name: 'Emily' });
  assert.deepEqual(tts.resp.data.at(-1), { speaker_id: 'Auto', name: 'Auto' });
  const page2 = await call(s, '/video/lip_sync/tts_list?page_num=2&page_size=10');
  assert.deepEqual(
    page2.resp.data.map((d: any) => d.speaker_id),
    ['11', '12', '13', '14', 'Auto'],
  );
  assert.equal((await call(s, '/video/lip_sync/tts_list?page_num=0')).code, 400017);
  assert.equal((await call(s, '/video/lip_sync/tts_list?page_size=abc')).code, 400013);

  const restyles = await call(s, '/video/restyle/list?page_num=1&page_size=100');
  assert.equal(restyles.resp.total, restyles.resp.data.length);
  assert.match(restyles.text, /"restyle_id":\d{15},/);

  const all = await call(s, '/video/effects/templates/list?page=1&pageSize=100');
  assert.equal(all.resp.total, 12);
  assert.match(all.text, /"template_id":302325299692608,/);
  const first = all.resp.effect_items[0];
  assert.deepEqual(Object.keys(first), [
    'template_id',
    'display_name',
    'display_prompt',
    'effect_type',
    'template_type',
    'qualities',
    'duration',
    'activated',
    'credits',
    'thumbnail_url',
  ]);
  assert.ok(all.resp.effect_items.some((x: any) => !x.activated));
  const images = await call(s, '/video/effects/templates/list?type=2&page_num=1&page_size=2');
  assert.equal(images.resp.total, 3);
  assert.equal(images.resp.effect_items.length, 2);
  assert.ok(images.resp.effect_items.every((x: any) => x.template_type === 2));
  assert.equal((await call(s, '/video/effects/templates/list?type=3')).code, 400017);
  // Catalogues need a valid key like every API call.
  assert.equal((await call(s, '/video/restyle/list', { key: null })).code, 400012);
});
