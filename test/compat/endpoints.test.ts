/**
 * Every useapi job endpoint end to end: gateway → recording proxy → simulator. Each round trip
 * checks what the client sees (200 with an id, the job completes, GET shows it) and the exact
 * Platform body the gateway sent; bad combinations answer 400 naming the field and send nothing
 * upstream. Operations on an existing id run on the id's account (403/404/400 otherwise).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, waitFor } from '../helpers/harness.ts';
import { Receiver } from '../callbacks/receiver.ts';
import { P, startCompatHarness, tenant, type CompatHarness, type Tenant } from './harness.ts';

/** Effect templates of the simulator's catalogue (src/providers/pixverse/simulator/presets.ts). */
const MUSCLE = '302325299692608'; // 1 image, all qualities
const HUG = '302325299692611'; // 2 images
const FAMILY = '302325299692626'; // 3 images
const VENOM = '302325299692617'; // 1 image, 8 s
const EARTH_ZOOM = '302325299692623'; // 1 image, 360p/540p only
const RESTYLE_ANIME = '331000000000101';

const idOf = (path: string) => path.split(':')[2]!;
const upstreamOf = (videoId: string) => videoId.slice(videoId.lastIndexOf(':') + 1);

describe('compat job endpoints', () => {
  let h: CompatHarness;
  let t: Tenant;
  let receiver: Receiver;
  const files = { img1: '', img2: '', img3: '', imgB: '', video: '', audio: '', videoB: '' };
  let source = ''; // a completed video on a@x.com
  let sourceB = ''; // a completed video on b@x.com

  before(async () => {
    receiver = await Receiver.start();
    h = await startCompatHarness({}, { callbackAllowlist: ['127.0.0.0/8'], callbackTimeoutMs: 2_000 });
    t = await tenant(h, 'ops', [
      ['a@x.com', 8],
      ['b@x.com', 8],
    ]);
    files.img1 = await t.upload('image', 'a@x.com');
    files.img2 = await t.upload('image', 'a@x.com');
    files.img3 = await t.upload('image', 'a@x.com');
    files.imgB = await t.upload('image', 'b@x.com');
    files.video = await t.upload('video', 'a@x.com');
    files.videoB = await t.upload('video', 'b@x.com');
    files.audio = await t.upload('audio', 'a@x.com');
    source = await t.create('/videos/create', { prompt: 'a source clip', model: 'v5', email: 'a@x.com' });
    sourceB = await t.create('/videos/create', { prompt: 'another source', model: 'v6', email: 'b@x.com' });
    assert.equal((await t.settled(source)).video_status_name, 'COMPLETED');
    assert.equal((await t.settled(sourceB)).video_status_name, 'COMPLETED');
  });
  after(async () => {
    await h?.close();
    await receiver?.down();
  });

  /** Posts, expects 200 {video_id}, waits for completion, and returns the view and the Platform body. */
  async function roundTrip(
    path: string,
    body: Record<string, unknown>,
    platformPath: string,
    key = 'video_id',
  ) {
    const before = h.proxy.posted(platformPath).length;
    const res = await t.api('POST', `${P}${path}`, body);
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
    assert.deepEqual(Object.keys(res.body), [key]);
    const id = res.body[key] as string;
    const view = await t.settled(id);
    assert.equal(view.video_status_name, 'COMPLETED', JSON.stringify(view));
    assert.equal(view.video_id, id);
    assert.match(
      view.url,
      /^http:\/\/127\.0\.0\.1:\d+\/media\/video\/sim-\d+\.mp4$/,
      'the simulator serves the result itself',
    );
    const sent = h.proxy.posted(platformPath);
    assert.equal(sent.length, before + 1, `exactly one create reached ${platformPath}`);
    const last = sent[sent.length - 1]!;
    assert.equal(last.apiKey, t.keys[view.email], 'the job ran with the key of the account it reports');
    return { id, view, sent: last.body as Record<string, any>, text: last.text };
  }

  /** Expects a 400 naming the field, with nothing POSTed upstream. */
  async function refused(path: string, body: Record<string, unknown>, error: RegExp, status = 400) {
    const before = h.proxy.received.filter((r) => r.method === 'POST').length;
    const res = await t.api('POST', `${P}${path}`, body);
    assert.equal(res.status, status, `${path} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.code, status);
    assert.match(res.body.error, error);
    assert.equal(
      h.proxy.received.filter((r) => r.method === 'POST').length,
      before,
      'nothing was sent to PixVerse',
    );
  }

  describe('POST /videos/create with effect templates and audio add-ons', () => {
    it('one-image template → video.img with template_id and img_id (no model from the client)', async () => {
      const { view, sent, text } = await roundTrip(
        '/videos/create',
        { template_id: Number(MUSCLE), first_frame_path: files.img1 },
        '/video/img/generate',
      );
      assert.deepEqual(sent, {
        template_id: Number(MUSCLE),
        prompt: '',
        model: 'v5',
        duration: 5,
        quality: '540p',
        img_id: Number(idOf(files.img1)),
      });
      assert.match(
        text,
        new RegExp(`"template_id":${MUSCLE}\\b`),
        'template_id is a JSON integer on the wire',
      );
      assert.equal(view.email, 'a@x.com');
    });

    it('two-image template with first_frame_path + last_frame_path → img_ids', async () => {
      const { sent } = await roundTrip(
        '/videos/create',
        { template_id: HUG, first_frame_path: files.img1, last_frame_path: files.img2, quality: '720p' },
        '/video/img/generate',
      );
      assert.deepEqual(sent['img_ids'], [Number(idOf(files.img1)), Number(idOf(files.img2))]);
      assert.equal(sent['img_id'], undefined);
      assert.equal(sent['quality'], '720p');
    });

    it('multi-input template with frame_1_path…frame_3_path → img_ids', async () => {
      const { sent } = await roundTrip(
        '/videos/create',
        {
          template_id: FAMILY,
          frame_1_path: files.img1,
          frame_2_path: files.img2,
          frame_3_path: files.img3,
          auto_sound: true,
          sound_effect_prompt: 'cheering',
        },
        '/video/img/generate',
      );
      assert.deepEqual(
        sent['img_ids'],
        [files.img1, files.img2, files.img3].map((p) => Number(idOf(p))),
      );
      assert.equal(sent['sound_effect_switch'], true);
      assert.equal(sent['sound_effect_content'], 'cheering');
    });

    it('template without images → video.text with template_id and aspect_ratio', async () => {
      const { sent, view } = await roundTrip(
        '/videos/create',
        { template_id: VENOM, aspect_ratio: '9:16', prompt: 'go', email: 'b@x.com' },
        '/video/text/generate',
      );
      assert.deepEqual(sent, {
        template_id: Number(VENOM),
        prompt: 'go',
        model: 'v5',
        duration: 5,
        quality: '540p',
        aspect_ratio: '9:16',
      });
      assert.equal(view.email, 'b@x.com');
    });

    it('lip-sync TTS and sound effects on a v5 generation; native audio on v6', async () => {
      const legacy = await roundTrip(
        '/videos/create',
        {
          prompt: 'a singer',
          model: 'v5',
          lip_sync_tts_prompt: 'hello there',
          lip_sync_tts_speaker_id: '2',
          auto_sound: true,
        },
        '/video/text/generate',
      );
      assert.equal(legacy.sent['lip_sync_tts_switch'], true);
      assert.equal(legacy.sent['lip_sync_tts_content'], 'hello there');
      assert.equal(legacy.sent['lip_sync_tts_speaker_id'], '2');
      assert.equal(legacy.sent['sound_effect_switch'], true);
      const modern = await roundTrip(
        '/videos/create',
        { prompt: 'a storm', model: 'v6', audio: true, duration: 3 },
        '/video/text/generate',
      );
      assert.equal(modern.sent['generate_audio_switch'], true);
      assert.equal(modern.view.duration, 3);
    });

    it('bad combinations answer 400 naming the field', async () => {
      await refused(
        '/videos/create',
        { template_id: MUSCLE, model: 'v6', first_frame_path: files.img1 },
        /model must not be sent with template_id/,
      );
      await refused(
        '/videos/create',
        { prompt: 'x', frame_1_path: files.img1, frame_2_path: files.img2 },
        /frame_1_path needs template_id/,
      );
      await refused(
        '/videos/create',
        { prompt: 'x', first_frame_path: files.img1, last_frame_path: files.img2 },
        /last_frame_path[\s\S]*create-frames/,
      );
      await refused(
        '/videos/create',
        { template_id: HUG, first_frame_path: files.img1, last_frame_path: files.imgB },
        /last_frame_path[\s\S]*b@x\.com/,
      );
      await refused('/videos/create', { prompt: 'x', model: 'v6', auto_sound: true }, /auto_sound/);
      await refused(
        '/videos/create',
        { prompt: 'x', model: 'v6', lip_sync_tts_prompt: 'hi' },
        /lip_sync_tts_prompt[\s\S]*v5/,
      );
      await refused(
        '/videos/create',
        { prompt: 'x', off_peak_mode: true },
        /off_peak_mode[\s\S]*Platform API/,
      );
      await refused('/videos/create', { prompt: 'x', preview_mode: true }, /preview_mode[\s\S]*Platform API/);
      await refused('/videos/create', { template_id: 'abc' }, /template_id/);
      await refused(
        '/videos/create',
        { template_id: 2 ** 60, first_frame_path: files.img1 },
        /template_id must be <= 9007199254740991/,
      );
      await refused('/videos/create', { prompt: 'x', model: 'veo-3.1-fast' }, /veo-3\.1-fast[\s\S]*web app/);
    });

    it("a template's own rules are PixVerse's: a 400 that spends no credit", async () => {
      const credits = async () => (await t.api('GET', `${P}/features?email=a@x.com`)).body;
      const before = await credits();
      const wrongCount = await t.api('POST', `${P}/videos/create`, {
        template_id: HUG,
        first_frame_path: files.img1,
      });
      assert.equal(wrongCount.status, 400, JSON.stringify(wrongCount.body));
      assert.match(wrongCount.body.error, /img_ids|image/);
      const wrongQuality = await t.api('POST', `${P}/videos/create`, {
        template_id: EARTH_ZOOM,
        first_frame_path: files.img1,
        quality: '1080p',
      });
      assert.equal(wrongQuality.status, 400, JSON.stringify(wrongQuality.body));
      assert.match(wrongQuality.body.error, /720p\/1080p|quality/);
      const after = await credits();
      assert.equal(
        after.credit_monthly + after.credit_package,
        before.credit_monthly + before.credit_package,
      );
    });
  });

  describe('POST /videos/create-frames', () => {
    it('first + last frame → video.transition', async () => {
      const { sent, view } = await roundTrip(
        '/videos/create-frames',
        {
          first_frame_path: files.img1,
          last_frame_path: files.img2,
          prompt: 'morph',
          model: 'v5.6',
          duration: 8,
          seed: 42,
        },
        '/video/transition/generate',
      );
      assert.deepEqual(sent, {
        prompt: 'morph',
        model: 'v5.6',
        duration: 8,
        quality: '540p',
        first_frame_img: Number(idOf(files.img1)),
        last_frame_img: Number(idOf(files.img2)),
        seed: 42,
      });
      assert.equal(view.model, 'v5.6');
      assert.equal(view.seed, 42);
    });
    it('bad combinations', async () => {
      await refused(
        '/videos/create-frames',
        { first_frame_path: files.img1, prompt: 'x' },
        /last_frame_path is required/,
      );
      await refused(
        '/videos/create-frames',
        { first_frame_path: files.img1, last_frame_path: files.imgB, prompt: 'x' },
        /last_frame_path[\s\S]*b@x\.com/,
      );
      await refused(
        '/videos/create-frames',
        {
          first_frame_path: files.img1,
          last_frame_path: files.img2,
          prompt: 'x',
          model: 'v5.6',
          duration: 15,
        },
        /duration must be one of 5, 8, 10/,
      );
      await refused(
        '/videos/create-frames',
        { first_frame_path: files.img1, last_frame_path: files.video, prompt: 'x' },
        /last_frame_path must be an uploaded image/,
      );
      await refused(
        '/videos/create-frames',
        { first_frame_path: files.img1, last_frame_path: files.img2 },
        /prompt is required/,
      );
      await refused(
        '/videos/create-frames',
        { first_frame_path: files.img1, last_frame_path: files.img2, prompt: 'x', aspect_ratio: '1:1' },
        /unknown field "aspect_ratio"/,
      );
    });
  });

  describe('POST /videos/create-transition', () => {
    it('frames with per-segment durations and prompts → video.multi_transition', async () => {
      const { sent, view } = await roundTrip(
        '/videos/create-transition',
        {
          frame_1_path: files.img1,
          frame_2_path: files.img2,
          frame_3_path: files.img3,
          duration_1_to_2: 2,
          duration_2_to_3: 4,
          prompt_1_to_2: 'zoom',
          quality: '360p',
        },
        '/video/multi_transition/generate',
      );
      assert.deepEqual(sent, {
        model: 'v5',
        quality: '360p',
        multi_transition: [
          { img_id: Number(idOf(files.img1)), duration: 2, prompt: 'zoom' },
          { img_id: Number(idOf(files.img2)), duration: 4 },
          { img_id: Number(idOf(files.img3)) },
        ],
      });
      assert.equal(view.quality, '360p');
    });
    it('bad combinations', async () => {
      await refused('/videos/create-transition', { frame_1_path: files.img1 }, /frame_2_path is required/);
      await refused(
        '/videos/create-transition',
        { frame_1_path: files.img1, frame_2_path: files.img2, frame_3_path: files.img3, duration_1_to_2: 8 },
        /duration_1_to_2 must be 1…5 seconds with 3 frames/,
      );
      await refused(
        '/videos/create-transition',
        { frame_1_path: files.img1, frame_2_path: files.img2, duration_1_to_2: 9 },
        /duration_1_to_2 must be <= 8/,
      );
      await refused(
        '/videos/create-transition',
        { frame_1_path: files.img1, frame_2_path: files.img2, model: 'v5.6' },
        /model must be one of: v3\.5, v4, v4\.5, v5/,
      );
      await refused(
        '/videos/create-transition',
        { frame_1_path: files.img1, frame_2_path: files.img2, audio: true },
        /audio[\s\S]*keyframe transitions/,
      );
      await refused(
        '/videos/create-transition',
        { frame_1_path: files.img1, frame_3_path: files.img3 },
        /frame_3_path is sent without frame_2_path/,
      );
      await refused(
        '/videos/create-transition',
        { frame_1_path: files.img1, frame_2_path: files.img2, frame_8_path: files.img3 },
        /unknown field "frame_8_path"/,
      );
    });
  });

  describe('POST /videos/create-fusion', () => {
    it('frame_N_path → image_references image1…N, the prompt naming each', async () => {
      const { sent } = await roundTrip(
        '/videos/create-fusion',
        {
          frame_1_path: files.img1,
          frame_2_path: files.img2,
          prompt: '@image1 dances with @image2',
          model: 'v6',
          duration: 4,
          audio: true,
        },
        '/video/fusion/generate',
      );
      assert.deepEqual(sent, {
        prompt: '@image1 dances with @image2 ',
        model: 'v6',
        duration: 4,
        quality: '720p',
        aspect_ratio: '16:9',
        image_references: [
          { type: 'subject', img_id: Number(idOf(files.img1)), ref_name: 'image1' },
          { type: 'subject', img_id: Number(idOf(files.img2)), ref_name: 'image2' },
        ],
        generate_audio_switch: true,
      });
    });
    it('bad combinations', async () => {
      await refused(
        '/videos/create-fusion',
        { frame_1_path: files.img1, frame_2_path: files.img2, prompt: '@image1 alone' },
        /@image2/,
      );
      await refused(
        '/videos/create-fusion',
        { frame_1_path: files.img1, prompt: '@image1 and @image2' },
        /@image2[\s\S]*1 image was sent/,
      );
      const four = {
        frame_1_path: files.img1,
        frame_2_path: files.img2,
        frame_3_path: files.img3,
        frame_4_path: files.img1,
        prompt: '@image1 @image2 @image3 @image4',
      };
      await refused('/videos/create-fusion', { ...four, model: 'v5' }, /frame_4_path[\s\S]*at most 3/);
      await refused(
        '/videos/create-fusion',
        { frame_1_path: files.img1, prompt: '@image1', video_1_path: files.video },
        /video_1_path[\s\S]*Seedance/,
      );
      await refused(
        '/videos/create-fusion',
        { frame_1_path: files.img1, prompt: '@image1', model: 'v5.5', audio: true },
        /audio needs model v5\.6, v6, c1/,
      );
    });
  });

  describe('operations on an existing video', () => {
    it('extend by video_id runs on the source account with source_video_id', async () => {
      const { sent, view } = await roundTrip(
        '/videos/extend',
        { video_id: sourceB, prompt: 'keep going', model: 'v6', duration: 3 },
        '/video/extend/generate',
      );
      assert.deepEqual(sent, {
        prompt: 'keep going',
        model: 'v6',
        duration: 3,
        quality: '720p',
        source_video_id: Number(upstreamOf(sourceB)),
      });
      assert.equal(view.email, 'b@x.com');
    });

    it('extend accepts a percent-encoded video_id, and a video_path from POST /files', async () => {
      const byEncoded = await roundTrip(
        '/videos/extend',
        { video_id: encodeURIComponent(source), prompt: 'more', model: 'v5' },
        '/video/extend/generate',
      );
      assert.equal(byEncoded.sent['source_video_id'], Number(upstreamOf(source)));
      const byPath = await roundTrip(
        '/videos/extend',
        { video_path: files.videoB, prompt: 'more', model: 'v5.5', duration: 10, quality: '720p' },
        '/video/extend/generate',
      );
      assert.equal(byPath.sent['video_media_id'], Number(idOf(files.videoB)));
      assert.equal(byPath.view.email, 'b@x.com');
    });

    it('modify → video.modify', async () => {
      const { sent } = await roundTrip(
        '/videos/modify',
        { video_id: source, prompt: 'make it night', quality: '360p', seed: 9 },
        '/video/modify/generate',
      );
      assert.deepEqual(sent, {
        prompt: 'make it night',
        quality: '360p',
        seed: 9,
        source_video_id: Number(upstreamOf(source)),
      });
    });

    it('restyle by preset and by prompt → video.restyle', async () => {
      const preset = await roundTrip(
        '/videos/restyle',
        { video_id: source, restyle_id: RESTYLE_ANIME },
        '/video/restyle/generate',
      );
      assert.deepEqual(preset.sent, {
        restyle_id: Number(RESTYLE_ANIME),
        source_video_id: Number(upstreamOf(source)),
      });
      const prompt = await roundTrip(
        '/videos/restyle',
        { video_path: files.video, prompt: 'watercolor' },
        '/video/restyle/generate',
      );
      assert.deepEqual(prompt.sent, {
        video_media_id: Number(idOf(files.video)),
        restyle_prompt: 'watercolor',
      });
    });

    it('lipsync with an uploaded audio_path, or with TTS prompt + speaker_id', async () => {
      const audio = await roundTrip(
        '/videos/lipsync',
        { video_id: source, audio_path: files.audio, original_sound_switch: true },
        '/video/lip_sync/generate',
      );
      assert.deepEqual(audio.sent, {
        audio_media_id: Number(idOf(files.audio)),
        original_sound_switch: true,
        source_video_id: Number(upstreamOf(source)),
      });
      const tts = await roundTrip(
        '/videos/lipsync',
        { video_path: files.video, prompt: 'Welcome aboard', speaker_id: '7' },
        '/video/lip_sync/generate',
      );
      assert.deepEqual(tts.sent, {
        video_media_id: Number(idOf(files.video)),
        lip_sync_tts_content: 'Welcome aboard',
        lip_sync_tts_speaker_id: '7',
      });
    });

    it('motion-control: frame_1_path image + video_1_path video → video.mimic', async () => {
      const { sent } = await roundTrip(
        '/videos/motion-control',
        { frame_1_path: files.img1, video_1_path: files.video, quality: '540p' },
        '/video/mimic/generate',
      );
      assert.deepEqual(sent, {
        img_id: Number(idOf(files.img1)),
        video_media_id: Number(idOf(files.video)),
        quality: '540p',
      });
    });

    it('upscale a completed video on its account', async () => {
      const { sent, view } = await roundTrip(
        '/videos/upscale',
        { video_id: sourceB },
        '/video/upscale/generate',
      );
      assert.deepEqual(sent, { source_video_id: Number(upstreamOf(sourceB)) });
      assert.equal(view.email, 'b@x.com');
    });

    it('ids: another tenant → 403, unknown → 404, not completed → 400, wrong account → 400', async () => {
      const other = await tenant(h, 'other', [['o@x.com', 2]]);
      const foreign = await other.create('/videos/create', { prompt: 'mine' });
      await refused('/videos/upscale', { video_id: foreign }, /Unauthorized access to user:/, 403);
      await refused(
        '/videos/extend',
        { video_id: `user:${t.userId}-pixverse:a@x.com-video:999999999999999`, prompt: 'x' },
        /Video .* not found/,
        404,
      );
      const running = await t.create('/videos/create', {
        prompt: 'slow #sim:duration=60000',
        email: 'a@x.com',
      });
      await refused('/videos/upscale', { video_id: running }, /GENERATING[\s\S]*COMPLETED/);
      await refused(
        '/videos/lipsync',
        { video_id: source, audio_path: files.audio, email: 'b@x.com' },
        /audio_path[\s\S]*a@x\.com/,
      );
      await refused(
        '/videos/extend',
        { video_id: source, prompt: 'x', email: 'b@x.com' },
        /video_id[\s\S]*a@x\.com[\s\S]*b@x\.com/,
      );
      await refused(
        '/videos/lipsync',
        { video_id: sourceB, audio_path: files.audio },
        /video_id[\s\S]*b@x\.com[\s\S]*a@x\.com/,
      );
      await refused(
        '/videos/upscale',
        { video_id: source.replace('-video:', '-image:') },
        /image id, not a video id/,
      );
      const failed = await t.create('/videos/create', { prompt: 'doomed #sim:fail', email: 'a@x.com' });
      assert.equal((await t.settled(failed)).video_status_name, 'FAILED');
      await refused('/videos/extend', { video_id: failed, prompt: 'x' }, /FAILED[\s\S]*COMPLETED/);
      await t.api('DELETE', `${P}/scheduler/${encodeURIComponent(running)}`);
    });

    it('bad combinations', async () => {
      await refused(
        '/videos/extend',
        { video_id: source, video_path: files.video, prompt: 'x' },
        /either video_id or video_path/,
      );
      await refused('/videos/extend', { prompt: 'x' }, /video_id or video_path is required/);
      await refused(
        '/videos/extend',
        { video_path: files.img1, prompt: 'x' },
        /video_path must be an uploaded video/,
      );
      await refused(
        '/videos/extend',
        { video_id: source, prompt: 'x', model: 'v5', audio: true },
        /audio needs model/,
      );
      await refused(
        '/videos/modify',
        { video_id: source, prompt: 'x', quality: '1080p' },
        /quality must be one of: 360p, 540p, 720p/,
      );
      await refused('/videos/modify', { video_id: source }, /prompt is required/);
      await refused(
        '/videos/restyle',
        { video_id: source, restyle_id: RESTYLE_ANIME, prompt: 'x' },
        /either restyle_id or prompt/,
      );
      await refused('/videos/restyle', { video_id: source, model: 'v5' }, /model must be one of: v4/);
      await refused('/videos/lipsync', { video_id: source }, /audio_path or prompt is required/);
      await refused('/videos/lipsync', { video_id: source, prompt: 'hi' }, /speaker_id is required/);
      await refused(
        '/videos/lipsync',
        { video_id: source, prompt: 'x'.repeat(201), speaker_id: '1' },
        /prompt must be at most 200/,
      );
      await refused(
        '/videos/lipsync',
        { video_id: source, audio_path: files.video },
        /audio_path must be an uploaded audio/,
      );
      await refused(
        '/videos/motion-control',
        { frame_1_path: files.img1, video_1_path: files.video, quality: '1080p' },
        /quality must be one of: 360p, 540p, 720p/,
      );
      await refused(
        '/videos/motion-control',
        { frame_1_path: files.img1, video_1_path: files.videoB },
        /video_1_path[\s\S]*b@x\.com/,
      );
      await refused('/videos/motion-control', { frame_1_path: files.img1 }, /video_1_path is required/);
      await refused('/videos/upscale', {}, /video_id is required/);
      await refused('/videos/upscale', { video_id: source, off_peak_mode: true }, /off_peak_mode/);
    });
  });

  describe('scheduler features apply to the new endpoints', () => {
    it('a queued operation gets a queue id, completes on the source account and calls back', async () => {
      const res = await t.api('POST', `${P}/videos/upscale`, {
        video_id: source,
        queue: true,
        replyUrl: receiver.url,
        replyRef: 'up-1',
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const id = res.body.video_id as string;
      assert.match(id, /-video:q\d+$/);
      const view = await t.settled(id);
      assert.equal(view.video_status_name, 'COMPLETED');
      assert.equal(view.email, 'a@x.com');
      const hook = await waitFor(
        async () => receiver.received.find((r) => r.body.includes('"up-1"')) ?? null,
      );
      const payload = JSON.parse(hook.body);
      assert.equal(payload.video_id ?? payload.response?.video_id, id);
    });

    it('the executing list shows a running operation', async () => {
      const id = await t.create('/videos/modify', {
        video_path: files.video,
        prompt: 'slow edit #sim:duration=60000',
      });
      const list = await t.api('GET', `${P}/scheduler`);
      assert.ok(
        list.body.some((item: { id: string }) => item.id === id),
        JSON.stringify(list.body),
      );
      const cancelled = await call(h.url, 'DELETE', `${P}/scheduler/${encodeURIComponent(id)}`, t.token);
      assert.equal(cancelled.status, 204);
    });
  });
});
