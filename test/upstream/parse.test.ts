/**
 * parse.ts over the response shapes of the reference's doc examples (create answers of every
 * endpoint, catalogues, balance, uploads), including ids beyond 2^53, and the request bodies of
 * the newer operations written with ids as JSON integers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UpstreamError } from '../../src/scheduler/provider.ts';
import {
  parseBalance,
  parseCatalog,
  parseImageUpload,
  parseMediaUpload,
  parseSubmit,
  stringifyLossless,
  toStatusResult,
  unwrapEnvelope,
} from '../../src/providers/pixverse/upstream/index.ts';

const ok = (resp: string) => unwrapEnvelope(200, `{"ErrCode":0,"ErrMsg":"success","Resp":${resp}}`);
const BIG = '391504480090022123'; // > 2^53: JSON.parse would round it

describe('parseSubmit: create answers of every endpoint', () => {
  const table: [
    string,
    string,
    'video' | 'image' | 'music',
    { upstreamId: string; credits: number | null },
  ][] = [
    [
      'text/img/transition/extend/lip sync (video_id only)',
      '{"video_id":391504480090022}',
      'video',
      { upstreamId: '391504480090022', credits: null },
    ],
    [
      'text (LiteLLM mock: credits)',
      '{"video_id":391504480090022,"credits":45}',
      'video',
      { upstreamId: '391504480090022', credits: 45 },
    ],
    [
      'restyle / multi-transition / swap (credits)',
      `{"video_id":${BIG},"credits":120}`,
      'video',
      { upstreamId: BIG, credits: 120 },
    ],
    [
      'mimic (credit, singular)',
      `{"video_id":${BIG},"credit":96}`,
      'video',
      { upstreamId: BIG, credits: 96 },
    ],
    [
      'image template (image_id, credit)',
      `{"image_id":${BIG},"credit":10}`,
      'image',
      { upstreamId: BIG, credits: 10 },
    ],
    [
      'music (audio_id)',
      '{"audio_id":629000000000000023,"credits":10}',
      'music',
      { upstreamId: '629000000000000023', credits: 10 },
    ],
    [
      'id as a string',
      '{"video_id":"629000000000000005"}',
      'video',
      { upstreamId: '629000000000000005', credits: null },
    ],
    ['credits as a string', '{"video_id":5,"credits":"45"}', 'video', { upstreamId: '5', credits: 45 }],
  ];
  for (const [label, resp, type, expected] of table) {
    it(label, () => assert.deepEqual(parseSubmit(ok(resp), type, '/x'), expected));
  }

  it("prefers the id field of the job's type", () => {
    assert.equal(parseSubmit(ok('{"video_id":1,"image_id":2}'), 'image', '/x').upstreamId, '2');
    assert.equal(parseSubmit(ok('{"id":3}'), 'video', '/x').upstreamId, '3');
  });

  it('success without a usable id is transient and maybeSubmitted', () => {
    for (const resp of ['{}', '{"video_id":""}', '{"video_id":"abc"}', '{"video_id":-4}', '{"credits":45}']) {
      assert.throws(
        () => parseSubmit(ok(resp), 'video', '/video/text/generate'),
        (e: unknown) => e instanceof UpstreamError && e.errorClass === 'transient' && e.maybeSubmitted,
        resp,
      );
    }
  });
});

describe('parseCatalog: catalogue answers', () => {
  it('tts_list (docs example shape)', () => {
    const page = parseCatalog(
      ok('{"total":15,"data":[{"speaker_id":"7","name":"Harper"},{"speaker_id":"Auto","name":"Auto"}]}'),
      '/t',
    );
    assert.deepEqual(page, {
      total: 15,
      items: [
        { speaker_id: '7', name: 'Harper' },
        { speaker_id: 'Auto', name: 'Auto' },
      ],
    });
  });

  it('templates list: effect_items with int64 template ids', () => {
    const page = parseCatalog(
      ok(
        `{"effect_items":[{"template_id":${BIG},"display_name":"Hug","effect_type":"2","template_type":1,"qualities":["540p","720p"],"duration":5}]}`,
      ),
      '/t',
    );
    assert.equal(page.total, null);
    assert.deepEqual(page.items[0], {
      template_id: BIG,
      display_name: 'Hug',
      effect_type: '2',
      template_type: 1,
      qualities: ['540p', '720p'],
      duration: 5,
    });
    assert.deepEqual(parseCatalog(ok('{"effect_items":[]}'), '/t'), { items: [], total: null });
  });

  it('restyle list, generic list names, junk entries dropped', () => {
    const restyles = parseCatalog(
      ok(`{"total":"2","data":[{"restyle_id":${BIG},"restyle_name":"Clay"},null,3,"x"]}`),
      '/t',
    );
    assert.deepEqual(restyles, { total: 2, items: [{ restyle_id: BIG, restyle_name: 'Clay' }] });
    assert.equal(parseCatalog(ok('{"items":[{"a":1}]}'), '/t').items.length, 1);
    assert.equal(parseCatalog(ok('{"list":[{"a":1}],"total":1}'), '/t').total, 1);
  });

  it('an answer without a list is transient', () => {
    assert.throws(
      () => parseCatalog(ok('{"total":3}'), '/video/restyle/list'),
      (e: unknown) => e instanceof UpstreamError && e.errorClass === 'transient',
    );
    assert.throws(() => parseCatalog(ok('{"data":{"a":1}}'), '/x'), UpstreamError);
  });
});

describe('balance, uploads and results', () => {
  it('balance with a numeric, string or big account_id', () => {
    assert.deepEqual(
      parseBalance(ok('{"account_id":"123452341","credit_monthly":1069020,"credit_package":3630}')),
      {
        accountId: '123452341',
        creditMonthly: 1069020,
        creditPackage: 3630,
      },
    );
    assert.equal(
      parseBalance(ok(`{"account_id":${BIG},"credit_monthly":0,"credit_package":0}`)).accountId,
      BIG,
    );
    assert.deepEqual(parseBalance(ok('{}')), { accountId: '', creditMonthly: 0, creditPackage: 0 });
  });

  it('uploads: img_id/img_url and media_id/media_type/url; a missing id is transient', () => {
    assert.deepEqual(parseImageUpload(ok(`{"img_id":${BIG},"img_url":"https://media.pixverse.ai/u.png"}`)), {
      id: BIG,
      url: 'https://media.pixverse.ai/u.png',
      mediaType: 'image',
    });
    assert.deepEqual(
      parseMediaUpload(ok(`{"media_id":${BIG},"media_type":"audio","url":"https://m/a.mp3"}`), 'video'),
      { id: BIG, url: 'https://m/a.mp3', mediaType: 'audio' },
    );
    assert.equal(parseMediaUpload(ok('{"media_id":1,"url":"u"}'), 'video').mediaType, 'video');
    assert.throws(() => parseImageUpload(ok('{"img_id":"629000000000000001"}')), UpstreamError);
  });

  it('a deleted video (status 6) and an edit result with a big id', () => {
    const r = toStatusResult(ok(`{"id":${BIG},"status":6,"url":"","outputWidth":0,"outputHeight":0}`));
    assert.deepEqual([r.state, r.code, r.url, r.raw.id], ['deleted', 6, null, BIG]);
    const done = toStatusResult(
      ok(
        `{"id":${BIG},"status":"1","url":"https://media.pixverse.ai/v.mp4","size":10.5,"has_audio":true,"template_id":302325299692608}`,
      ),
    );
    assert.deepEqual(
      [done.state, done.raw.size, done.raw.template_id],
      ['completed', 10.5, '302325299692608'],
    );
  });
});

describe('request bodies of the newer operations', () => {
  it('writes every id field (top level, arrays, nested objects) as a JSON integer; strings stay strings', () => {
    const body = stringifyLossless({
      source_video_id: BIG,
      video_media_id: '629000000000000002',
      audio_media_id: '629000000000000003',
      restyle_id: '331000000000101',
      first_frame_img: BIG,
      last_frame_img: '5',
      img_ids: [BIG],
      image_references: [{ type: 'subject', img_id: BIG, ref_name: 'hero' }],
      multi_transition: [{ img_id: BIG, duration: 5, prompt: 'p' }, { img_id: '7' }],
      mask_id: 'mask-1-0',
      mask_ids: ['3'],
      lip_sync_tts_speaker_id: '7',
      keyframe_id: 12,
    });
    assert.equal(
      body,
      `{"source_video_id":${BIG},"video_media_id":629000000000000002,"audio_media_id":629000000000000003,"restyle_id":331000000000101,` +
        `"first_frame_img":${BIG},"last_frame_img":5,"img_ids":[${BIG}],"image_references":[{"type":"subject","img_id":${BIG},"ref_name":"hero"}],` +
        `"multi_transition":[{"img_id":${BIG},"duration":5,"prompt":"p"},{"img_id":7}],"mask_id":"mask-1-0","mask_ids":["3"],` +
        '"lip_sync_tts_speaker_id":"7","keyframe_id":12}',
    );
  });
});
