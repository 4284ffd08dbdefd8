/**
 * The OpenAPI document: valid OpenAPI 3.1, and it lists every route the app registers (compared
 * with Fastify's onRoute list), each with its error answers. Routes left out on purpose are the
 * short allow-list below. The reference page at /docs is served locally and reads the document.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { RouteOptions } from 'fastify';
import { call, startHarness, type Harness } from '../helpers/harness.ts';

/**
 * Not part of the public API document: the scrape endpoint, the document and page themselves, and
 * the dashboard's static files (its JSON API is documented).
 */
const HIDDEN = new Set(['GET /metrics', 'GET /openapi.json', 'GET /docs', 'GET /', 'GET /dashboard/:file']);

interface Operation {
  security?: unknown[];
  responses: Record<string, unknown>;
  parameters?: unknown[];
  requestBody?: unknown;
}

describe('OpenAPI 3.1 document', () => {
  let h: Harness;
  const registered: string[] = [];
  let doc: { openapi: string; paths: Record<string, Record<string, Operation>> };

  before(async () => {
    h = await startHarness({
      onRoute: (route: RouteOptions) => {
        const methods = Array.isArray(route.method) ? route.method : [route.method];
        // Fastify adds a HEAD twin for every GET; it is not a route of its own.
        for (const method of methods) if (method !== 'HEAD') registered.push(`${method} ${route.url}`);
      },
    });
    const res = await call(h.gw.url, 'GET', '/openapi.json', null);
    assert.equal(res.status, 200);
    doc = res.body;
  });
  after(() => h.close());

  it('validates as OpenAPI 3.1', async () => {
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    const result = await new Validator().validate(structuredClone(doc));
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2)?.slice(0, 4000));
  });

  it('lists every registered route, and only those, apart from the hidden allow-list', () => {
    assert.ok(
      registered.length > 40,
      `expected the whole API to be registered, saw ${registered.length} routes`,
    );
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`),
    );
    const expected = [...new Set(registered)].filter((route) => !HIDDEN.has(route)).sort();
    assert.deepEqual([...new Set(documented)].sort(), expected);
    for (const hidden of HIDDEN)
      assert.ok(registered.includes(hidden), `${hidden} is on the allow-list but not registered`);
  });

  it('gives every operation its error answers in the envelope', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const where = `${method.toUpperCase()} ${path}`;
        assert.ok(op.responses['500'], `${where} documents 500`);
        if (op.parameters?.length || op.requestBody)
          assert.ok(op.responses['400'], `${where} has input, so documents 400`);
        const open = Array.isArray(op.security) && op.security.length === 0;
        if (path.startsWith('/v2/') || path.startsWith('/admin/')) {
          assert.equal(open, false, `${where} needs a token`);
          assert.ok(op.responses['401'], `${where} documents 401`);
        }
      }
    }
    assert.equal(doc.paths['/healthz']?.['get']?.security?.length, 0, '/healthz takes no token');
    const created = doc.paths['/v2/pixverse/videos/create']?.['post'];
    assert.ok(created, 'the video create is documented');
    assert.ok(created.responses['429'], 'the create documents its 429');
    assert.match(
      JSON.stringify(created.responses['401']),
      /#\/components\/schemas\/ErrorBody/,
      'errors use the shared envelope schema',
    );
  });

  it('serves the reference page locally, and it reads the document', async () => {
    const res = await fetch(`${h.gw.url}/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const html = await res.text();
    assert.match(html, /fetch\('openapi\.json'\)/);
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href="https?:/, 'no external assets');
  });
});
