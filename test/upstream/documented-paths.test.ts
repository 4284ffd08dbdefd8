/**
 * The upstream surface stays honest: every path the adapter can call, and every route the
 * simulator answers, is an operation PixVerse's Platform API documents (reference §2.1) or one of
 * the few that public client code shows in use, each marked so here and in the README's table.
 * A route that only works against the simulator would otherwise pass every test and fail in
 * production.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JOB_TYPES } from '../../src/domain/job.ts';
import { ROUTES } from '../../src/providers/pixverse/simulator/routes.ts';
import { startSimulator } from '../../src/providers/pixverse/simulator/index.ts';
import { createPixverseClient, type PixverseClient } from '../../src/providers/pixverse/upstream/index.ts';
import { CATALOGS, OPERATIONS } from '../../src/providers/pixverse/upstream/operations.ts';
import type { CatalogKind } from '../../src/scheduler/provider.ts';
import { json, startCanned, type Canned } from './canned.ts';

/** Reference §2.1: the operations of the official documentation's navigation. */
const DOCUMENTED = [
  'POST /image/upload',
  'POST /media/upload',
  'POST /video/text/generate',
  'POST /video/img/generate',
  'POST /video/transition/generate',
  'POST /video/multi_transition/generate',
  'POST /video/extend/generate',
  'POST /video/lip_sync/generate',
  'GET /video/lip_sync/tts_list',
  'POST /video/sound_effect/generate',
  'POST /video/fusion/generate',
  'POST /video/restyle/generate',
  'GET /video/restyle/list',
  'POST /video/mask/selection',
  'POST /video/swap/generate',
  'POST /video/mimic/generate',
  'POST /video/modify/generate',
  'GET /video/result/{id}',
  'POST /image/template/generate',
  'GET /image/result/{id}',
  'GET /account/balance',
];

/** Reference §2, [CODE]: shown in use by public client code (with a docs page id), not in the navigation. */
const CLIENT_CODE_ONLY = ['POST /video/upscale/generate', 'GET /video/effects/templates/list'];

const ALLOWED = [...DOCUMENTED, ...CLIENT_CODE_ONLY];

function allowed(method: string, path: string): boolean {
  const bare = path
    .split('?')[0]!
    .replace(/^\/openapi\/v2/, '')
    .replace(/\/\d+$/, '/{id}');
  return ALLOWED.includes(`${method} ${bare}`);
}

describe('upstream paths are documented Platform API operations', () => {
  let srv: Canned;
  let client: PixverseClient;

  before(async () => {
    srv = await startCanned();
    // One answer that every reader can take something from; only the paths matter here.
    srv.handle((_req, res) =>
      json(
        res,
        200,
        '{"ErrCode":0,"ErrMsg":"success","Resp":{"video_id":1,"image_id":1,"img_id":1,"img_url":"u","media_id":1,"media_type":"video","url":"u","id":1,"status":5,"account_id":1,"credit_monthly":0,"credit_package":0,"data":[],"total":0}}',
      ),
    );
    client = createPixverseClient({ baseUrl: srv.url });
  });
  after(async () => {
    await client.close();
    await srv.close();
  });

  it('every adapter operation, status read, upload, balance and catalogue calls an allowed path', async () => {
    const attempt = async (call: () => Promise<unknown>) => {
      await call().catch(() => undefined);
    };
    for (const op of Object.keys(OPERATIONS))
      await attempt(() => client.submit('k', { op, params: {} }, 'trace'));
    for (const type of JOB_TYPES) await attempt(() => client.status('k', type, '123'));
    await attempt(() => client.upload('k', Buffer.from('x'), 'image/png', 'a.png'));
    await attempt(() => client.upload('k', Buffer.from('x'), 'video/mp4', 'a.mp4'));
    await attempt(() => client.upload('k', Buffer.from('x'), 'audio/mpeg', 'a.mp3'));
    await attempt(() => client.balance('k'));
    for (const kind of Object.keys(CATALOGS) as CatalogKind[]) await attempt(() => client.catalog('k', kind));

    const called = srv.seen.map((req) => `${req.method} ${req.url}`);
    // Vacuity floor: each operation, two result reads, two upload kinds, balance, three catalogues.
    assert.ok(called.length >= Object.keys(OPERATIONS).length + 2 + 3 + 1 + 3, called.join('\n'));
    const stray = srv.seen
      .filter((req) => !allowed(req.method, req.url))
      .map((req) => `${req.method} ${req.url}`);
    assert.deepEqual(stray, [], 'paths outside the documented Platform API');
  });

  it('the simulator answers documented operations only (plus /_sim and its media)', async () => {
    const sample = (entry: string) => entry.split(' ')[1]!.replace('{id}', '123456789012345');
    for (const route of ROUTES) {
      const match = ALLOWED.find(
        (entry) => entry.startsWith(`${route.method} `) && route.pattern.test(sample(entry)),
      );
      assert.ok(match, `simulator route ${route.method} ${route.pattern} is not a documented operation`);
    }
    const sim = await startSimulator({ port: 0 });
    try {
      for (const path of ['/image/generate', '/music/generate', '/music/result/123456789012345']) {
        const res = await fetch(`${sim.url}/openapi/v2${path}`, {
          method: path.includes('result') ? 'GET' : 'POST',
          headers: { 'API-KEY': 'k', 'Ai-trace-id': 'x', 'content-type': 'application/json' },
          body: path.includes('result') ? undefined : '{"prompt":"x"}',
        });
        assert.equal(res.status, 404, path);
        assert.match(await res.text(), /500008/);
      }
    } finally {
      await sim.close();
    }
  });
});
