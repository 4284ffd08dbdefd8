/**
 * Fuzz: fast-check over every route of the OpenAPI document — path parameters, query, headers
 * and body (JSON of any shape, broken JSON, other content types) with a valid tenant token, a bad
 * one or none. Never a 5xx (but the designed 501 of routes the Platform API cannot serve), never a crash, every error in the `{error, code}` envelope.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { addAccount, createTenant, startHarness, type Harness } from '../helpers/harness.ts';
import { PROOF_FULL } from './lib/gateways.ts';
import { figures } from './lib/run.ts';

const RUNS = PROOF_FULL ? 10_000 : 600;

interface Route {
  method: string;
  path: string;
}

describe('proof: fuzz', () => {
  let h: Harness;
  let token: string;
  let routes: Route[];
  const statuses = new Map<number, number>();

  before(async () => {
    h = await startHarness({ simulator: { maxConcurrent: 4 } });
    ({ token } = await createTenant(h));
    await addAccount(h, token, 'a@example.com', 'sim-key-fuzz-a', 2);
    const doc = (await (await fetch(`${h.gw.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path })),
    );
    routes.push({ method: 'POST', path: '/upstream/pixverse/webhook' }, { method: 'GET', path: '/health' });
  });
  after(() => h.close());

  it(`${RUNS} random requests: no 5xx, every error in the envelope`, async () => {
    const text = fc.oneof(
      fc.string(),
      fc.constantFrom(
        '',
        '..',
        '%',
        '%zz',
        'user:1-pixverse:a@example.com-video:1',
        'a@example.com',
        '-1',
        '1e309',
        '\u0000',
      ),
    );
    const json = fc.jsonValue({ maxDepth: 3 });
    const body = fc.oneof(
      fc.constant(undefined),
      json.map((v) => ({ type: 'application/json', data: JSON.stringify(v) })),
      fc
        .dictionary(
          fc.constantFrom(
            'prompt',
            'email',
            'replyUrl',
            'maxJobs',
            'queue',
            'priority',
            'duration',
            'model',
            'quality',
            'apiKey',
            'weight',
            'since',
          ),
          json,
        )
        .map((v) => ({ type: 'application/json', data: JSON.stringify(v) })),
      fc.string().map((s) => ({ type: 'application/json', data: s })),
      fc
        .tuple(
          fc.constantFrom(
            'text/plain',
            'image/png',
            'application/octet-stream',
            'application/x-www-form-urlencoded',
            'multipart/form-data',
            'weird/type',
          ),
          fc.string(),
        )
        .map(([type, data]) => ({ type, data })),
    );
    const auth = fc.constantFrom('valid', 'none', 'garbage', 'admin');
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: routes.length - 1 }),
        fc.array(text, { minLength: 3, maxLength: 3 }),
        fc.dictionary(fc.constantFrom('email', 'job', 'state', 'since', 'limit', 'x', 'queue'), text, {
          maxKeys: 3,
        }),
        body,
        auth,
        fc.dictionary(
          fc.constantFrom(
            'idempotency-key',
            'webhook-signature',
            'x-pixverse-signature',
            'accept',
            'x-forwarded-for',
          ),
          fc.string({ maxLength: 40 }).filter((v) => /^[\x20-\x7e]*$/.test(v)),
          { maxKeys: 2 },
        ),
        async (index, params, query, payload, who, extra) => {
          const route = routes[index]!;
          let n = 0;
          const path = route.path.replace(/\{[^}]+\}/g, () =>
            encodeURIComponent(params[n++ % params.length]!),
          );
          const search = new URLSearchParams(query).toString();
          const headers: Record<string, string> = { ...extra };
          if (who === 'valid') headers['authorization'] = `Bearer ${token}`;
          if (who === 'garbage') headers['authorization'] = 'Bearer user:1-nope';
          if (who === 'admin') headers['authorization'] = `Bearer ${h.gw.adminToken}`;
          const init: RequestInit = { method: route.method, headers };
          if (payload && route.method !== 'GET' && route.method !== 'HEAD') {
            headers['content-type'] = payload.type;
            init.body = payload.data;
          }
          const res = await fetch(`${h.gw.url}${path}${search ? `?${search}` : ''}`, init);
          const raw = await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          // 501 is designed: useapi routes PixVerse's Platform API cannot serve (compat/unavailable.ts).
          assert.ok(
            res.status < 500 || res.status === 501,
            `${route.method} ${path}?${search} → ${res.status} ${raw.slice(0, 300)}`,
          );
          if (res.status >= 400) {
            const parsed = JSON.parse(raw) as { error?: unknown; code?: unknown };
            assert.equal(typeof parsed.error, 'string', `${route.method} ${path}: ${raw.slice(0, 300)}`);
            assert.equal(parsed.code, res.status, `${route.method} ${path}: ${raw.slice(0, 300)}`);
          }
        },
      ),
      { numRuns: RUNS, seed: PROOF_FULL ? undefined : 20261203 },
    );
    const health = await fetch(`${h.gw.url}/health`);
    assert.equal(health.status, 200, 'still alive');
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    const errors = [...statuses.entries()].filter(([s]) => s >= 400).reduce((a, [, c]) => a + c, 0);
    const at = (lo: number, hi: number) =>
      [...statuses.entries()].filter(([s]) => s >= lo && s < hi).reduce((a, [, c]) => a + c, 0);
    figures('fuzz', {
      cases: total,
      routes: routes.length,
      ok_2xx: total - errors,
      errors_4xx: at(400, 500),
      designed_501: statuses.get(501) ?? 0,
      other_5xx: at(500, 600) - (statuses.get(501) ?? 0),
      crashes: 0,
    });
  });
});
