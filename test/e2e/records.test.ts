/**
 * Over real HTTP (gateway + simulator on loopback, a real callback receiver): untracking keeps
 * the result, the list routes read Pixgate's own records, DELETE /videos|images/{id} says what it
 * did, and /scheduler/available tells the truth about accounts that cannot take a job.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Receiver } from '../callbacks/receiver.ts';
import {
  addAccount,
  call,
  createTenant,
  sleep,
  startHarness,
  waitFor,
  type Harness,
} from '../helpers/harness.ts';

const P = '/v2/pixverse';

describe('untrack, lists and delete over HTTP', () => {
  let h: Harness;
  let receiver: Receiver;

  before(async () => {
    h = await startHarness({ simulator: { maxConcurrent: 20 } });
    receiver = await Receiver.start();
  });
  after(async () => {
    await receiver.close();
    await h.close();
  });

  const api = (method: string, path: string, token: string, body?: unknown) =>
    call(h.gw.url, method, `${P}${path}`, token, body);
  const settled = (token: string, kind: 'videos' | 'images', id: string) =>
    waitFor(async () => {
      const res = await api('GET', `/${kind}/${id}`, token);
      return res.body[`${kind === 'videos' ? 'video' : 'image'}_status_final`] ? res.body : null;
    });

  it('DELETE /scheduler/{id}: slot freed at once, result readable later, follow-ups accepted, no callback unless asked', async () => {
    const { token } = await createTenant(h, 'untrack');
    await addAccount(h, token, 'one@x.com', 'sim-key-untrack', 1);
    const created = await api('POST', '/videos/create', token, {
      prompt: 'long one #sim:duration=1500',
      replyUrl: receiver.url,
      replyRef: 'u1',
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const id = created.body.video_id as string;
    await waitFor(async () => (await api('GET', `/videos/${id}`, token)).body.state === 'running');
    assert.equal((await api('POST', '/videos/create', token, { prompt: 'no room' })).status, 429);

    assert.equal((await api('DELETE', `/scheduler/${id}`, token)).status, 204);
    const view = await api('GET', '/scheduler/available', token);
    assert.deepEqual(view.body.executing, []);
    assert.deepEqual(
      view.body.available.map((r: { available: number }) => r.available),
      [1],
      'the slot is free at once',
    );
    const during = await api('GET', `/videos/${id}`, token);
    assert.equal(during.body.video_status_name, 'GENERATING', 'PixVerse goes on: not cancelled');
    assert.equal((await api('DELETE', `/scheduler/${id}`, token)).status, 404, 'nothing left to untrack');

    // The freed slot takes new work while the untracked job still runs upstream.
    const next = await api('POST', '/videos/create', token, { prompt: 'takes the slot #sim:duration=300' });
    assert.equal(next.status, 200, JSON.stringify(next.body));

    const done = await settled(token, 'videos', id);
    assert.equal(done.video_status_name, 'COMPLETED');
    assert.ok(String(done.url).startsWith(`${h.sim.url}/media/video/`), done.url);
    const file = await fetch(done.url);
    assert.equal(file.status, 200);
    assert.equal(
      Buffer.from(await file.arrayBuffer())
        .subarray(4, 8)
        .toString('latin1'),
      'ftyp',
    );

    const extend = await api('POST', '/videos/extend', token, {
      video_id: id,
      prompt: 'and then',
      maxJobs: 2,
    });
    assert.notEqual(extend.status, 400, JSON.stringify(extend.body));
    assert.ok([200, 429].includes(extend.status), JSON.stringify(extend.body));

    // No callback for the untracked job (its end is known, and nothing was queued for it).
    const deliveries = await call(
      h.gw.url,
      'GET',
      `/v2/callbacks/deliveries?job=${encodeURIComponent(id)}`,
      token,
    );
    assert.equal(deliveries.status, 200, JSON.stringify(deliveries.body));
    assert.equal(JSON.stringify(deliveries.body).includes('u1'), false, JSON.stringify(deliveries.body));
    assert.equal(
      receiver.received.some((r) => r.body.includes(id)),
      false,
    );

    // ?callback=true keeps it.
    const kept = await api('POST', '/videos/create', token, {
      prompt: 'keep #sim:duration=600',
      replyUrl: receiver.url,
      replyRef: 'u2',
      maxJobs: 2,
    });
    assert.equal(kept.status, 200, JSON.stringify(kept.body));
    await waitFor(
      async () => (await api('GET', `/videos/${kept.body.video_id}`, token)).body.state === 'running',
    );
    assert.equal((await api('DELETE', `/scheduler/${kept.body.video_id}?callback=true`, token)).status, 204);
    await waitFor(async () => receiver.received.find((r) => r.body.includes(kept.body.video_id)));
    const body = JSON.parse(receiver.received.find((r) => r.body.includes(kept.body.video_id))!.body);
    assert.deepEqual([body.video_status_name, body.replyRef], ['COMPLETED', 'u2']);
  });

  it('GET /videos|images|music: own records, queued included, email filter, paging, newest first, tenants apart', async () => {
    const a = await createTenant(h, 'lists-a');
    const b = await createTenant(h, 'lists-b');
    await addAccount(h, a.token, 'la1@x.com', 'sim-key-lists-1', 2);
    await addAccount(h, a.token, 'la2@x.com', 'sim-key-lists-2', 2);
    await addAccount(h, b.token, 'lb@x.com', 'sim-key-lists-3', 2);
    const ids: string[] = [];
    for (const email of ['la1@x.com', 'la1@x.com', 'la2@x.com']) {
      const res = await api('POST', '/videos/create', a.token, { prompt: 'hold #sim:duration=3000', email });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      ids.push(res.body.video_id);
    }
    const waiting = await api('POST', '/videos/create', a.token, {
      prompt: 'waits',
      email: 'la1@x.com',
      queue: true,
    });
    assert.equal(waiting.status, 200, JSON.stringify(waiting.body));
    ids.push(waiting.body.video_id);
    await api('POST', '/videos/create', b.token, { prompt: 'other tenant' });

    const all = await api('GET', '/videos', a.token);
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.deepEqual(
      all.body.data.map((v: { video_id: string }) => v.video_id),
      [...ids].reverse(),
      'newest first, own jobs only',
    );
    assert.equal(all.body.total, 4);
    assert.equal(all.body.data[0].video_status_name, 'QUEUED');
    assert.equal(all.body.has_more, false);

    const onLa1 = await api('GET', '/videos?email=LA1@x.com', a.token);
    assert.deepEqual(
      onLa1.body.data.map((v: { video_id: string }) => v.video_id),
      [ids[3], ids[1], ids[0]],
    );
    const page = await api('GET', '/videos?limit=2&offset=1', a.token);
    assert.deepEqual(
      page.body.data.map((v: { video_id: string }) => v.video_id),
      [ids[2], ids[1]],
    );
    assert.deepEqual([page.body.total, page.body.has_more, page.body.next_offset], [4, true, 3]);
    assert.deepEqual((await api('GET', '/images', a.token)).body.data, []);
    assert.deepEqual((await api('GET', '/music', a.token)).body, {
      data: [],
      total: 0,
      has_more: false,
      next_offset: null,
    });
    assert.equal((await api('GET', '/videos', b.token)).body.total, 1);
  });

  it('DELETE /videos/{id}: running → untracked and hidden; final → hidden; queued → cancelled; unknown → 404', async () => {
    const { token } = await createTenant(h, 'delete');
    await addAccount(h, token, 'del@x.com', 'sim-key-delete', 1);
    const run = (
      await api('POST', '/videos/create', token, {
        prompt: 'runs #sim:duration=1500',
        replyUrl: receiver.url,
        replyRef: 'd1',
      })
    ).body.video_id as string;
    const queued = await api('POST', '/videos/create', token, {
      prompt: 'waits',
      queue: true,
      replyUrl: receiver.url,
    });
    assert.equal(queued.status, 200, JSON.stringify(queued.body));
    await waitFor(async () => (await api('GET', `/videos/${run}`, token)).body.state === 'running');

    // Deleting the waiting job first: it never reached PixVerse.
    const cancelled = await api('DELETE', `/videos/${queued.body.video_id}`, token);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.equal(cancelled.body.action, 'cancelled');

    const untracked = await api('DELETE', `/videos/${run}`, token);
    assert.equal(untracked.status, 200, JSON.stringify(untracked.body));
    assert.deepEqual(
      [untracked.body.deleted, untracked.body.action, untracked.body.video_id],
      [true, 'untracked', run],
    );
    assert.match(untracked.body.message, /PixVerse .*keeps its copy/);
    assert.deepEqual(
      (await api('GET', '/scheduler/available', token)).body.executing,
      [],
      'its slot is free',
    );
    assert.equal((await api('GET', `/videos/${run}`, token)).status, 404, 'gone from reads');
    assert.equal((await api('GET', '/videos', token)).body.total, 0, 'gone from lists');
    assert.equal((await api('DELETE', `/videos/${run}`, token)).status, 404, 'already deleted');

    const final = (await api('POST', '/videos/create', token, { prompt: 'quick #sim:duration=200' })).body
      .video_id as string;
    await settled(token, 'videos', final);
    const hidden = await api('DELETE', `/videos/${final}`, token);
    assert.deepEqual([hidden.status, hidden.body.action], [200, 'deleted']);
    assert.match(hidden.body.message, /Platform API has no delete/);

    const unknown = await api('DELETE', `/videos/${final.replace(/\d+$/, '123456789012345')}`, token);
    assert.equal(unknown.status, 404);
    await sleep(1800);
    assert.equal(
      receiver.received.some((r) => r.body.includes('d1') || r.body.includes(queued.body.video_id)),
      false,
      'no callback for deleted jobs',
    );
  });

  it('/scheduler/available: an account cooling down shows available 0 with its end, and Retry-After follows it', async () => {
    const { token } = await createTenant(h, 'truth');
    await addAccount(h, token, 'cool@x.com', 'sim-key-truth', 3);
    const limited = await api('POST', '/videos/create', token, {
      prompt: 'x #sim:rate-limit',
      email: 'cool@x.com',
    });
    assert.equal(limited.status, 429, JSON.stringify(limited.body));
    const row = (await api('GET', '/scheduler/available', token)).body.available[0];
    assert.deepEqual([row.state, row.available, row.executing, row.maxJobs], ['cooldown', 0, 0, 3]);
    const until = Date.parse(row.cooldownUntil);
    assert.ok(until > Date.now());
    const refused = await api('POST', '/videos/create', token, { prompt: 'again', email: 'cool@x.com' });
    assert.equal(refused.status, 429);
    const retry = Number(refused.headers.get('retry-after'));
    assert.ok(Math.abs(retry - (until - Date.now()) / 1000) <= 2, `Retry-After ${retry} vs cool-down end`);
  });
});
