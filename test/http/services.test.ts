/**
 * The application services' promises seen from the API: one table answers every engine outcome
 * (status and Retry-After), and a tenant's settings written through the admin API apply to the
 * very next create (the scheduler's cached copy of the tenant is dropped on write).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EngineError, type Outcome } from '../../src/domain/outcomes.ts';
import { answerFor, OUTCOME_ANSWERS } from '../../src/http/outcomes.ts';
import { addAccount, call, createTenant, startHarness, type Harness } from '../helpers/harness.ts';

describe('engine outcomes to HTTP answers', () => {
  it('gives every outcome an error status, and every 429 a Retry-After', () => {
    for (const [outcome, answer] of Object.entries(OUTCOME_ANSWERS)) {
      assert.ok(answer.status >= 400 && answer.status <= 599, `${outcome}: ${answer.status}`);
      if (answer.status === 429)
        assert.ok((answer.retryAfterS ?? 0) > 0, `${outcome} answers 429 without Retry-After`);
    }
  });

  it("keeps a refusal's own wait and envelope fields", () => {
    const answer = answerFor(
      new EngineError('queue_full', 'The queue is full (3 jobs waiting)', 42, { queued: 3 }),
    );
    assert.deepEqual(answer, {
      status: 429,
      message: 'The queue is full (3 jobs waiting)',
      retryAfterS: 42,
      extra: { queued: 3 },
    });
    assert.equal(answerFor(new EngineError('busy', 'busy'))?.retryAfterS, OUTCOME_ANSWERS.busy.retryAfterS);
  });

  it('answers useapi statuses for the provider outcomes', () => {
    const status = (outcome: Outcome) => answerFor(new EngineError(outcome, outcome))?.status;
    assert.deepEqual(
      [
        'out_of_credits',
        'moderation',
        'account_error',
        'transient',
        'not_found',
        'forbidden',
        'store_unavailable',
      ].map((o) => status(o as Outcome)),
      [412, 422, 596, 502, 404, 403, 503],
    );
  });

  it('leaves errors it does not know to the 500 path', () => {
    assert.equal(answerFor(new Error('boom')), null);
  });
});

describe('tenant settings apply at once', () => {
  let h: Harness;
  let tenant: { userId: number; token: string };
  const create = (prompt: string) =>
    call(h.gw.url, 'POST', '/v2/pixverse/videos/create', tenant.token, { prompt });

  before(async () => {
    h = await startHarness({ simulator: { durationMs: { min: 30_000, max: 30_000 } } });
    tenant = await createTenant(h, 'settings');
    await addAccount(h, tenant.token, 'one@x.com', 'pk-settings-one-0123456789', 1);
  });
  after(() => h.close());

  it('queues the next create right after queueByDefault is switched on', async () => {
    assert.equal((await create('holds the only slot')).status, 200);
    // This refusal makes the scheduler read (and cache) the tenant with queueByDefault off.
    const refused = await create('no slot, no queue');
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    const patched = await call(h.gw.url, 'PATCH', `/admin/users/${tenant.userId}`, h.gw.adminToken, {
      queueByDefault: true,
    });
    assert.equal(patched.status, 200);
    const queued = await create('waits for the slot');
    assert.equal(queued.status, 200, JSON.stringify(queued.body));
    const read = await call(
      h.gw.url,
      'GET',
      `/v2/pixverse/videos/${encodeURIComponent(queued.body.video_id)}`,
      tenant.token,
    );
    assert.equal(read.body.queue_position, 1);
  });
});
