/**
 * Every failure the simulator can produce, as the UpstreamError (class, ErrCode, HTTP status,
 * maybeSubmitted) PixverseClient turns it into — including the "maybe submitted → replay with the
 * same Ai-trace-id" path of #sim:timeout.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Json } from '../../src/domain/job.ts';
import {
  startSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../src/providers/pixverse/simulator/index.ts';
import { UpstreamError, type UpstreamErrorClass } from '../../src/scheduler/provider.ts';
import { createPixverseClient, type PixverseClient } from '../../src/providers/pixverse/upstream/index.ts';

const PNG = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
]);
const VIDEO = { model: 'v5', duration: 5, quality: '540p', aspect_ratio: '16:9' };
const text = (prompt: string, extra: { [key: string]: Json } = {}) => ({
  op: 'video.text',
  params: { prompt, ...VIDEO, ...extra },
});

async function failure(p: Promise<unknown>): Promise<UpstreamError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof UpstreamError, `expected UpstreamError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

/** [class, ErrCode, HTTP status, maybeSubmitted] of an UpstreamError. */
function shape(e: UpstreamError): [UpstreamErrorClass, number | null, number | null, boolean] {
  return [e.errorClass, e.errCode, e.httpStatus, e.maybeSubmitted];
}

async function setup(options: SimulatorOptions): Promise<{ sim: RunningSimulator; client: PixverseClient }> {
  const sim = await startSimulator({ seed: 9, durationMs: { min: 40, max: 40 }, ...options });
  return { sim, client: createPixverseClient({ baseUrl: sim.url, timeoutMs: 3000 }) };
}

describe('PixverseClient: error classes of simulator failures (markers and refusals)', () => {
  let sim: RunningSimulator;
  let client: PixverseClient;
  let src: string;
  let img: string;

  before(async () => {
    ({ sim, client } = await setup({ maxConcurrent: 100, keyLimits: { 'key-one': 1 } }));
    src = (await client.submit('k', text('source #sim:duration=1'), randomUUID())).upstreamId;
    img = (await client.upload('k', PNG, 'image/png', 'p.png')).id;
  });
  after(async () => {
    await client.close();
    await sim.close();
  });

  it('create refusals map to their classes; none is maybeSubmitted', async () => {
    const table: [
      string,
      { op: string; params: { [key: string]: Json } },
      [UpstreamErrorClass, number | null, number | null, boolean],
    ][] = [
      ['#sim:rate-limit', text('x #sim:rate-limit'), ['rate_limit', null, 429, false]],
      ['#sim:auth', text('x #sim:auth'), ['auth', 400012, 200, false]],
      ['#sim:out-of-credits', text('x #sim:out-of-credits'), ['out_of_credits', 500090, 200, false]],
      ['#sim:overload', text('x #sim:overload'), ['transient', 500069, 200, false]],
      ['#sim:http500', text('x #sim:http500'), ['transient', 500100, 500, false]],
      ['#sim:reject-moderation', text('x #sim:reject-moderation'), ['moderation', 500063, 200, false]],
      [
        'mimic #sim:no-subject',
        {
          op: 'video.mimic',
          params: { source_video_id: src, img_id: img, quality: '540p', prompt: '#sim:no-subject' },
        },
        ['moderation', 701002, 200, false],
      ],
      [
        'mimic #sim:no-person',
        {
          op: 'video.mimic',
          params: { source_video_id: src, img_id: img, quality: '540p', prompt: '#sim:no-person' },
        },
        ['moderation', 701003, 200, false],
      ],
      ['bad value', text('x', { model: 'v99' }), ['bad_request', 400017, 200, false]],
      ['missing field', text('x', { quality: null }), ['bad_request', 400011, 200, false]],
      ['wrong type', text('x', { duration: '5' }), ['bad_request', 400013, 200, false]],
      [
        'unknown image',
        {
          op: 'video.img',
          params: { prompt: 'x', model: 'v5', duration: 5, quality: '540p', img_id: '123456789012345' },
        },
        ['bad_request', 400032, 200, false],
      ],
      [
        'template not activated',
        {
          op: 'video.img',
          params: {
            prompt: '',
            model: 'v5',
            duration: 5,
            quality: '540p',
            img_id: img,
            template_id: '302325299692629',
          },
        },
        ['bad_request', 500070, 200, false],
      ],
      [
        'template quality',
        {
          op: 'video.img',
          params: {
            prompt: '',
            model: 'v5',
            duration: 5,
            quality: '720p',
            img_id: img,
            template_id: '302325299692623',
          },
        },
        ['bad_request', 500071, 200, false],
      ],
      [
        'unknown source video',
        { op: 'video.upscale', params: { source_video_id: '123456789012345' } },
        ['not_found', 500008, 200, false],
      ],
    ];
    for (const [label, req, expected] of table) {
      assert.deepEqual(shape(await failure(client.submit('k', req, randomUUID()))), expected, label);
    }
    // #sim:http502 has no envelope: on a create it is ambiguous (a proxy may answer after PixVerse accepted).
    const proxy = await failure(client.submit('k', text('x #sim:http502'), randomUUID()));
    assert.deepEqual(shape(proxy), ['transient', null, 502, true]);
    const invalid = await failure(client.submit('sim-invalid-key', text('x'), randomUUID()));
    assert.deepEqual(shape(invalid), ['auth', 400012, 200, false]);
  });

  it('concurrency limit → concurrency_limit (500044)', async () => {
    await client.submit('key-one', text('hold #sim:duration=5000'), randomUUID());
    assert.deepEqual(shape(await failure(client.submit('key-one', text('second'), randomUUID()))), [
      'concurrency_limit',
      500044,
      200,
      false,
    ]);
  });

  it('a deleted source → not_found (500064); job outcomes 7/8/6 → moderated/failed/deleted', async () => {
    const ids = {
      fail: (await client.submit('k', text('x #sim:fail'), randomUUID())).upstreamId,
      moderate: (await client.submit('k', text('x #sim:moderate'), randomUUID())).upstreamId,
      gone: (await client.submit('k', text('x #sim:duration=1'), randomUUID())).upstreamId,
    };
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(sim.deleteJob(ids.gone), true);
    const state = async (id: string) => {
      const s = await client.status('k', 'video', id);
      return [s.state, s.code];
    };
    assert.deepEqual(await state(ids.fail), ['failed', 8]);
    assert.deepEqual(await state(ids.moderate), ['moderated', 7]);
    assert.deepEqual(await state(ids.gone), ['deleted', 6]);
    const e = await failure(
      client.submit(
        'k',
        { op: 'video.extend', params: { source_video_id: ids.gone, prompt: 'p', ...VIDEO } },
        randomUUID(),
      ),
    );
    assert.deepEqual(shape(e), ['not_found', 500064, 200, false]);
    assert.deepEqual(shape(await failure(client.status('k', 'video', '123456789012345'))), [
      'not_found',
      500008,
      200,
      false,
    ]);
  });
});

describe('PixverseClient: #sim:timeout → maybeSubmitted, then replay with the same trace id', () => {
  it('the create times out, the job exists, and the same Ai-trace-id returns it without a second job', async () => {
    const { sim, client } = await setup({});
    const patient = createPixverseClient({ baseUrl: sim.url, timeoutMs: 3000 });
    const hasty = createPixverseClient({ baseUrl: sim.url, timeoutMs: 250 });
    try {
      const trace = randomUUID();
      const req = text('render #sim:timeout');
      const e = await failure(hasty.submit('k', req, trace));
      assert.deepEqual(shape(e), ['transient', null, null, true]);
      assert.match(e.message, /timeout/);
      assert.equal(sim.stats().totals.created, 1, 'the create did happen');
      const replay = await patient.submit('k', req, trace);
      assert.match(replay.upstreamId, /^\d+$/);
      assert.equal(sim.stats().totals.created, 1, 'the replay created nothing');
      let s = await client.status('k', 'video', replay.upstreamId);
      while (s.state === 'pending') s = await client.status('k', 'video', replay.upstreamId);
      assert.equal(s.state, 'completed');
    } finally {
      await Promise.all([client.close(), patient.close(), hasty.close()]);
      await sim.close();
    }
  });
});

describe('PixverseClient: failure rates hit every kind of call', () => {
  it('rateLimitRate=1 → rate_limit on submit, status, balance, upload and catalog', async () => {
    const { sim, client } = await setup({ rateLimitRate: 1 });
    try {
      const calls: (() => Promise<unknown>)[] = [
        () => client.submit('k', text('x'), randomUUID()),
        () => client.status('k', 'video', '123456789012345'),
        () => client.balance('k'),
        () => client.upload('k', PNG, 'image/png', 'p.png'),
        () => client.catalog('k', 'voices'),
      ];
      for (const call of calls)
        assert.deepEqual(shape(await failure(call())), ['rate_limit', null, 429, false]);
    } finally {
      await client.close();
      await sim.close();
    }
  });

  it('transientRate=1 → transient 502 (maybeSubmitted only on a create); overloadRate=1 → transient 500069', async () => {
    const proxy = await setup({ transientRate: 1 });
    const busy = await setup({ overloadRate: 1 });
    try {
      assert.deepEqual(shape(await failure(proxy.client.submit('k', text('x'), randomUUID()))), [
        'transient',
        null,
        502,
        true,
      ]);
      assert.deepEqual(shape(await failure(proxy.client.balance('k'))), ['transient', null, 502, false]);
      assert.deepEqual(shape(await failure(busy.client.submit('k', text('x'), randomUUID()))), [
        'transient',
        500069,
        200,
        false,
      ]);
      assert.equal((await busy.client.balance('k')).creditMonthly, 1_000_000, 'reads are not overloaded');
    } finally {
      for (const { sim, client } of [proxy, busy]) {
        await client.close();
        await sim.close();
      }
    }
  });
});
