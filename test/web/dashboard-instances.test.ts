/**
 * The dashboard with two gateway processes on one PostgreSQL schema (as behind a load balancer):
 * a stream ticket issued by one instance opens the stream on the other, and that stream follows
 * jobs the other instance admits and finishes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startSimulator, type RunningSimulator } from '../../src/providers/pixverse/simulator/index.ts';
import { call, waitFor } from '../helpers/harness.ts';
import { dropSchema, freshSchema, startInstance, type Instance } from '../helpers/processes.ts';
import { StreamReader } from './sse.ts';

describe('dashboard across instances (PostgreSQL)', () => {
  let sim: RunningSimulator;
  let instances: Instance[] = [];
  let schema: string;
  let token: string;
  let failed = true;

  before(async () => {
    sim = await startSimulator({ durationMs: { min: 1500, max: 2000 }, seed: 3 });
    schema = freshSchema();
    const shared = {
      upstream: sim.url,
      schema,
      adminToken: `admin-${randomBytes(12).toString('hex')}`,
      masterKey: randomBytes(32).toString('hex'),
      env: {
        PIXGATE_EXPECTED_DURATION: '1500ms',
        PIXGATE_POLL_MIN_INTERVAL: '40ms',
        PIXGATE_IDLE_WAKE: '250ms',
      },
    };
    instances = await Promise.all([startInstance(shared), startInstance(shared)]);
    const tenant = await call(instances[0]!.url, 'POST', '/admin/users', shared.adminToken, {
      name: 'shared',
    });
    assert.equal(tenant.status, 201);
    token = tenant.body.token;
    const account = await call(instances[0]!.url, 'POST', '/v2/pixverse/accounts/one@shared.io', token, {
      apiKey: 'sk-shared-0001',
      maxJobs: 3,
    });
    assert.equal(account.status, 201, JSON.stringify(account.body));
  });

  after(async () => {
    await Promise.all(instances.map((i) => i.stop('SIGKILL')));
    await sim?.close();
    if (!failed) await dropSchema(schema);
  });

  it("opens a stream on one instance with the other's ticket and follows the other's jobs", async () => {
    const [first, second] = instances as [Instance, Instance];
    const ticket = await call(first.url, 'POST', '/dashboard/api/stream-ticket', token, {});
    assert.equal(ticket.status, 200);
    const live = await new StreamReader().open(
      `${second.url}/dashboard/api/stream?ticket=${encodeURIComponent(ticket.body.ticket)}`,
    );
    assert.equal(live.status, 200);
    await waitFor(async () => live.last);
    assert.equal(live.last!.accounts[0]!.executing, 0);

    for (let i = 0; i < 2; i++) {
      const res = await call(first.url, 'POST', '/v2/pixverse/videos/create', token, {
        prompt: `harbour ${i}`,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    await waitFor(async () => live.snapshots.find((s) => s.accounts[0]!.executing === 2), 15_000);
    await waitFor(async () => live.last!.accounts[0]!.executing === 0, 20_000);
    live.close();
    failed = false;
  });
});
