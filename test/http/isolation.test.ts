/**
 * Multi-tenant isolation (reference §1.3): a tenant never sees, cancels or uses another
 * tenant's jobs, accounts or uploads, even when both configure the same PixVerse email.
 * Token lifecycle through the admin API: a second token shares its tenant's data, and a
 * revoked token is refused at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  addAccount,
  call,
  createTenant,
  startHarness,
  type Harness,
  type Reply,
} from '../helpers/harness.ts';

const P = '/v2/pixverse';
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
const LONG = '#sim:duration=8000';
const SECRET_PROMPT = 'tenant-A-secret-prompt';

interface Tenant {
  userId: number;
  token: string;
}

describe('tenant isolation', () => {
  let h: Harness;
  let A: Tenant;
  let B: Tenant;
  /** A's long-running jobs. */
  const jobs = { video: '', image: '', same: '' };

  before(async () => {
    // Every job here outlasts the test: the image template's body has no prompt for a #sim marker.
    h = await startHarness({ simulator: { maxConcurrent: 50, durationMs: { min: 60_000, max: 60_000 } } });
    A = await createTenant(h, 'A');
    B = await createTenant(h, 'B');
    await addAccount(h, A.token, 'a1@x.com', 'pk-tenant-a1-0123456789', 4);
    await addAccount(h, A.token, 'a2@x.com', 'pk-tenant-a2-0123456789', 2);
    // Both tenants configure the same PixVerse email, each with its own key.
    await addAccount(h, A.token, 'same@x.com', 'pk-tenant-a-same-0123456789', 2);
    await addAccount(h, B.token, 'b1@x.com', 'pk-tenant-b1-0123456789', 3);
    await addAccount(h, B.token, 'same@x.com', 'pk-tenant-b-same-0123456789', 2);

    const create = async (kind: string, body: Record<string, unknown>, key: string) => {
      const res = await call(h.gw.url, 'POST', `${P}/${kind}/create`, A.token, body);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body[key] as string;
    };
    jobs.video = await create(
      'videos',
      { prompt: `${SECRET_PROMPT} ${LONG}`, email: 'a1@x.com', replyRef: 'a-ref' },
      'video_id',
    );
    // An image from an image effect template (the Platform's only image operation).
    const frame = await call(h.gw.url, 'POST', `${P}/files?email=a1@x.com`, A.token, PNG, {
      'content-type': 'image/png',
    });
    assert.equal(frame.status, 200, JSON.stringify(frame.body));
    jobs.image = await create(
      'videos',
      { template_id: 302325299692635, first_frame_path: frame.body.result[0].path },
      'image_id',
    );
    jobs.same = await create(
      'videos',
      { prompt: `${SECRET_PROMPT} ${LONG}`, email: 'same@x.com' },
      'video_id',
    );
  });
  after(async () => {
    await h?.close();
  });

  const api = (
    method: string,
    path: string,
    token: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) => call(h.gw.url, method, path, token, body, headers);
  /** A refusal that reveals nothing about the job. */
  function assertDenied(res: Reply, context: string) {
    assert.ok([403, 404].includes(res.status), `${context}: ${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(res.body?.code, res.status, context);
    assert.equal(typeof res.body?.error, 'string', context);
    const text = JSON.stringify(res.body);
    assert.ok(!text.includes(SECRET_PROMPT), `${context}: leaks the prompt`);
    assert.ok(!/_status|upstream_id|"url"/.test(text), `${context}: looks like a job view: ${text}`);
  }
  async function assertAJobsRunning() {
    const view = await api('GET', `${P}/scheduler/available`, A.token);
    const ids = view.body.executing.map((e: { id: string }) => e.id).sort();
    assert.deepEqual(ids, Object.values(jobs).sort(), "A's jobs are all still executing");
    const video = await api('GET', `${P}/videos/${jobs.video}`, A.token);
    assert.equal(video.status, 200);
    assert.equal(video.body.video_status_name, 'GENERATING');
  }
  /** B's version of one of A's ids: same email and upstream number, B's user number. */
  const forged = (id: string) => id.replace(`user:${A.userId}-`, `user:${B.userId}-`);

  it("B cannot read A's jobs (raw, percent-encoded or with B's user number forged in)", async () => {
    for (const [kind, id] of [
      ['videos', jobs.video],
      ['images', jobs.image],
      ['videos', jobs.same],
    ] as const) {
      assertDenied(await api('GET', `${P}/${kind}/${id}`, B.token), `GET ${kind} raw`);
      assertDenied(
        await api('GET', `${P}/${kind}/${encodeURIComponent(id)}`, B.token),
        `GET ${kind} encoded`,
      );
      const res = await api('GET', `${P}/${kind}/${forged(id)}`, B.token);
      assert.equal(res.status, 404, `forged ${kind} id: ${JSON.stringify(res.body)}`);
      assertDenied(res, `GET ${kind} forged`);
    }
    // Lists are per tenant, and B cannot delete A's jobs.
    for (const kind of ['videos', 'images']) {
      const list = await api('GET', `${P}/${kind}`, B.token);
      assert.deepEqual([list.status, list.body.total], [200, 0], `B's ${kind} list`);
      assert.equal(
        (await api('GET', `${P}/${kind}`, A.token)).body.total,
        kind === 'videos' ? 2 : 1,
        `A's ${kind} list`,
      );
    }
    for (const [kind, id] of [
      ['videos', jobs.video],
      ['images', jobs.image],
    ] as const) {
      assertDenied(await api('DELETE', `${P}/${kind}/${id}`, B.token), `DELETE ${kind}`);
      assert.equal((await api('DELETE', `${P}/${kind}/${forged(id)}`, B.token)).status, 404);
    }
    // A reads its own job fine.
    const own = await api('GET', `${P}/videos/${jobs.video}`, A.token);
    assert.equal(own.status, 200);
    assert.match(own.body.prompt, new RegExp(SECRET_PROMPT));
  });

  it("B cannot cancel A's jobs; they keep running", async () => {
    for (const id of Object.values(jobs)) {
      assertDenied(await api('DELETE', `${P}/scheduler/${id}`, B.token), 'DELETE raw');
      assertDenied(
        await api('DELETE', `${P}/scheduler/${encodeURIComponent(id)}`, B.token),
        'DELETE encoded',
      );
      const res = await api('DELETE', `${P}/scheduler/${forged(id)}`, B.token);
      assert.equal(res.status, 404, JSON.stringify(res.body));
    }
    await assertAJobsRunning();
  });

  it("B cannot see, delete or pin A's accounts, nor use A's uploads", async () => {
    const mine = await api('GET', `${P}/accounts`, B.token);
    assert.equal(mine.status, 200);
    assert.deepEqual(Object.keys(mine.body).sort(), ['b1@x.com', 'same@x.com']);
    assert.ok(!JSON.stringify(mine.body).includes('a1@x.com'));

    for (const email of ['a1@x.com', 'a2@x.com']) {
      const one = await api('GET', `${P}/accounts/${email}`, B.token);
      assert.equal(one.status, 404, JSON.stringify(one.body));
      const del = await api('DELETE', `${P}/accounts/${email}`, B.token);
      assert.equal(del.status, 404, JSON.stringify(del.body));
      for (const kind of ['videos']) {
        const pinned = await api('POST', `${P}/${kind}/create`, B.token, { prompt: 'borrow', email });
        assert.equal(pinned.status, 404, `${kind} pinned to ${email}: ${JSON.stringify(pinned.body)}`);
        assert.equal(pinned.body.code, 404);
      }
      const upload = await api('POST', `${P}/files?email=${email}`, B.token, PNG, {
        'content-type': 'image/png',
      });
      assert.equal(upload.status, 404, JSON.stringify(upload.body));
    }
    // B's own same@x.com is B's: reading it shows B's record, not A's.
    const same = await api('GET', `${P}/accounts/same@x.com`, B.token);
    assert.equal(same.status, 200);
    assert.equal(same.body.maxJobs, 2);

    // An image A uploaded is A's: B cannot animate it (B has no a1@x.com account).
    const upload = await api('POST', `${P}/files?email=a1@x.com`, A.token, PNG, {
      'content-type': 'image/png',
    });
    assert.equal(upload.status, 200, JSON.stringify(upload.body));
    const stolen = await api('POST', `${P}/videos/create`, B.token, {
      prompt: 'steal',
      first_frame_path: upload.body.result[0].path,
    });
    assert.equal(stolen.status, 404, JSON.stringify(stolen.body));

    // Nothing of the above touched A.
    const aAccounts = await api('GET', `${P}/accounts`, A.token);
    assert.deepEqual(Object.keys(aAccounts.body).sort(), ['a1@x.com', 'a2@x.com', 'same@x.com']);
    await assertAJobsRunning();
    const bView = await api('GET', `${P}/scheduler/available`, B.token);
    assert.deepEqual(bView.body.executing, [], "B's refused requests started nothing");
  });

  it("B's /scheduler and /scheduler/available show nothing of A, even on the shared email", async () => {
    const list = await api('GET', `${P}/scheduler`, B.token);
    assert.deepEqual(list.body, []);
    const view = await api('GET', `${P}/scheduler/available`, B.token);
    assert.deepEqual(view.body.executing, []);
    assert.deepEqual(
      view.body.available
        .map((r: { email: string; maxJobs: number; executing: number; available: number }) => [
          r.email,
          r.maxJobs,
          r.executing,
          r.available,
        ])
        .sort(),
      [
        ['b1@x.com', 3, 0, 3],
        ['same@x.com', 2, 0, 2],
      ],
    );
    const text = JSON.stringify([list.body, view.body]);
    assert.ok(!text.includes(`user:${A.userId}-`), text);
    assert.ok(!text.includes('a1@x.com') && !text.includes('a2@x.com'), text);

    // A's view of the same email counts A's job; B's job on its same@x.com counts only for B.
    const bJob = await api('POST', `${P}/videos/create`, B.token, {
      prompt: `b ${LONG}`,
      email: 'same@x.com',
    });
    assert.equal(bJob.status, 200, JSON.stringify(bJob.body));
    assert.match(bJob.body.video_id, new RegExp(`^user:${B.userId}-pixverse:same@x\\.com-video:`));
    const aView = await api('GET', `${P}/scheduler/available`, A.token);
    const aSame = aView.body.available.find((r: { email: string }) => r.email === 'same@x.com');
    assert.deepEqual([aSame.executing, aSame.available], [1, 1]);
    assert.ok(!aView.body.executing.some((e: { id: string }) => e.id === bJob.body.video_id));
    const bAfter = await api('GET', `${P}/scheduler/available`, B.token);
    assert.deepEqual(
      bAfter.body.executing.map((e: { id: string }) => e.id),
      [bJob.body.video_id],
    );
    // And A cannot read B's job either.
    assertDenied(await api('GET', `${P}/videos/${bJob.body.video_id}`, A.token), 'A reads B');
    assert.equal((await api('DELETE', `${P}/scheduler/${bJob.body.video_id}`, B.token)).status, 204);
  });

  it('a token with its user number changed is refused', async () => {
    const swapped = A.token.replace(/^user:\d+-/, `user:${B.userId}-`);
    assert.notEqual(swapped, A.token);
    const res = await api('GET', `${P}/accounts`, swapped);
    assert.deepEqual(res.body, { error: 'Unauthorized', code: 401 });
  });

  it('a second token of the same tenant sees the same accounts and jobs; revoking it → 401 at once', async () => {
    const issued = await api('POST', `/admin/users/${A.userId}/tokens`, h.gw.adminToken, { label: 'second' });
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    const second: string = issued.body.token;
    assert.notEqual(second, A.token);
    assert.match(second, new RegExp(`^user:${A.userId}-`));

    const viaFirst = await api('GET', `${P}/accounts`, A.token);
    const viaSecond = await api('GET', `${P}/accounts`, second);
    assert.equal(viaSecond.status, 200);
    assert.deepEqual(viaSecond.body, viaFirst.body);
    const executing = await api('GET', `${P}/scheduler`, second);
    assert.deepEqual(executing.body.map((e: { id: string }) => e.id).sort(), Object.values(jobs).sort());
    const job = await api('GET', `${P}/videos/${jobs.video}`, second);
    assert.equal(job.status, 200);
    assert.equal(job.body.video_id, jobs.video);

    // A job created with the second token belongs to the tenant: the first token cancels it.
    const created = await api('POST', `${P}/videos/create`, second, {
      prompt: `second ${LONG}`,
      email: 'a2@x.com',
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.match(created.body.video_id, new RegExp(`^user:${A.userId}-`));
    assert.equal((await api('DELETE', `${P}/scheduler/${created.body.video_id}`, A.token)).status, 204);

    // B's admin path cannot revoke A's token.
    const wrongUser = await api(
      'DELETE',
      `/admin/users/${B.userId}/tokens/${issued.body.id}`,
      h.gw.adminToken,
    );
    assert.equal(wrongUser.status, 404, JSON.stringify(wrongUser.body));
    assert.equal((await api('GET', `${P}/scheduler`, second)).status, 200);

    // The second token was used just now (and is cached); revoking it takes effect at once.
    const revoked = await api('DELETE', `/admin/users/${A.userId}/tokens/${issued.body.id}`, h.gw.adminToken);
    assert.equal(revoked.status, 204);
    for (const [method, path] of [
      ['GET', `${P}/accounts`],
      ['GET', `${P}/scheduler`],
      ['GET', `${P}/videos/${jobs.video}`],
      ['DELETE', `${P}/scheduler/${jobs.video}`],
      ['GET', '/v2/account'],
    ]) {
      const res = await api(method!, path!, second);
      assert.deepEqual(res.body, { error: 'Unauthorized', code: 401 }, `${method} ${path}`);
    }
    const denied = await api('POST', `${P}/videos/create`, second, { prompt: 'after revoke' });
    assert.deepEqual(denied.body, { error: 'Unauthorized', code: 401 });
    // The first token is unaffected and nothing was cancelled by the revoked token.
    assert.equal((await api('GET', `${P}/accounts`, A.token)).status, 200);
    await assertAJobsRunning();

    const list = await api('GET', `/admin/users/${A.userId}/tokens`, h.gw.adminToken);
    assert.equal(list.status, 200);
    const record = list.body.find((t: { id: number }) => t.id === issued.body.id);
    assert.equal(record.label, 'second');
    assert.match(record.revokedAt, /^\d{4}-\d{2}-\d{2}T/);
    assert.ok(!JSON.stringify(list.body).includes(second), 'token secrets are never listed');
    assert.equal(
      (await api('DELETE', `/admin/users/${A.userId}/tokens/${issued.body.id}`, h.gw.adminToken)).status,
      404,
      'revoking twice',
    );
  });

  it("revoking a tenant's only token locks that tenant out but not the other", async () => {
    const c = await createTenant(h, 'C');
    assert.equal((await api('GET', '/v2/account', c.token)).status, 200);
    const tokens = await api('GET', `/admin/users/${c.userId}/tokens`, h.gw.adminToken);
    assert.equal(tokens.body.length, 1);
    const res = await api('DELETE', `/admin/users/${c.userId}/tokens/${tokens.body[0].id}`, h.gw.adminToken);
    assert.equal(res.status, 204);
    assert.deepEqual((await api('GET', '/v2/account', c.token)).body, { error: 'Unauthorized', code: 401 });
    assert.equal((await api('GET', '/v2/account', B.token)).status, 200);
    assert.equal((await api('GET', '/v2/account', A.token)).status, 200);
  });
});
