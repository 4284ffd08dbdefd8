/**
 * Callback delivery fairness between tenants, on both stores: one tenant whose receiver hangs
 * holds at most its share of the delivery workers, so another tenant's callback goes out at once
 * instead of waiting for the hung attempts to time out (before: 64 such callbacks delayed another
 * tenant's by 46.6 s).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import type { CallbackDeliverer } from '../../src/callbacks/deliverer.ts';
import { createOutboxBuilder } from '../../src/callbacks/outbox.ts';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import type { Store } from '../../src/store/store.ts';
import { deliverer, deliveriesOf, finishJob, openFixture, startJob, tenant, waitFor } from './fixture.ts';
import { Receiver } from './receiver.ts';

const DATABASE_URL = process.env.PIXGATE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TIMEOUT_MS = 6_000;

async function hungTenantDoesNotDelayOthers(store: Store): Promise<void> {
  const hung = await Receiver.start(() => ({ status: 200, delayMs: 30_000 }));
  const fast = await Receiver.start(() => ({ status: 200 }));
  let worker: CallbackDeliverer | null = null;
  try {
    const greedy = await tenant(store);
    const other = await tenant(store);
    for (let i = 0; i < 24; i++)
      await finishJob(store, await startJob(store, greedy, { replyUrl: hung.url }));
    worker = deliverer(store, {
      concurrency: 16,
      tenantShare: 0.25,
      timeoutMs: TIMEOUT_MS,
      schedule: [0, 600_000],
    });
    await waitFor(() => hung.received.length >= 4, 5_000, 'the hung tenant takes its share');
    const started = Date.now();
    const job = await finishJob(store, await startJob(store, other, { replyUrl: fast.url }));
    worker.wake();
    const [delivered] = await waitFor(
      async () => {
        const list = await deliveriesOf(store, other.id, job.id);
        return list[0]?.state === 'delivered' ? list : null;
      },
      TIMEOUT_MS * 2,
      'the other tenant is delivered',
    );
    assert.ok(delivered);
    // Behaviour, not speed: while the other tenant's callback went out, none of the hung attempts
    // had finished, and the hung tenant never held more than its share (4 of 16).
    const greedyAttempted = (await deliveriesOf(store, greedy.id)).filter((d) => d.attempts > 0);
    assert.equal(
      greedyAttempted.length,
      0,
      `delivered after ${Date.now() - started} ms, once hung attempts had timed out`,
    );
    assert.equal(hung.received.length, 4, 'the hung tenant held exactly its share of the workers');
  } finally {
    await hung.close();
    await fast.close();
    await worker?.stop();
  }
}

describe('callback fairness between tenants', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  it('SQLite: a hung tenant holds at most its share of delivery workers', async () => {
    const fx = await openFixture();
    cleanups.push(() => fx.close());
    await hungTenantDoesNotDelayOthers(fx.store);
  });

  it('PostgreSQL: the same cap, counted over leases in the shared store', async () => {
    const schema = `pixgate_fair_${randomBytes(6).toString('hex')}`;
    const store = await openPostgresStore(DATABASE_URL, { schema });
    await store.migrate();
    store.setOutboxBuilder(createOutboxBuilder());
    cleanups.push(async () => {
      await store.close();
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      await client.end();
    });
    await hungTenantDoesNotDelayOthers(store);
  });
});
