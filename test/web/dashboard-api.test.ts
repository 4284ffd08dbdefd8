/**
 * The dashboard's server side against a real gateway and simulator: who may read what, stream
 * tickets, the live stream and its coalescing, the static files. The page itself is exercised
 * in Chromium by dashboard.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Job } from '../../src/domain/job.ts';
import { History, BUCKET_MS } from '../../src/web/history.ts';
import { StreamTickets, TICKET_TTL_MS } from '../../src/web/tickets.ts';
import { addAccount, call, createTenant, startHarness, waitFor, type Harness } from '../helpers/harness.ts';
import { StreamReader, type Snapshot } from './sse.ts';

describe('dashboard API', () => {
  let h: Harness;
  let a: { userId: number; token: string };
  let b: { userId: number; token: string };

  before(async () => {
    h = await startHarness({ simulator: { durationMs: { min: 300, max: 600 } } });
    a = await createTenant(h, 'alpha');
    b = await createTenant(h, 'beta');
    await addAccount(h, a.token, 'one@alpha.io', 'sk-alpha-0001', 2);
    await addAccount(h, b.token, 'one@beta.io', 'sk-beta-00001', 1);
  });
  after(() => h.close());

  const ticket = async (token: string, body: unknown = {}) =>
    call<{ ticket: string; expiresAt: number }>(
      h.gw.url,
      'POST',
      '/dashboard/api/stream-ticket',
      token,
      body,
    );
  const stream = (t: string) =>
    new StreamReader().open(`${h.gw.url}/dashboard/api/stream?ticket=${encodeURIComponent(t)}`);

  it('serves the page and its files with a strict content policy', async () => {
    const page = await fetch(`${h.gw.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(await page.text(), /<script type="module" src="\/dashboard\/app.js">/);
    const js = await fetch(`${h.gw.url}/dashboard/app.js`);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    const etag = js.headers.get('etag')!;
    assert.equal(
      (await fetch(`${h.gw.url}/dashboard/app.js`, { headers: { 'if-none-match': etag } })).status,
      304,
    );
    const missing = await call(h.gw.url, 'GET', '/dashboard/secrets.txt', null);
    assert.deepEqual(missing.body, { error: 'No dashboard file secrets.txt', code: 404 });
  });

  it('answers who is signed in, and refuses bad tokens with the error envelope', async () => {
    assert.deepEqual((await call(h.gw.url, 'GET', '/dashboard/api/session', a.token)).body, {
      role: 'tenant',
      userId: a.userId,
      name: 'alpha',
    });
    assert.deepEqual((await call(h.gw.url, 'GET', '/dashboard/api/session', h.gw.adminToken)).body, {
      role: 'admin',
      userId: null,
      name: null,
    });
    for (const token of [null, 'user:1-nope', `${a.token}x`]) {
      const res = await call(h.gw.url, 'GET', '/dashboard/api/snapshot', token);
      assert.deepEqual([res.status, res.body], [401, { error: 'Unauthorized', code: 401 }]);
    }
  });

  it('shows a tenant only its own view; the admin any tenant and the tenant list', async () => {
    const own = await call<Snapshot>(h.gw.url, 'GET', '/dashboard/api/snapshot', a.token);
    assert.equal(own.status, 200);
    assert.equal(own.body.tenant.userId, a.userId);
    assert.deepEqual(
      own.body.accounts.map((x) => x.email),
      ['one@alpha.io'],
    );
    assert.equal(
      (await call(h.gw.url, 'GET', `/dashboard/api/snapshot?tenant=${b.userId}`, a.token)).status,
      403,
    );
    assert.equal((await call(h.gw.url, 'GET', '/dashboard/api/tenants', a.token)).status, 403);
    assert.equal((await ticket(a.token, { tenant: b.userId })).status, 403);

    const asAdmin = await call<Snapshot>(
      h.gw.url,
      'GET',
      `/dashboard/api/snapshot?tenant=${b.userId}`,
      h.gw.adminToken,
    );
    assert.deepEqual(
      asAdmin.body.accounts.map((x) => x.email),
      ['one@beta.io'],
    );
    const noTenant = await call(h.gw.url, 'GET', '/dashboard/api/snapshot', h.gw.adminToken);
    assert.deepEqual(
      [noTenant.status, noTenant.body.error],
      [400, 'tenant is required with the admin token'],
    );
    assert.equal(
      (await call(h.gw.url, 'GET', '/dashboard/api/snapshot?tenant=999', h.gw.adminToken)).status,
      404,
    );
    const bad = await call(h.gw.url, 'GET', '/dashboard/api/snapshot?tenant=abc', h.gw.adminToken);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /tenant/);

    const list = await call(h.gw.url, 'GET', '/dashboard/api/tenants', h.gw.adminToken);
    assert.deepEqual(
      list.body.tenants.map((t: { name: string }) => t.name),
      ['alpha', 'beta'],
    );
    assert.deepEqual(
      list.body.tenants[0].tokens.map((t: { label: string }) => t.label),
      ['initial'],
    );
    assert.equal(list.body.tenants[0].accounts, 1);
  });

  it('opens a stream only with a fresh ticket, once', async () => {
    assert.equal((await stream('bogus')).status, 401);
    const { ticket: t } = (await ticket(a.token)).body;
    // Another tenant's view cannot be had by editing the signed payload.
    const [payload, signature] = t.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { u: number };
    const forged = `${Buffer.from(JSON.stringify({ ...claims, u: b.userId })).toString('base64url')}.${signature}`;
    assert.equal((await stream(forged)).status, 401);

    const first = await stream(t);
    assert.equal(first.status, 200);
    await waitFor(async () => first.last);
    assert.equal(first.last!.tenant.userId, a.userId);
    const again = await stream(t);
    assert.equal(again.status, 401, 'a ticket opens one stream');
    first.close();
  });

  it('streams a burst of changes as a few coalesced snapshots, ending in the settled state', async () => {
    const { ticket: t } = (await ticket(h.gw.adminToken, { tenant: a.userId })).body;
    const live = await stream(t);
    await waitFor(async () => live.last);
    let events = 0;
    const count = (job: Job) => job.userId === a.userId && events++;
    const names = ['queued', 'dispatched', 'running', 'final'] as const;
    for (const name of names) h.gw.scheduler.events.on(name, count);
    const before = live.snapshots.length;
    const creates = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        call(h.gw.url, 'POST', '/v2/pixverse/videos/create', a.token, { prompt: `burst ${i}`, queue: true }),
      ),
    );
    assert.deepEqual(
      creates.map((c) => c.status),
      Array(12).fill(200),
    );
    const busy = await waitFor(
      async () =>
        live.snapshots.slice(before).find((s) => s.accounts[0]!.executing === 2 && s.queue.total > 0),
      20_000,
    );
    assert.deepEqual(
      busy.queue.items.map((q) => q.position),
      Array.from({ length: busy.queue.total }, (_, i) => i + 1),
    );
    await waitFor(
      async () => live.last!.accounts[0]!.executing === 0 && live.last!.queue.total === 0 && events >= 12 * 4,
      30_000,
    );
    for (const name of names) h.gw.scheduler.events.off(name, count);
    const sent = live.snapshots.length - before;
    // 48 scheduler events (4 per job) over the burst; one snapshot per event would be 48.
    assert.ok(sent < events / 2, `${sent} snapshots for ${events} events`);
    assert.equal(live.last!.running.length, 0);
    live.close();
  });

  it('ends the streams of a revoked token', async () => {
    const extra = await call(h.gw.url, 'POST', `/admin/users/${b.userId}/tokens`, h.gw.adminToken, {
      label: 'short-lived',
    });
    const live = await stream((await ticket(extra.body.token)).body.ticket);
    await waitFor(async () => live.last);
    const revoked = await call(
      h.gw.url,
      'DELETE',
      `/admin/users/${b.userId}/tokens/${extra.body.id}`,
      h.gw.adminToken,
    );
    assert.equal(revoked.status, 204);
    await waitFor(async () => live.events.includes('signed-out'), 15_000);
    await live.done; // the server closed it
    assert.equal((await ticket(extra.body.token)).status, 401);
  });

  it('shows failures the moment they happen', async () => {
    const { ticket: t } = (await ticket(b.token)).body;
    const live = await stream(t);
    await waitFor(async () => live.last);
    const res = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', b.token, {
      prompt: 'doomed #sim:fail',
    });
    assert.equal(res.status, 200);
    const failed = await waitFor(
      async () => live.last!.failures.find((f) => f.id === res.body.video_id),
      20_000,
    );
    assert.equal(failed.state, 'failed');
    live.close();
  });

  it('ends open streams when the gateway shuts down instead of waiting for them', async () => {
    const live = await stream((await ticket(a.token)).body.ticket);
    await waitFor(async () => live.last);
    await h.gw.close();
    await live.done;
  });
});

describe('stream tickets', () => {
  it('expire after their time to live and reject other keys', () => {
    let now = 1_000_000;
    const tickets = new StreamTickets(StreamTickets.keyFrom('master-one'), () => now);
    const other = new StreamTickets(StreamTickets.keyFrom('master-two'), () => now);
    const issued = tickets.issue(7, 3);
    assert.equal(issued.expiresAt, now + TICKET_TTL_MS);
    assert.equal(other.redeem(issued.ticket), null, 'signed with another key');
    now += TICKET_TTL_MS;
    assert.equal(tickets.redeem(issued.ticket), null, 'expired');
    const fresh = tickets.issue(7, null);
    assert.deepEqual(tickets.redeem(fresh.ticket), {
      userId: 7,
      tokenId: null,
      expiresAt: now + TICKET_TTL_MS,
    });
    assert.equal(tickets.redeem(fresh.ticket), null, 'used');
  });
});

describe('dashboard history', () => {
  it('counts finished jobs per minute and carries the queue depth into quiet minutes', () => {
    const history = new History();
    const t0 = 100 * 60 * BUCKET_MS; // a minute boundary
    history.sample(1, 4, 2, t0);
    history.sample(1, 9, 2, t0 + 1000);
    history.sample(1, 6, 1, t0 + 2000);
    history.finished(1, true, t0 + 3000);
    history.finished(1, false, t0 + 4000);
    history.finished(1, true, t0 + 2 * BUCKET_MS);
    history.finished(2, true, t0);
    const series = history.series(1, t0 + 3 * BUCKET_MS);
    assert.equal(series.completed.length, 60);
    assert.equal(series.start, t0 + 3 * BUCKET_MS - 59 * BUCKET_MS);
    assert.deepEqual(series.completed.slice(-4), [1, 0, 1, 0]);
    assert.deepEqual(series.failed.slice(-4), [1, 0, 0, 0]);
    assert.deepEqual(
      series.queueDepth.slice(-4),
      [9, 6, 6, 6],
      'peak of its minute, then the last sample carried on',
    );
    assert.deepEqual(series.running.slice(-4), [2, 1, 1, 1]);
    assert.deepEqual(series.queueDepth.slice(0, 56), Array(56).fill(0));
    assert.deepEqual(
      history.series(1, t0 + 70 * BUCKET_MS).completed,
      Array(60).fill(0),
      'an hour later it is gone',
    );
  });
});
