/**
 * Property: any useapi body a compat mapper accepts becomes a Platform request the simulator
 * accepts. Random bodies (mostly plausible values, some out of range) go through the pure mapper;
 * accepted ones are submitted with the real PixVerse client to a real simulator and must not be
 * refused; refused ones must be a 400 GatewayError. A floor on the accepted share keeps the
 * property from passing vacuously.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { GatewayError } from '../../src/domain/errors.ts';
import { CreateFramesBody, mapCreateFrames } from '../../src/providers/pixverse/compat/createFrames.ts';
import { CreateFusionBody, mapCreateFusion } from '../../src/providers/pixverse/compat/createFusion.ts';
import {
  CreateTransitionBody,
  mapCreateTransition,
} from '../../src/providers/pixverse/compat/createTransition.ts';
import { formatFilePath } from '../../src/providers/pixverse/compat/filePaths.ts';
import { mapMotionControl, MotionControlBody } from '../../src/providers/pixverse/compat/motionControl.ts';
import type { Mapped } from '../../src/providers/pixverse/compat/videoCreate.ts';
import { mapVideoCreate, VideoCreateBody } from '../../src/providers/pixverse/compat/videoCreate.ts';
import { mapVideoExtend, VideoExtendBody } from '../../src/providers/pixverse/compat/videoExtend.ts';
import { mapVideoLipsync, VideoLipsyncBody } from '../../src/providers/pixverse/compat/videoLipsync.ts';
import { mapVideoModify, VideoModifyBody } from '../../src/providers/pixverse/compat/videoModify.ts';
import { mapVideoRestyle, VideoRestyleBody } from '../../src/providers/pixverse/compat/videoRestyle.ts';
import { mapVideoUpscale, VideoUpscaleBody } from '../../src/providers/pixverse/compat/videoUpscale.ts';
import { validatorCompiler } from '../../src/http/validation.ts';
import type { TSchema } from '@sinclair/typebox';
import { startSimulator, type RunningSimulator } from '../../src/providers/pixverse/simulator/index.ts';
import { createPixverseClient, type PixverseClient } from '../../src/providers/pixverse/upstream/index.ts';
import { UpstreamError } from '../../src/scheduler/provider.ts';
import { waitFor } from '../helpers/harness.ts';
import { MP3, MP4, PNG } from './harness.ts';

const KEY = 'pk-property-0123456789';
const EMAIL = 'a@x.com';
const RUNS = Number(process.env['COMPAT_PROPERTY_RUNS'] ?? 150);

const MODELS = ['v3.5', 'v4', 'v4.5', 'v5', 'v5.5', 'v5.6', 'v6', 'c1', 'pixverse-c1', 'v7', 'seedance-2.0'];
const QUALITIES = ['360p', '540p', '720p', '1080p'];
const ASPECTS = ['16:9', '4:3', '1:1', '3:4', '9:16', '2:3', '3:2', '21:9'];
const SPEAKERS = ['1', '7', '14', 'Auto'];
/** Prompts: plain words (no "#sim:" markers, no "@"), sometimes long or blank. */
const text = fc.oneof(
  { weight: 8, arbitrary: fc.stringMatching(/^[a-z ]{1,40}$/) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', 'x'.repeat(2049), 'y'.repeat(4999)) },
);
/** Present in about `percent` % of bodies, absent otherwise. */
const maybe = <T>(arb: fc.Arbitrary<T>, percent = 35) =>
  fc.oneof({ weight: 100 - percent, arbitrary: fc.constant(undefined) }, { weight: percent, arbitrary: arb });

describe('property: accepted useapi bodies are accepted by the simulator', () => {
  let sim: RunningSimulator;
  let client: PixverseClient;
  const images: string[] = [];
  let video = '';
  let audio = '';
  let sourceId = '';
  let templates: {
    template_id: string;
    effect_type: string;
    template_type: number;
    qualities: string[];
    activated: boolean;
  }[] = [];
  let restyleIds: string[] = [];

  before(async () => {
    sim = await startSimulator({ durationMs: { min: 1, max: 5 }, seed: 3, maxConcurrent: 1_000_000 });
    await fetch(`${sim.url}/_sim/keys/${KEY}`, {
      method: 'POST',
      body: JSON.stringify({ creditMonthly: 1_000_000_000 }),
    });
    client = createPixverseClient({ baseUrl: sim.url });
    for (let i = 0; i < 7; i++)
      images.push(
        formatFilePath('image', (await client.upload(KEY, PNG, 'image/png', `i${i}.png`)).id, EMAIL),
      );
    video = formatFilePath('video', (await client.upload(KEY, MP4, 'video/mp4', 'v.mp4')).id, EMAIL);
    audio = formatFilePath('audio', (await client.upload(KEY, MP3, 'audio/mpeg', 'a.mp3')).id, EMAIL);
    const source = await client.submit(
      KEY,
      {
        op: 'video.text',
        params: { prompt: 'source', model: 'v5', duration: 5, quality: '540p', aspect_ratio: '16:9' },
      },
      'trace-source',
    );
    sourceId = source.upstreamId;
    await waitFor(async () => (await client.status(KEY, 'video', sourceId)).state === 'completed');
    templates = (await client.catalog(KEY, 'effects', { num: 1, size: 100 }))
      .items as unknown as typeof templates;
    restyleIds = (await client.catalog(KEY, 'restyles', { num: 1, size: 100 })).items.map((r) =>
      String(r['restyle_id']),
    );
  });
  after(async () => {
    await client?.close();
    await sim?.close();
  });

  let trace = 0;
  /** Runs the mapper; accepted → submitted and must be accepted upstream. Returns whether accepted. */
  async function check(map: () => Mapped): Promise<boolean> {
    let mapped: Mapped;
    try {
      mapped = map();
    } catch (err) {
      assert.ok(err instanceof GatewayError && err.status === 400, `mapper threw ${String(err)}`);
      return false;
    }
    const params = { ...mapped.upstream.params };
    if (mapped.source) params[mapped.source.param] = sourceId;
    try {
      await client.submit(KEY, { op: mapped.upstream.op, params }, `trace-${++trace}`);
    } catch (err) {
      const detail =
        err instanceof UpstreamError ? `${err.errorClass} ${err.errCode}: ${err.message}` : String(err);
      assert.fail(
        `accepted body refused by the simulator: ${detail}\n${mapped.upstream.op} ${JSON.stringify(params)}`,
      );
    }
    return true;
  }

  /**
   * `schema` is the route's body schema, checked with the app's own validator first (the route
   * never calls the mapper on a body it refuses); `build` turns a generated case into the body.
   */
  async function property<T>(
    name: string,
    schema: TSchema,
    arb: fc.Arbitrary<T>,
    build: (c: T) => Record<string, unknown>,
    map: (body: never) => Mapped,
    floor = 0.1,
  ) {
    const validate = validatorCompiler({ schema, httpPart: 'body', method: 'POST', url: name }) as (
      body: unknown,
    ) => boolean;
    let accepted = 0;
    let total = 0;
    await fc.assert(
      fc.asyncProperty(arb, async (c) => {
        total++;
        const body = strip(build(c));
        if (!validate(body)) return;
        if (await check(() => map(body as never))) accepted++;
      }),
      { numRuns: RUNS },
    );
    assert.ok(
      accepted / total >= floor,
      `${name}: only ${accepted}/${total} bodies were accepted; the property would be vacuous`,
    );
  }

  const img = () => fc.constantFrom(...images);
  const videoSource = () =>
    fc.oneof(
      fc.constant({ video_id: `user:1-pixverse:${EMAIL}-video:${sourceId}` }),
      fc.constant({ video_path: video }),
      fc.constant({}),
    );

  it('POST /videos/create (no template)', async () => {
    const arb = fc.record(
      {
        prompt: text,
        model: maybe(fc.constantFrom(...MODELS), 60),
        first_frame_path: maybe(img()),
        duration: maybe(fc.integer({ min: 1, max: 15 }), 40),
        quality: maybe(fc.constantFrom(...QUALITIES), 50),
        aspect_ratio: maybe(fc.constantFrom(...ASPECTS)),
        seed: maybe(fc.integer({ min: 0, max: 2147483647 })),
        negative_prompt: maybe(fc.stringMatching(/^[a-z ]{0,20}$/), 15),
        motion_mode: maybe(fc.constantFrom('normal', 'fast'), 15),
        audio: maybe(fc.boolean(), 15),
        multi_shot: maybe(fc.boolean(), 15),
        auto_sound: maybe(fc.boolean(), 15),
        sound_effect_prompt: maybe(fc.stringMatching(/^[a-z ]{0,20}$/), 15),
        lip_sync_tts_prompt: maybe(fc.stringMatching(/^[a-z ]{0,30}$/), 15),
        lip_sync_tts_speaker_id: maybe(fc.constantFrom(...SPEAKERS), 15),
        off_peak_mode: maybe(fc.boolean(), 15),
      },
      { requiredKeys: ['prompt'] },
    );
    await property('create', VideoCreateBody, arb, (body) => body, mapVideoCreate);
  });

  it('POST /videos/create with effect templates', async () => {
    const arb = fc.record({
      pick: fc.nat(),
      shape: fc.constantFrom('images', 'text'),
      quality: fc.option(fc.nat(), { nil: undefined }),
      prompt: fc.option(fc.stringMatching(/^[a-z ]{0,20}$/), { nil: undefined }),
      aspect: fc.option(fc.constantFrom('16:9', '9:16', '1:1'), { nil: undefined }),
      auto_sound: fc.option(fc.boolean(), { nil: undefined }),
      lip: fc.option(fc.constantFrom('hello', 'good morning'), { nil: undefined }),
      firstLast: fc.boolean(),
    });
    await property(
      'templates',
      VideoCreateBody,
      arb,
      (c) => {
        const usable = templates.filter((t) => t.template_type === 1 && t.activated);
        const t = usable[c.pick % usable.length]!;
        const body: Record<string, unknown> = { template_id: t.template_id };
        if (c.quality !== undefined) body['quality'] = t.qualities[c.quality % t.qualities.length];
        if (c.prompt !== undefined) body['prompt'] = c.prompt;
        if (c.auto_sound !== undefined) body['auto_sound'] = c.auto_sound;
        if (c.lip !== undefined) body['lip_sync_tts_prompt'] = c.lip;
        const n = Number(t.effect_type);
        if (c.shape === 'text') {
          if (c.aspect !== undefined) body['aspect_ratio'] = c.aspect;
        } else if (n === 1) body['first_frame_path'] = images[0];
        else if (n === 2 && c.firstLast)
          Object.assign(body, { first_frame_path: images[0], last_frame_path: images[1] });
        else for (let i = 1; i <= n; i++) body[`frame_${i}_path`] = images[i - 1];
        return body;
      },
      mapVideoCreate,
      0.9,
    );
  });

  it('POST /videos/create-frames', async () => {
    const arb = fc.record(
      {
        first_frame_path: img(),
        last_frame_path: img(),
        prompt: text,
        model: maybe(fc.constantFrom(...MODELS), 60),
        duration: maybe(fc.integer({ min: 1, max: 15 }), 40),
        quality: maybe(fc.constantFrom(...QUALITIES)),
        seed: maybe(fc.integer({ min: 0, max: 2147483647 })),
        audio: maybe(fc.boolean(), 15),
        auto_sound: maybe(fc.boolean(), 15),
        lip_sync_tts_prompt: maybe(fc.stringMatching(/^[a-z ]{1,30}$/), 15),
        lip_sync_tts_speaker_id: maybe(fc.constantFrom(...SPEAKERS), 15),
      },
      { requiredKeys: ['first_frame_path', 'last_frame_path'] },
    );
    await property('create-frames', CreateFramesBody, arb, (body) => body, mapCreateFrames);
  });

  it('POST /videos/create-transition', async () => {
    const arb = fc
      .record({
        frames: fc.integer({ min: 1, max: 7 }),
        durations: fc.array(fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined, freq: 2 }), {
          minLength: 6,
          maxLength: 6,
        }),
        prompts: fc.array(fc.option(fc.stringMatching(/^[a-z ]{0,20}$/), { nil: undefined }), {
          minLength: 6,
          maxLength: 6,
        }),
        model: maybe(fc.constantFrom(...MODELS)),
        quality: maybe(fc.constantFrom(...QUALITIES)),
        seed: maybe(fc.integer({ min: 0, max: 2147483647 })),
      })
      .map((c) => {
        const body: Record<string, unknown> = {};
        for (let i = 1; i <= c.frames; i++) body[`frame_${i}_path`] = images[i - 1];
        for (let i = 1; i < c.frames; i++) {
          if (c.durations[i - 1] !== undefined) body[`duration_${i}_to_${i + 1}`] = c.durations[i - 1];
          if (c.prompts[i - 1] !== undefined) body[`prompt_${i}_to_${i + 1}`] = c.prompts[i - 1];
        }
        for (const key of ['model', 'quality', 'seed'] as const) if (c[key] !== undefined) body[key] = c[key];
        return body;
      });
    await property('create-transition', CreateTransitionBody, arb, (body) => body, mapCreateTransition);
  });

  it('POST /videos/create-fusion', async () => {
    const arb = fc
      .record({
        frames: fc.integer({ min: 1, max: 7 }),
        mention: fc.constantFrom('all', 'all-punctuated', 'pic', 'missing', 'extra'),
        words: fc.stringMatching(/^[a-z ]{0,20}$/),
        model: maybe(fc.constantFrom(...MODELS), 60),
        duration: maybe(fc.integer({ min: 1, max: 15 }), 30),
        quality: maybe(fc.constantFrom(...QUALITIES)),
        aspect_ratio: maybe(fc.constantFrom(...ASPECTS)),
        audio: maybe(fc.boolean(), 15),
      })
      .map((c) => {
        const refs = Array.from({ length: c.frames }, (_, i) => `@image${i + 1}`);
        let prompt = `${refs.join(' ')} ${c.words}`;
        if (c.mention === 'all-punctuated') prompt = `${refs.join(', ')}.`;
        if (c.mention === 'pic')
          prompt = `${refs.map((r) => r.replace('image', 'pic')).join(' and ')} ${c.words}`;
        if (c.mention === 'missing') prompt = refs.slice(1).join(' ') + c.words;
        if (c.mention === 'extra') prompt = `${prompt} @image${c.frames + 1}`;
        const body: Record<string, unknown> = { prompt };
        for (let i = 1; i <= c.frames; i++) body[`frame_${i}_path`] = images[i - 1];
        for (const key of ['model', 'duration', 'quality', 'aspect_ratio', 'audio'] as const)
          if (c[key] !== undefined) body[key] = c[key];
        return body;
      });
    await property('create-fusion', CreateFusionBody, arb, (body) => body, mapCreateFusion);
  });

  it('POST /videos/extend', async () => {
    const arb = fc.tuple(
      videoSource(),
      fc.record(
        {
          prompt: text,
          model: maybe(fc.constantFrom(...MODELS), 60),
          duration: maybe(fc.integer({ min: 1, max: 15 }), 40),
          quality: maybe(fc.constantFrom(...QUALITIES)),
          seed: maybe(fc.integer({ min: 0, max: 2147483647 })),
          audio: maybe(fc.boolean(), 15),
        },
        { requiredKeys: ['prompt'] },
      ),
    );
    await property(
      'extend',
      VideoExtendBody,
      arb,
      ([source, body]) => ({ ...source, ...body }),
      mapVideoExtend,
    );
  });

  it('POST /videos/modify, /videos/restyle, /videos/lipsync, /videos/motion-control, /videos/upscale', async () => {
    const modify = fc.tuple(
      videoSource(),
      fc.record(
        {
          prompt: fc.oneof(text, fc.constant('swap @img0 please')),
          quality: maybe(fc.constantFrom(...QUALITIES)),
          seed: maybe(fc.integer({ min: 0, max: 99 })),
        },
        { requiredKeys: ['prompt'] },
      ),
    );
    await property(
      'modify',
      VideoModifyBody,
      modify,
      ([source, body]) => ({ ...source, ...body }),
      mapVideoModify,
    );

    const restyle = fc.tuple(
      videoSource(),
      fc.record({
        restyle_id: maybe(fc.constantFrom(...restyleIds), 60),
        prompt: maybe(text, 50),
        seed: maybe(fc.integer({ min: 0, max: 99 })),
      }),
    );
    await property(
      'restyle',
      VideoRestyleBody,
      restyle,
      ([source, body]) => ({ ...source, ...body }),
      mapVideoRestyle,
      0.08,
    );

    const lipsync = fc.tuple(
      videoSource(),
      fc.record({
        audio_path: maybe(fc.constant(audio), 50),
        prompt: maybe(
          fc.oneof(
            { weight: 9, arbitrary: fc.stringMatching(/^[a-z]{1,40}$/) },
            { weight: 1, arbitrary: fc.constant('z'.repeat(201)) },
          ),
          50,
        ),
        speaker_id: maybe(fc.constantFrom(...SPEAKERS), 70),
        original_sound_switch: maybe(fc.boolean()),
      }),
    );
    await property(
      'lipsync',
      VideoLipsyncBody,
      lipsync,
      ([source, body]) => ({ ...source, ...body }),
      mapVideoLipsync,
      0.05,
    );

    const mimic = fc.record(
      {
        frame_1_path: img(),
        video_1_path: fc.constant(video),
        quality: maybe(fc.constantFrom(...QUALITIES)),
        model: maybe(fc.constantFrom('v5.6', 'v6')),
      },
      { requiredKeys: ['frame_1_path', 'video_1_path'] },
    );
    await property('motion-control', MotionControlBody, mimic, (body) => body, mapMotionControl);

    const upscale = fc.constant({ video_id: `user:1-pixverse:${EMAIL}-video:${sourceId}` });
    await property('upscale', VideoUpscaleBody, upscale, (body) => body, mapVideoUpscale, 1);
  });
});

/** Drops keys whose value is undefined (fast-check's optional keys may be present as undefined). */
function strip(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}
