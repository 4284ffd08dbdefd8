/**
 * Catalogue reads (effects, voices, restyles, features) through the gateway from the account's
 * PixVerse catalogue, the `email` rules they share with POST /files, and the useapi endpoints the
 * Platform API cannot serve (501, saying so).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from '../helpers/harness.ts';
import { P, startCompatHarness, tenant, type CompatHarness, type Tenant } from './harness.ts';

describe('catalogue reads and unavailable endpoints', () => {
  let h: CompatHarness;
  let two: Tenant;
  let one: Tenant;
  let none: Tenant;

  before(async () => {
    h = await startCompatHarness();
    two = await tenant(h, 'two', [
      ['a@x.com', 8],
      ['b@x.com', 3],
    ]);
    one = await tenant(h, 'one', [['solo@x.com', 2]]);
    none = await tenant(h, 'none', []);
  });
  after(async () => {
    await h?.close();
  });

  it('GET /videos/effects lists templates with useapi fields, and limit/offset windows it', async () => {
    const all = await two.api('GET', `${P}/videos/effects?email=a@x.com`);
    assert.equal(all.status, 200, JSON.stringify(all.body));
    const items = all.body.items as Record<string, unknown>[];
    assert.ok(items.length >= 5, `only ${items.length} templates`);
    assert.equal(all.body.total, items.length);
    for (const item of items) {
      assert.match(String(item['template_id']), /^\d+$/);
      assert.equal(typeof item['template_id'], 'string', 'int64 ids are strings');
      assert.equal(typeof item['display_name'], 'string');
      assert.match(String(item['effect_type']), /^[1-5]$/);
      assert.ok(Array.isArray(item['qualities']));
      assert.ok(item['template_type'] === 1 || item['template_type'] === 2);
    }
    const page = await two.api('GET', `${P}/videos/effects?email=a@x.com&limit=3&offset=4`);
    assert.equal(page.status, 200);
    assert.deepEqual(page.body.items, items.slice(4, 7));
    const past = await two.api('GET', `${P}/videos/effects?email=a@x.com&offset=500`);
    assert.deepEqual(past.body.items, []);
    // The platform's page fetches are what the gateway sent.
    const sent = h.proxy.received.filter((r) => r.path === '/openapi/v2/video/effects/templates/list');
    assert.ok(sent.length >= 3);
  });

  it('GET /videos/voices and /videos/restyles list the account catalogue', async () => {
    const voices = await one.api('GET', `${P}/videos/voices`);
    assert.equal(voices.status, 200, JSON.stringify(voices.body));
    assert.ok(voices.body.items.some((v: { speaker_id: string }) => v.speaker_id === 'Auto'));
    assert.ok(
      voices.body.items.every(
        (v: { speaker_id: unknown; name: unknown }) =>
          typeof v.speaker_id === 'string' && typeof v.name === 'string',
      ),
    );
    const restyles = await one.api('GET', `${P}/videos/restyles`);
    assert.equal(restyles.status, 200, JSON.stringify(restyles.body));
    assert.ok(restyles.body.items.length > 0);
    for (const r of restyles.body.items) {
      assert.match(r.restyle_id, /^\d+$/);
      assert.equal(typeof r.display_name, 'string');
    }
    // The key used was the tenant's only account's.
    const last = h.proxy.received.filter((r) => r.path === '/openapi/v2/video/restyle/list').pop()!;
    assert.equal(last.apiKey, one.keys['solo@x.com']);
  });

  it('GET /features reads live credits and reports maxJobs as gen_simultaneously', async () => {
    const before = await two.api('GET', `${P}/features?email=b@x.com`);
    assert.equal(before.status, 200, JSON.stringify(before.body));
    assert.equal(before.body.email, 'b@x.com');
    assert.equal(before.body.gen_simultaneously, 3);
    assert.equal(typeof before.body.credit_monthly, 'number');
    assert.equal(typeof before.body.credit_package, 'number');
    assert.match(before.body.account_id, /^\d+$/);
    await two.create('/videos/create', { prompt: 'spend credits', email: 'b@x.com' });
    const afterward = await two.api('GET', `${P}/features?email=B@X.com`);
    assert.ok(
      afterward.body.credit_monthly < before.body.credit_monthly,
      'a job spent credits on that account',
    );
    assert.equal((await two.api('GET', `${P}/features?email=a@x.com`)).body.gen_simultaneously, 8);
  });

  it('email rules: required with several accounts, 404 when unknown or none configured', async () => {
    for (const path of ['/videos/effects', '/videos/voices', '/videos/restyles', '/features']) {
      const missing = await two.api('GET', `${P}${path}`);
      assert.equal(missing.status, 400, `${path}: ${JSON.stringify(missing.body)}`);
      assert.match(missing.body.error, /email is required/);
      const unknown = await two.api('GET', `${P}${path}?email=nobody@x.com`);
      assert.equal(unknown.status, 404);
      assert.match(unknown.body.error, /nobody@x\.com/);
      const empty = await none.api('GET', `${P}${path}`);
      assert.equal(empty.status, 404);
      assert.match(empty.body.error, /POST \/accounts/);
      const anonymous = await call(h.url, 'GET', `${P}${path}`, null);
      assert.equal(anonymous.status, 401);
    }
    const bad = await one.api('GET', `${P}/videos/effects?limit=0`);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /limit/);
    const typo = await one.api('GET', `${P}/videos/effects?limt=5`);
    assert.equal(typo.status, 400);
    assert.match(typo.body.error, /unknown query parameter "limt"/);
  });

  it('endpoints the Platform API cannot serve answer 501 and say so', async () => {
    // Status polls of earlier jobs may still arrive; count everything else.
    const calls = () => h.proxy.received.filter((r) => !r.path.includes('/result/')).length;
    const before = calls();
    const cases: [string, string, unknown][] = [
      ['POST', '/speech/create', { text: 'hello', voice_id: 'x' }],
      ['POST', '/videos/create-final', { video_id: 'x' }],
      ['POST', '/images/upscale', { image_id: 'x' }],
      ['GET', '/speech/voices', undefined],
      ['GET', '/speech/models', undefined],
    ];
    for (const [method, path, body] of cases) {
      const res = await one.api(method, `${P}${path}`, body);
      assert.equal(res.status, 501, `${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 501);
      assert.match(res.body.error, /not available through the PixVerse Platform API/);
      const anonymous = await call(h.url, method, `${P}${path}`, null, body);
      assert.equal(anonymous.status, 401);
    }
    assert.equal(calls(), before, 'nothing reached PixVerse');
  });
});
