/**
 * Several gateway instances on one PostgreSQL (separate stores = separate pools), each with its
 * own deliverer: every delivery is attempted by one of them at a time, so a receiver that never
 * fails sees each callback exactly once, and each job's callbacks in order.
 *
 * Needs a real PostgreSQL (PIXGATE_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test);
 * like the store tests, it fails rather than skips when PostgreSQL is unreachable. Fresh schema,
 * dropped afterwards.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { CallbackDeliverer } from '../../src/callbacks/deliverer.ts';
import { createOutboxBuilder } from '../../src/callbacks/outbox.ts';
import { verifyWebhook } from '../../src/callbacks/signing.ts';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import type { Store } from '../../src/store/store.ts';
import { deliverer, deliveriesOf, finishJob, startJob, tenant, waitFor } from './fixture.ts';
import { Receiver } from './receiver.ts';

const DATABASE_URL = process.env.PIXGATE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

describe('CallbackDeliverer on PostgreSQL, three instances', () => {
  const schema = `pixgate_cb_${randomBytes(6).toString('hex')}`;
  const stores: Store[] = [];
  const workers: CallbackDeliverer[] = [];
  let hook: Receiver;

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const store = await openPostgresStore(DATABASE_URL, { schema });
      await store.migrate();
      store.setOutboxBuilder(createOutboxBuilder());
      stores.push(store);
    }
    hook = await Receiver.start(() => ({ status: 200, delayMs: 5 }));
  });

  after(async () => {
    for (const w of workers) await w.stop();
    for (const s of stores) await s.close();
    await hook?.close();
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    await client.end();
  });

  it('each delivery once, each job in order, signed', async () => {
    const [first] = stores as [Store];
    const user = await tenant(first);
    for (const store of stores)
      workers.push(deliverer(store, { concurrency: 4, owner: `instance-${workers.length}` }));
    const jobs = [];
    for (let i = 0; i < 24; i++) {
      const store = stores[i % stores.length]!;
      jobs.push({
        store,
        job: await startJob(store, user, { replyUrl: hook.url, replyRef: `pg${i}`, progress: true }),
      });
    }
    for (const { store, job } of jobs) await finishJob(store, job);
    for (const w of workers) w.wake();
    await waitFor(
      async () =>
        (await deliveriesOf(first, user.id)).every((d) => d.state === 'delivered') &&
        hook.received.length >= 48,
      20_000,
    );
    assert.equal(hook.received.length, 48, 'no delivery attempted twice');
    assert.equal(new Set(hook.received.map((r) => r.headers['webhook-id'])).size, 48);
    for (let i = 0; i < 24; i++) {
      const states = hook.received
        .filter((r) => JSON.parse(r.body).replyRef === `pg${i}`)
        .map((r) => JSON.parse(r.body).state);
      assert.deepEqual(states, ['running', 'completed']);
    }
    assert.ok(hook.received.every((r) => verifyWebhook(user.webhookSecret, r.headers, r.body)));
  });
});
