/**
 * Idempotency-Key on creates, end to end over HTTP with the real simulator, on SQLite and on
 * PostgreSQL: replays return the first answer without a second PixVerse create, a different
 * request with the same key is 422, a duplicate while the first runs is 409, refusals that
 * reserved nothing leave the key free, concurrent duplicates create one job, keys expire.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  addAccount,
  call,
  createTenant,
  startHarness,
  waitFor,
  type Harness,
  type HarnessOptions,
} from '../helpers/harness.ts';
import { dropSchema, freshSchema, TEST_DATABASE_URL } from '../helpers/processes.ts';

const CREATE = '/v2/pixverse/videos/create';

function keyed(key: string): Record<string, string> {
  return { 'idempotency-key': key };
}

function newKey(): string {
  return `key-${randomBytes(6).toString('hex')}`;
}

async function openHarness(
  dialect: 'sqlite' | 'postgres',
  options: HarnessOptions = {},
): Promise<{ h: Harness; schema: string | null }> {
  const schema = dialect === 'postgres' ? freshSchema() : null;
  const config = {
    ...options.config,
    ...(schema ? { databaseUrl: TEST_DATABASE_URL, databaseSchema: schema } : {}),
  };
  return { h: await startHarness({ ...options, config }), schema };
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`Idempotency-Key on ${dialect}`, () => {
    let h: Harness;
    let schema: string | null;
    let token: string;
    let userId: number;
    let tokenId: number;

    const created = () => h.sim.stats().totals.created;

    before(async () => {
      // A short upstream deadline: the in-flight test holds a create open that long.
      ({ h, schema } = await openHarness(dialect, { config: { upstreamTimeoutMs: 1500 } }));
      ({ token, userId } = await createTenant(h, 'idem'));
      tokenId = (await call(h.gw.url, 'GET', `/admin/users/${userId}/tokens`, h.gw.adminToken)).body[0].id;
      await addAccount(h, token, 'a@example.com', `sim-idem-a-${dialect}`, 8);
      // Headroom: the interleaving property creates a job per run faster than short jobs end, and a
      // create refused 429 (no slot) would make a run that proves nothing.
      for (const name of ['b', 'c', 'd'])
        await addAccount(h, token, `${name}@example.com`, `sim-idem-${name}-${dialect}`, 8);
    });
    after(async () => {
      await h.close();
      if (schema) await dropSchema(schema);
    });

    it('replays the first answer for the same key and body without a second upstream create', async () => {
      const key = newKey();
      const body = { prompt: 'a lighthouse #sim:duration=300', duration: 5 };
      const first = await call(h.gw.url, 'POST', CREATE, token, body, keyed(key));
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.headers.get('idempotent-replayed'), null);
      const count = created();

      // Key order does not change the request.
      const again = await call(
        h.gw.url,
        'POST',
        CREATE,
        token,
        { duration: 5, prompt: body.prompt },
        keyed(key),
      );
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, first.body);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal(created(), count, 'no second PixVerse create');

      // Still the same answer once the job has finished.
      await waitFor(
        async () =>
          (await call(h.gw.url, 'GET', `/v2/pixverse/videos/${first.body.video_id}`, token)).body
            .video_status_final,
      );
      const later = await call(h.gw.url, 'POST', CREATE, token, body, keyed(key));
      assert.deepEqual([later.status, later.body], [200, first.body]);
      assert.equal(created(), count);

      // Without a key every create is a new job.
      const plain = await call(h.gw.url, 'POST', CREATE, token, body);
      assert.equal(plain.status, 200);
      assert.notEqual(plain.body.video_id, first.body.video_id);
      assert.equal(created(), count + 1);
    });

    it('answers 422 for the same key with another body, and leaves the first answer intact', async () => {
      const key = newKey();
      const first = await call(
        h.gw.url,
        'POST',
        CREATE,
        token,
        { prompt: 'first #sim:duration=200' },
        keyed(key),
      );
      assert.equal(first.status, 200);
      const count = created();
      const other = await call(
        h.gw.url,
        'POST',
        CREATE,
        token,
        { prompt: 'second #sim:duration=200' },
        keyed(key),
      );
      assert.equal(other.status, 422, JSON.stringify(other.body));
      assert.equal(other.body.code, 422);
      assert.match(other.body.error, /Idempotency-Key/);
      assert.equal(created(), count);
      const replay = await call(
        h.gw.url,
        'POST',
        CREATE,
        token,
        { prompt: 'first #sim:duration=200' },
        keyed(key),
      );
      assert.deepEqual(replay.body, first.body);
    });

    it('scopes keys to the token: another token may use the same key for its own job', async () => {
      const key = newKey();
      const mine = await call(
        h.gw.url,
        'POST',
        CREATE,
        token,
        { prompt: 'scoped #sim:duration=200' },
        keyed(key),
      );
      const issued = await call(h.gw.url, 'POST', `/admin/users/${userId}/tokens`, h.gw.adminToken, {
        label: 'second',
      });
      assert.equal(issued.status, 201, JSON.stringify(issued.body));
      const theirs = await call(
        h.gw.url,
        'POST',
        CREATE,
        issued.body.token,
        { prompt: 'scoped #sim:duration=200' },
        keyed(key),
      );
      assert.equal(theirs.status, 200);
      assert.notEqual(theirs.body.video_id, mine.body.video_id);
    });

    it('rejects a malformed key with 400 naming the header', async () => {
      const long = await call(h.gw.url, 'POST', CREATE, token, { prompt: 'x' }, keyed('k'.repeat(256)));
      assert.equal(long.status, 400);
      assert.match(long.body.error, /idempotency-key/i);
      const control = await call(h.gw.url, 'POST', CREATE, token, { prompt: 'x' }, keyed('tab\there'));
      assert.equal(control.status, 400);
      assert.match(control.body.error, /idempotency-key/i);
    });

    it('answers 409 with Retry-After while the first request is still waiting for PixVerse', async () => {
      const key = newKey();
      const body = { prompt: 'slow answer #sim:timeout' };
      const count = created();
      const firstP = call(h.gw.url, 'POST', CREATE, token, body, keyed(key));
      // The create reached the simulator (it counts it) but is not answered for the deadline.
      await waitFor(async () => created() > count);
      const during = await call(h.gw.url, 'POST', CREATE, token, body, keyed(key));
      assert.equal(during.status, 409, JSON.stringify(during.body));
      assert.ok(Number(during.headers.get('retry-after')) >= 1);
      const first = await firstP;
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const afterwards = await call(h.gw.url, 'POST', CREATE, token, body, keyed(key));
      assert.deepEqual([afterwards.status, afterwards.body], [200, first.body]);
      assert.equal(created(), count + 1, 'one paid generation');
    });

    it('does not store a refusal that took no slot: the same key works once a slot is free', async () => {
      await addAccount(h, token, 'solo@example.com', `sim-idem-solo-${dialect}`, 1);
      const hold = await call(h.gw.url, 'POST', CREATE, token, {
        prompt: 'holder #sim:stuck',
        email: 'solo@example.com',
      });
      assert.equal(hold.status, 200);
      const key = newKey();
      const body = { prompt: 'wants solo #sim:duration=200', email: 'solo@example.com' };
      const busy = await call(h.gw.url, 'POST', CREATE, token, body, keyed(key));
      assert.equal(busy.status, 429, JSON.stringify(busy.body));
      assert.equal(
        await h.gw.store.getIdempotencyKey(tokenId, key, Date.now()),
        null,
        'nothing stored for a 429 without a slot',
      );
      const freed = await call(h.gw.url, 'DELETE', `/v2/pixverse/scheduler/${hold.body.video_id}`, token);
      assert.equal(freed.status, 204);
      const retried = await call(h.gw.url, 'POST', CREATE, token, body, keyed(key));
      assert.equal(retried.status, 200, JSON.stringify(retried.body));
    });

    it('stores an error that spent a submit, and replays it', async () => {
      const key = newKey();
      const body = { prompt: 'refused upstream #sim:reject-moderation', email: 'a@example.com' };
      const first = await call(h.gw.url, 'POST', CREATE, token, body, keyed(key));
      assert.equal(first.status, 422, JSON.stringify(first.body));
      const again = await call(h.gw.url, 'POST', CREATE, token, body, keyed(key));
      assert.deepEqual([again.status, again.body], [422, first.body]);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
    });

    it('replays a queued create with its queue id', async () => {
      const key = newKey();
      const body = { prompt: 'queued #sim:duration=200', queue: true };
      const first = await call(h.gw.url, 'POST', CREATE, token, body, keyed(key));
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.match(first.body.video_id, /queue-video:q\d+$/);
      const again = await call(h.gw.url, 'POST', CREATE, token, body, keyed(key));
      assert.deepEqual(again.body, first.body);
      await waitFor(
        async () =>
          (await call(h.gw.url, 'GET', `/v2/pixverse/videos/${first.body.video_id}`, token)).body
            .video_status_final,
      );
      const count = created();
      const late = await call(h.gw.url, 'POST', CREATE, token, body, keyed(key));
      assert.deepEqual(late.body, first.body);
      assert.equal(created(), count);
    });

    it('creates exactly one job for concurrent duplicates, whatever the interleaving', async () => {
      let runs = 0;
      let duplicated = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({ variant: fc.integer({ min: 0, max: 2 }), delayMs: fc.integer({ min: 0, max: 15 }) }),
            { minLength: 2, maxLength: 6 },
          ),
          async (requests) => {
            runs++;
            const key = newKey();
            const count = created();
            const answers = await Promise.all(
              requests.map(async ({ variant, delayMs }) => {
                await new Promise((resolve) => setTimeout(resolve, delayMs));
                const res = await call(
                  h.gw.url,
                  'POST',
                  CREATE,
                  token,
                  { prompt: `dup ${variant} #sim:duration=100` },
                  keyed(key),
                );
                return { variant, status: res.status, id: res.body?.video_id as string | undefined };
              }),
            );
            const ok = answers.filter((a) => a.status === 200);
            if (answers.filter((a) => a.status === 200 || a.status === 409).length >= 2) duplicated++;
            for (const a of answers)
              assert.ok(
                [200, 409, 422].includes(a.status),
                `unexpected ${a.status} in ${JSON.stringify(answers)}`,
              );
            assert.ok(ok.length >= 1 || answers.some((a) => a.status === 409), 'someone won the key');
            const ids = new Set(ok.map((a) => a.id));
            assert.ok(ids.size <= 1, `one id for the key, got ${[...ids].join(', ')}`);
            const winners = new Set(ok.map((a) => a.variant));
            assert.ok(winners.size <= 1, 'only one body can own the key');
            // 422 exactly for the other bodies once the owner is known.
            if (ok.length > 0)
              for (const a of answers) if (a.variant !== ok[0]!.variant) assert.equal(a.status, 422);
            // The one job may still be submitting when a 409 was the only answer; wait for its create.
            await waitFor(async () => created() > count, 10_000);
            assert.equal(created(), count + 1, 'exactly one PixVerse create');
          },
        ),
        { numRuns: dialect === 'sqlite' ? 20 : 12 },
      );
      assert.ok(runs >= 12);
      // Vacuity floor: runs where the same request really was sent more than once.
      assert.ok(duplicated >= 3, `only ${duplicated} runs had duplicates of one body`);
    });
  });

  describe(`Idempotency-Key expiry on ${dialect}`, () => {
    let h: Harness;
    let schema: string | null;
    let token: string;
    let userId: number;

    before(async () => {
      ({ h, schema } = await openHarness(dialect, { tuning: { idempotencyTtlMs: 400 } }));
      ({ token, userId } = await createTenant(h, 'expiry'));
      await addAccount(h, token, 'a@example.com', `sim-idem-exp-${dialect}`, 4);
    });
    after(async () => {
      await h.close();
      if (schema) await dropSchema(schema);
    });

    it('forgets a key after its lifetime and the sweeper deletes it', async () => {
      const key = newKey();
      const tokenId: number = (await call(h.gw.url, 'GET', `/admin/users/${userId}/tokens`, h.gw.adminToken))
        .body[0].id;
      const body = { prompt: 'short lived #sim:duration=100' };
      const first = await call(h.gw.url, 'POST', CREATE, token, body, keyed(key));
      assert.equal(first.status, 200);
      const claimedAt = Date.now();
      const stored = await h.gw.store.getIdempotencyKey(tokenId, key, claimedAt);
      assert.ok(stored, 'the key is stored');
      // Bound to the job, unanswered: a job that reached PixVerse gives replays their answer itself.
      assert.equal(stored.status, null);
      assert.ok(stored.jobId > 0);
      // The sweeper (every 200 ms here) deletes the row once it expired: even a read "as of" its
      // creation time no longer finds it.
      await waitFor(
        async () => (await h.gw.store.getIdempotencyKey(tokenId, key, stored.createdAt)) === null,
        10_000,
      );
      const count = h.sim.stats().totals.created;
      const fresh = await call(h.gw.url, 'POST', CREATE, token, body, keyed(key));
      assert.equal(fresh.status, 200);
      assert.notEqual(fresh.body.video_id, first.body.video_id, 'an expired key starts a new job');
      assert.equal(h.sim.stats().totals.created, count + 1);
    });
  });
}
