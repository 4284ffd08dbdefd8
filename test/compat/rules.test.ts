/**
 * Unit tests of the pure useapi → Platform mappers and their model rules (no HTTP): what each
 * accepted body becomes, and that each bad combination is a 400 naming the field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GatewayError } from '../../src/domain/errors.ts';
import { mapCreateFrames } from '../../src/providers/pixverse/compat/createFrames.ts';
import { mapCreateFusion } from '../../src/providers/pixverse/compat/createFusion.ts';
import { mapCreateTransition } from '../../src/providers/pixverse/compat/createTransition.ts';
import {
  effectView,
  pagesFor,
  restyleView,
  voiceView,
} from '../../src/providers/pixverse/compat/catalogView.ts';
import { mapMotionControl } from '../../src/providers/pixverse/compat/motionControl.ts';
import { fusionPrompt } from '../../src/providers/pixverse/compat/rules/fusion.ts';
import { segmentDurations, segmentMax } from '../../src/providers/pixverse/compat/rules/multiTransition.ts';
import { mapVideoCreate } from '../../src/providers/pixverse/compat/videoCreate.ts';
import { mapVideoExtend } from '../../src/providers/pixverse/compat/videoExtend.ts';
import { mapVideoLipsync } from '../../src/providers/pixverse/compat/videoLipsync.ts';
import { mapVideoModify } from '../../src/providers/pixverse/compat/videoModify.ts';
import { mapVideoRestyle } from '../../src/providers/pixverse/compat/videoRestyle.ts';
import { mapVideoUpscale } from '../../src/providers/pixverse/compat/videoUpscale.ts';

const img = (id: number, email = 'a@x.com') => `pixgate:image:${id}:${email}`;
const vid = (id: number, email = 'a@x.com') => `pixgate:video:${id}:${email}`;
const aud = (id: number, email = 'a@x.com') => `pixgate:audio:${id}:${email}`;
const VIDEO_ID = 'user:7-pixverse:a@x.com-video:123456789012345';

/** Asserts `fn` throws a 400 whose message matches `pattern`. */
function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof GatewayError, `not a GatewayError: ${String(err)}`);
    assert.equal(err.status, 400, err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('POST /videos/create mapping', () => {
  it('keeps plain text- and image-to-video as before', () => {
    assert.deepEqual(mapVideoCreate({ prompt: ' a fox ' }), {
      upstream: {
        op: 'video.text',
        params: { prompt: 'a fox', model: 'v6', duration: 5, quality: '720p', aspect_ratio: '16:9' },
      },
      email: null,
    });
    const i2v = mapVideoCreate({ prompt: 'x', model: 'v5', first_frame_path: img(11) });
    assert.deepEqual(i2v.upstream, {
      op: 'video.img',
      params: { prompt: 'x', model: 'v5', duration: 5, quality: '540p', img_id: '11' },
    });
    assert.equal(i2v.email, 'a@x.com');
  });

  it('maps an effect template with one image, two images (first + last) and a multi-input set', () => {
    const one = mapVideoCreate({ template_id: 302325299692608, first_frame_path: img(1) });
    assert.equal(one.upstream.op, 'video.img');
    assert.deepEqual(one.upstream.params, {
      template_id: '302325299692608',
      prompt: '',
      model: 'v5',
      duration: 5,
      quality: '540p',
      img_id: '1',
    });
    const two = mapVideoCreate({
      template_id: '302325299692611',
      first_frame_path: img(1),
      last_frame_path: img(2),
      quality: '720p',
    });
    assert.deepEqual(two.upstream.params['img_ids'], ['1', '2']);
    assert.equal(two.upstream.params['img_id'], undefined);
    assert.equal(two.upstream.params['quality'], '720p');
    const three = mapVideoCreate({
      template_id: 5,
      frame_1_path: img(1),
      frame_2_path: img(2),
      frame_3_path: img(3),
    } as never);
    assert.deepEqual(three.upstream.params['img_ids'], ['1', '2', '3']);
  });

  it("maps a template without images to text-to-video; duration is the template's", () => {
    const text = mapVideoCreate({
      template_id: 9,
      prompt: 'hi',
      duration: 8,
      aspect_ratio: '9:16',
      auto_sound: true,
    });
    assert.equal(text.upstream.op, 'video.text');
    assert.deepEqual(text.upstream.params, {
      template_id: '9',
      prompt: 'hi',
      model: 'v5',
      duration: 5,
      quality: '540p',
      sound_effect_switch: true,
      aspect_ratio: '9:16',
    });
  });

  it('refuses bad template combinations, naming the field', () => {
    rejects(() => mapVideoCreate({ template_id: 9, model: 'v5' }), /model must not be sent with template_id/);
    rejects(() => mapVideoCreate({ template_id: 9, motion_mode: 'fast' }), /motion_mode/);
    rejects(() => mapVideoCreate({ template_id: 9, multi_shot: true }), /multi_shot/);
    rejects(() => mapVideoCreate({ template_id: 9, audio: true }), /audio[\s\S]*auto_sound/);
    rejects(() => mapVideoCreate({ template_id: 9, aspect_ratio: '21:9' }), /aspect_ratio/);
    rejects(
      () => mapVideoCreate({ template_id: 9, first_frame_path: img(1), aspect_ratio: '1:1' }),
      /aspect_ratio/,
    );
    rejects(() => mapVideoCreate({ template_id: 9, frame_1_path: img(1) } as never), /frame_2_path/);
    rejects(
      () => mapVideoCreate({ template_id: 9, frame_1_path: img(1), frame_3_path: img(3) } as never),
      /frame_3_path[\s\S]*frame_2_path/,
    );
    rejects(
      () =>
        mapVideoCreate({
          template_id: 9,
          frame_1_path: img(1),
          frame_2_path: img(2),
          first_frame_path: img(3),
        } as never),
      /frame_1_path[\s\S]*first_frame_path/,
    );
    rejects(
      () => mapVideoCreate({ template_id: 9, first_frame_path: img(1), last_frame_path: img(2, 'b@x.com') }),
      /last_frame_path[\s\S]*b@x\.com|a@x\.com/,
    );
    rejects(
      () => mapVideoCreate({ template_id: 9, prompt: 'x'.repeat(2049) }),
      /prompt must be at most 2048/,
    );
  });

  it('refuses images without a template where /videos/create cannot use them', () => {
    rejects(
      () => mapVideoCreate({ prompt: 'x', frame_1_path: img(1), frame_2_path: img(2) } as never),
      /frame_1_path needs template_id/,
    );
    rejects(
      () => mapVideoCreate({ prompt: 'x', first_frame_path: img(1), last_frame_path: img(2) }),
      /last_frame_path needs template_id[\s\S]*create-frames/,
    );
    rejects(
      () => mapVideoCreate({ prompt: 'x', last_frame_path: img(2) }),
      /last_frame_path needs first_frame_path/,
    );
  });

  it('maps sound effects and lip-sync TTS on models up to v5 only', () => {
    const v5 = mapVideoCreate({
      prompt: 'x',
      model: 'v5',
      sound_effect_prompt: ' rain ',
      lip_sync_tts_prompt: 'hello',
      lip_sync_tts_speaker_id: '3',
    });
    assert.deepEqual(v5.upstream.params, {
      prompt: 'x',
      model: 'v5',
      duration: 5,
      quality: '540p',
      sound_effect_switch: true,
      sound_effect_content: 'rain',
      lip_sync_tts_switch: true,
      lip_sync_tts_content: 'hello',
      lip_sync_tts_speaker_id: '3',
      aspect_ratio: '16:9',
    });
    assert.equal(
      mapVideoCreate({ prompt: 'x', model: 'v4', lip_sync_tts_prompt: 'hi' }).upstream.params[
        'lip_sync_tts_speaker_id'
      ],
      'Auto',
    );
    assert.equal(
      mapVideoCreate({ prompt: 'x', model: 'v6', audio: true }).upstream.params['generate_audio_switch'],
      true,
    );
    rejects(() => mapVideoCreate({ prompt: 'x', model: 'v6', auto_sound: true }), /auto_sound[\s\S]*v5/);
    rejects(
      () => mapVideoCreate({ prompt: 'x', model: 'v5.5', lip_sync_tts_prompt: 'hi' }),
      /lip_sync_tts_prompt[\s\S]*v5/,
    );
    rejects(
      () => mapVideoCreate({ prompt: 'x', model: 'v5', lip_sync_tts_speaker_id: '3' }),
      /lip_sync_tts_speaker_id needs lip_sync_tts_prompt/,
    );
    rejects(
      () => mapVideoCreate({ prompt: 'x', model: 'v5', lip_sync_tts_prompt: 'y'.repeat(201) }),
      /lip_sync_tts_prompt must be at most 200/,
    );
    rejects(
      () => mapVideoCreate({ prompt: 'x', model: 'v5', auto_sound: false, sound_effect_prompt: 'rain' }),
      /sound_effect_prompt needs auto_sound/,
    );
    rejects(() => mapVideoCreate({ prompt: 'x', model: 'v5', audio: true }), /audio needs model/);
  });

  it('refuses web-app-only options when asked for, accepts them off', () => {
    rejects(() => mapVideoCreate({ prompt: 'x', off_peak_mode: true }), /off_peak_mode[\s\S]*Platform API/);
    rejects(() => mapVideoCreate({ prompt: 'x', preview_mode: true }), /preview_mode[\s\S]*Platform API/);
    assert.equal(
      mapVideoCreate({ prompt: 'x', off_peak_mode: false, preview_mode: false }).upstream.op,
      'video.text',
    );
    rejects(() => mapVideoCreate({ prompt: 'x', model: 'seedance-2.0' }), /web app/);
  });
});

describe('POST /videos/create-frames mapping', () => {
  it('maps first and last frame to first_frame_img / last_frame_img on their account', () => {
    const m = mapCreateFrames({
      first_frame_path: img(1),
      last_frame_path: img(2),
      prompt: 'morph',
      audio: true,
    });
    assert.deepEqual(m.upstream, {
      op: 'video.transition',
      params: {
        prompt: 'morph',
        model: 'v5.6',
        duration: 5,
        quality: '540p',
        first_frame_img: '1',
        last_frame_img: '2',
        generate_audio_switch: true,
      },
    });
    assert.equal(m.email, 'a@x.com');
  });
  it('refuses bad combinations', () => {
    const base = { first_frame_path: img(1), last_frame_path: img(2), prompt: 'x' };
    rejects(() => mapCreateFrames({ ...base, prompt: ' ' }), /prompt is required/);
    rejects(
      () => mapCreateFrames({ ...base, model: 'v5', duration: 10 }),
      /duration must be one of 5, 8 for model v5/,
    );
    rejects(() => mapCreateFrames({ ...base, model: 'v5.6', audio: true, auto_sound: true }), /auto_sound/);
    rejects(
      () => mapCreateFrames({ ...base, last_frame_path: vid(2) }),
      /last_frame_path must be an uploaded image/,
    );
    rejects(
      () => mapCreateFrames({ ...base, last_frame_path: img(2, 'b@x.com') }),
      /last_frame_path[\s\S]*b@x\.com/,
    );
    rejects(() => mapCreateFrames({ ...base, email: 'b@x.com' }), /first_frame_path[\s\S]*a@x\.com/);
    rejects(() => mapCreateFrames({ ...base, model: 'kling-v3' }), /web app/);
    rejects(() => mapCreateFrames({ ...base, off_peak_mode: true }), /off_peak_mode/);
  });
});

describe('POST /videos/create-transition mapping', () => {
  it('maps frames, segment durations and prompts to multi_transition items', () => {
    const m = mapCreateTransition({
      frame_1_path: img(1),
      frame_2_path: img(2),
      frame_3_path: img(3),
      duration_1_to_2: 3,
      prompt_2_to_3: ' spin ',
      quality: '720p',
    } as never);
    assert.deepEqual(m.upstream, {
      op: 'video.multi_transition',
      params: {
        model: 'v5',
        quality: '720p',
        multi_transition: [
          { img_id: '1', duration: 3 },
          { img_id: '2', duration: 5, prompt: 'spin' },
          { img_id: '3' },
        ],
      },
    });
  });
  it('applies the duration rules: 1–8 s with two frames, 1–5 s with three or more, total ≤ 30', () => {
    assert.equal(segmentMax(2), 8);
    assert.equal(segmentMax(3), 5);
    assert.deepEqual(
      segmentDurations(2, () => 8),
      [8],
    );
    assert.deepEqual(
      segmentDurations(7, () => undefined),
      [5, 5, 5, 5, 5, 5],
    );
    rejects(
      () => segmentDurations(3, (i) => (i === 2 ? 6 : 5)),
      /duration_2_to_3 must be 1…5 seconds with 3 frames/,
    );
    rejects(() => segmentDurations(2, () => 9), /duration_1_to_2 must be 1…8/);
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 7 }),
        fc.array(fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }), {
          minLength: 6,
          maxLength: 6,
        }),
        (frames, given) => {
          const max = segmentMax(frames);
          const effective = given.slice(0, frames - 1).map((d) => d ?? Math.min(5, max));
          const ok = effective.every((d) => d >= 1 && d <= max) && effective.reduce((a, b) => a + b, 0) <= 30;
          let accepted = true;
          try {
            assert.deepEqual(
              segmentDurations(frames, (i) => given[i - 1]),
              effective,
            );
          } catch (err) {
            if (!(err instanceof GatewayError)) throw err;
            accepted = false;
          }
          assert.equal(accepted, ok);
        },
      ),
    );
  });
  it('refuses bad combinations', () => {
    rejects(() => mapCreateTransition({ frame_1_path: img(1) } as never), /frame_2_path is required/);
    rejects(
      () => mapCreateTransition({ frame_1_path: img(1), frame_3_path: img(3) } as never),
      /frame_3_path is sent without frame_2_path/,
    );
    rejects(
      () => mapCreateTransition({ frame_1_path: img(1), frame_2_path: img(2), duration_2_to_3: 3 } as never),
      /duration_2_to_3 needs frame_3_path/,
    );
    rejects(
      () => mapCreateTransition({ frame_1_path: img(1), frame_2_path: img(2), prompt_4_to_5: 'x' } as never),
      /prompt_4_to_5 needs frame_5_path/,
    );
    rejects(
      () => mapCreateTransition({ frame_1_path: img(1), frame_2_path: img(2), model: 'v6' } as never),
      /model must be one of: v3\.5, v4, v4\.5, v5/,
    );
    rejects(
      () => mapCreateTransition({ frame_1_path: img(1), frame_2_path: img(2), audio: true } as never),
      /audio is not available for keyframe transitions/,
    );
    rejects(
      () => mapCreateTransition({ frame_1_path: img(1), frame_2_path: img(2), auto_sound: true } as never),
      /auto_sound/,
    );
    rejects(
      () => mapCreateTransition({ frame_1_path: img(1), frame_2_path: aud(2) } as never),
      /frame_2_path must be an uploaded image/,
    );
    rejects(
      () =>
        mapCreateTransition({
          frame_1_path: img(1),
          frame_2_path: img(2),
          prompt_1_to_2: 'x'.repeat(2049),
        } as never),
      /prompt_1_to_2 must be at most 2048/,
    );
  });
});

describe('POST /videos/create-fusion mapping', () => {
  it('names images image1…N and keeps each @imageN followed by a space', () => {
    const m = mapCreateFusion({
      frame_1_path: img(1),
      frame_2_path: img(2),
      prompt: '@image1 hugs @image2.',
    } as never);
    assert.deepEqual(m.upstream, {
      op: 'video.fusion',
      params: {
        prompt: '@image1 hugs @image2 .',
        model: 'c1',
        duration: 5,
        quality: '720p',
        aspect_ratio: '16:9',
        image_references: [
          { type: 'subject', img_id: '1', ref_name: 'image1' },
          { type: 'subject', img_id: '2', ref_name: 'image2' },
        ],
      },
    });
    assert.equal(fusionPrompt('@pic1 and @pic2', 2), '@image1 and @image2 ');
  });
  it('refuses bad combinations', () => {
    const two = { frame_1_path: img(1), frame_2_path: img(2) };
    rejects(
      () => mapCreateFusion({ ...two, prompt: '@image1 alone' } as never),
      /prompt must reference frame_2_path as @image2/,
    );
    rejects(
      () => mapCreateFusion({ ...two, prompt: '@image1 @image2 @image3' } as never),
      /@image3[\s\S]*2 images/,
    );
    rejects(() => mapCreateFusion({ ...two, prompt: '@image1 @image2 mail me@x.com' } as never), /"@" only/);
    rejects(() => mapCreateFusion({ prompt: 'x' } as never), /frame_1_path is required/);
    const four = {
      ...two,
      frame_3_path: img(3),
      frame_4_path: img(4),
      prompt: '@image1 @image2 @image3 @image4',
    };
    rejects(() => mapCreateFusion({ ...four, model: 'v5' } as never), /frame_4_path[\s\S]*at most 3/);
    assert.equal(mapCreateFusion({ ...four, model: 'v5.5' } as never).upstream.op, 'video.fusion');
    rejects(
      () => mapCreateFusion({ ...two, prompt: '@image1 @image2', model: 'v5.5', audio: true } as never),
      /audio needs model v5\.6, v6, c1/,
    );
    rejects(
      () => mapCreateFusion({ ...two, prompt: '@image1 @image2', model: 'v3.5' } as never),
      /model must be one of/,
    );
    rejects(
      () => mapCreateFusion({ ...two, prompt: '@image1 @image2', video_1_path: vid(5) } as never),
      /video_1_path[\s\S]*Seedance/,
    );
    rejects(
      () =>
        mapCreateFusion({ ...two, prompt: '@image1 @image2', model: 'v5', aspect_ratio: '21:9' } as never),
      /aspect_ratio 21:9/,
    );
  });
});

describe('operations on an existing video', () => {
  it('extend: video_id becomes a source to resolve; video_path a video_media_id', () => {
    const byId = mapVideoExtend({ video_id: VIDEO_ID, prompt: 'go on' });
    assert.equal(byId.source?.param, 'source_video_id');
    assert.equal(byId.source?.ref.upstreamId, '123456789012345');
    assert.deepEqual(byId.upstream.params, { prompt: 'go on', model: 'v6', duration: 5, quality: '720p' });
    const byPath = mapVideoExtend({ video_path: vid(44), prompt: 'go on', model: 'v5', duration: 8 });
    assert.equal(byPath.source, undefined);
    assert.equal(byPath.email, 'a@x.com');
    assert.equal(byPath.upstream.params['video_media_id'], '44');
    rejects(
      () => mapVideoExtend({ video_id: VIDEO_ID, video_path: vid(1), prompt: 'x' }),
      /either video_id or video_path, not both/,
    );
    rejects(() => mapVideoExtend({ prompt: 'x' }), /video_id or video_path is required/);
    rejects(
      () => mapVideoExtend({ video_id: 'garbage', prompt: 'x' }),
      /video_id "garbage" is not a valid video id/,
    );
    rejects(
      () => mapVideoExtend({ video_id: VIDEO_ID.replace('-video:', '-image:'), prompt: 'x' }),
      /image id, not a video id/,
    );
    rejects(
      () => mapVideoExtend({ video_path: img(1), prompt: 'x' }),
      /video_path must be an uploaded video/,
    );
    rejects(
      () => mapVideoExtend({ video_id: VIDEO_ID, prompt: 'x', model: 'v5', audio: true }),
      /audio needs model/,
    );
    rejects(
      () => mapVideoExtend({ video_id: VIDEO_ID, prompt: 'x', model: 'v5.5', duration: 7 }),
      /duration/,
    );
    rejects(() => mapVideoExtend({ video_id: VIDEO_ID }), /prompt is required/);
  });

  it('modify, restyle, lipsync, motion-control and upscale', () => {
    assert.deepEqual(mapVideoModify({ video_path: vid(3), prompt: 'sunset' }).upstream, {
      op: 'video.modify',
      params: { video_media_id: '3', prompt: 'sunset', quality: '540p' },
    });
    rejects(
      () => mapVideoModify({ video_path: vid(3), prompt: 'x', model: 'v6' }),
      /model must be one of: v5\.5/,
    );
    rejects(() => mapVideoModify({ video_path: vid(3) }), /prompt is required/);
    rejects(
      () => mapVideoModify({ video_path: vid(3), prompt: 'swap @img0 in' }),
      /prompt must not contain @img0/,
    );

    assert.deepEqual(mapVideoRestyle({ video_path: vid(3), restyle_id: '331000000000101' }).upstream.params, {
      video_media_id: '3',
      restyle_id: '331000000000101',
    });
    assert.deepEqual(mapVideoRestyle({ video_path: vid(3), prompt: 'clay' }).upstream.params, {
      video_media_id: '3',
      restyle_prompt: 'clay',
    });
    rejects(
      () => mapVideoRestyle({ video_path: vid(3), restyle_id: 1, prompt: 'clay' }),
      /either restyle_id or prompt/,
    );
    rejects(() => mapVideoRestyle({ video_path: vid(3) }), /restyle_id or prompt is required/);

    assert.deepEqual(mapVideoLipsync({ video_path: vid(3), audio_path: aud(4) }).upstream.params, {
      video_media_id: '3',
      audio_media_id: '4',
    });
    assert.deepEqual(
      mapVideoLipsync({ video_id: VIDEO_ID, prompt: 'hello', speaker_id: 'Auto' }).upstream.params,
      { lip_sync_tts_content: 'hello', lip_sync_tts_speaker_id: 'Auto' },
    );
    rejects(
      () => mapVideoLipsync({ video_path: vid(3), audio_path: aud(4), prompt: 'x' }),
      /either audio_path or prompt/,
    );
    rejects(() => mapVideoLipsync({ video_path: vid(3), prompt: 'x' }), /speaker_id is required/);
    rejects(
      () => mapVideoLipsync({ video_path: vid(3), prompt: 'x'.repeat(201), speaker_id: '1' }),
      /prompt must be at most 200/,
    );
    rejects(
      () => mapVideoLipsync({ video_path: vid(3), audio_path: aud(4), speaker_id: '1' }),
      /speaker_id goes with prompt/,
    );
    rejects(
      () => mapVideoLipsync({ video_path: vid(3), audio_path: aud(4, 'b@x.com') }),
      /audio_path[\s\S]*b@x\.com/,
    );
    rejects(
      () => mapVideoLipsync({ video_path: vid(3), audio_path: img(4) }),
      /audio_path must be an uploaded audio/,
    );

    assert.deepEqual(mapMotionControl({ frame_1_path: img(1), video_1_path: vid(2) }).upstream, {
      op: 'video.mimic',
      params: { img_id: '1', video_media_id: '2', quality: '720p' },
    });
    rejects(
      () => mapMotionControl({ frame_1_path: img(1), video_1_path: vid(2), model: 'v6' }),
      /model must be one of: v5\.6/,
    );
    rejects(
      () => mapMotionControl({ frame_1_path: vid(1), video_1_path: vid(2) }),
      /frame_1_path must be an uploaded image/,
    );

    const up = mapVideoUpscale({ video_id: VIDEO_ID });
    assert.equal(up.upstream.op, 'video.upscale');
    assert.equal(up.source?.field, 'video_id');
    rejects(() => mapVideoUpscale({ video_id: 'nope' }), /video_id "nope"/);
    rejects(() => mapVideoUpscale({ video_id: VIDEO_ID, off_peak_mode: true }), /off_peak_mode/);
  });
});

describe('catalogue views', () => {
  it('adds useapi names without dropping PixVerse fields', () => {
    assert.deepEqual(
      effectView({ id: '9', template_name: 'Hug', img_count: 2, quality_list: '360p, 540p' }),
      {
        id: '9',
        template_name: 'Hug',
        img_count: 2,
        quality_list: '360p, 540p',
        template_id: '9',
        display_name: 'Hug',
        effect_type: '2',
        qualities: ['360p', '540p'],
      },
    );
    assert.deepEqual(effectView({ template_id: '1', effect_type: '1', qualities: ['540p'] }), {
      template_id: '1',
      effect_type: '1',
      qualities: ['540p'],
    });
    assert.deepEqual(voiceView({ speaker_id: '1', name: 'Emily' }), { speaker_id: '1', name: 'Emily' });
    assert.deepEqual(restyleView({ restyle_id: '5', restyle_name: 'Clay' }), {
      restyle_id: '5',
      restyle_name: 'Clay',
      display_name: 'Clay',
    });
  });
  it('pagesFor covers exactly the wanted window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 100 }),
        (offset, limit, size) => {
          const { pages, skip } = pagesFor(offset, limit, size);
          const first = (pages[0]! - 1) * size;
          assert.equal(first + skip, offset);
          assert.ok(pages.length * size - skip >= limit);
          assert.ok((pages.length - 1) * size - skip < limit);
        },
      ),
    );
  });
});
