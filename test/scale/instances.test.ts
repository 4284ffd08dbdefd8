/**
 * Scale-out over real processes: several `pixgate serve` instances on one PostgreSQL schema
 * and one simulator whose per-key limits equal the accounts' maxJobs, so any overbooking
 * across instances shows up as a simulator violation.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { startSimulator, type RunningSimulator } from '../../src/providers/pixverse/simulator/index.ts';
import { call, waitFor } from '../helpers/harness.ts';
import { dropSchema, freshSchema, startInstance, type Instance } from '../helpers/processes.ts';

const LIMITS = [8, 8, 8, 6, 6, 6, 4, 4, 2, 2];
const FAST_ENV = {
  PIXGATE_EXPECTED_DURATION: '200ms',
  PIXGATE_POLL_MIN_INTERVAL: '40ms',
  PIXGATE_IDLE_WAKE: '250ms',
  PIXGATE_LEASE: '2s',
  PIXGATE_STALE_SUBMIT: '1500ms',
};

interface Cluster {
  sim: RunningSimulator;
  instances: Instance[];
  schema: string;
  token: string;
  keys: string[];
}

async function startCluster(count: number, simDuration: { min: number; max: number }): Promise<Cluster> {
  const keys = LIMITS.map((_, i) => `sim-scale-key-${i}-${randomBytes(3).toString('hex')}`);
  const sim = await startSimulator({
    durationMs: simDuration,
    keyLimits: Object.fromEntries(keys.map((k, i) => [k, LIMITS[i]!])),
    seed: 11,
  });
  const schema = freshSchema();
  const shared = {
    upstream: sim.url,
    schema,
    adminToken: `admin-${randomBytes(12).toString('hex')}`,
    masterKey: randomBytes(32).toString('hex'),
    env: FAST_ENV,
  };
  // All instances start at the same moment on an empty schema: migrations must not collide.
  const instances = await Promise.all(Array.from({ length: count }, () => startInstance(shared)));
  const admin = await call(instances[0]!.url, 'POST', '/admin/users', shared.adminToken, { name: 'scale' });
  assert.equal(admin.status, 201, JSON.stringify(admin.body));
  const token: string = admin.body.token;
  const settings = await call(
    instances[1 % count]!.url,
    'PATCH',
    `/admin/users/${admin.body.userId}`,
    shared.adminToken,
    { queueByDefault: true },
  );
  assert.equal(settings.status, 200, JSON.stringify(settings.body));
  for (const [i, key] of keys.entries()) {
    const res = await call(
      instances[i % count]!.url,
      'POST',
      `/v2/pixverse/accounts/acct${i}@example.com`,
      token,
      { email: `acct${i}@example.com`, apiKey: key, maxJobs: LIMITS[i] },
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  return { sim, instances, schema, token, keys };
}

async function stopCluster(cluster: Cluster, failed: boolean): Promise<void> {
  await Promise.all(cluster.instances.map((i) => i.stop('SIGKILL')));
  await cluster.sim.close();
  if (!failed) await dropSchema(cluster.schema);
  else console.error(`kept schema ${cluster.schema} for inspection`);
}

/** Submits `count` creates spread round-robin over the live instances, `parallel` at a time. */
async function submitAll(
  cluster: Cluster,
  live: Instance[],
  count: number,
  prompt: string,
  parallel = 64,
): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const n = next++;
      const target = live[n % live.length]!;
      const res = await call(target.url, 'POST', '/v2/pixverse/videos/create', cluster.token, {
        prompt: `${prompt} ${n}`,
      });
      assert.equal(res.status, 200, `create ${n} on ${target.url}: ${JSON.stringify(res.body)}`);
      ids.push(res.body.video_id);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return ids;
}

async function waitAllFinal(
  cluster: Cluster,
  live: Instance[],
  ids: string[],
  timeoutMs: number,
): Promise<Record<string, number>> {
  const names: Record<string, number> = {};
  const pending = new Set(ids);
  await waitFor(
    async () => {
      for (const id of [...pending].slice(0, 200)) {
        const res = await call(live[0]!.url, 'GET', `/v2/pixverse/videos/${id}`, cluster.token);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        if (res.body.video_status_final) {
          pending.delete(id);
          names[res.body.video_status_name] = (names[res.body.video_status_name] ?? 0) + 1;
        }
      }
      return pending.size === 0;
    },
    timeoutMs,
    200,
  );
  return names;
}

function assertNoOverbooking(cluster: Cluster): void {
  const stats = cluster.sim.stats();
  cluster.keys.forEach((key, i) => {
    const s = stats.keys[key];
    if (!s) return;
    assert.equal(s.violations, 0, `no create reached ${key} while it was at its limit`);
    assert.ok(s.peak <= LIMITS[i]!, `peak ${s.peak} ≤ ${LIMITS[i]} on ${key}`);
  });
}

async function assertAllFree(cluster: Cluster, instance: Instance): Promise<void> {
  const res = await call(instance.url, 'GET', '/v2/pixverse/scheduler/available', cluster.token);
  assert.deepEqual(res.body.executing, []);
  assert.equal(res.body.queuedCount, 0);
  for (const row of res.body.available) assert.equal(row.available, row.maxJobs);
}

describe('several gateway instances on one PostgreSQL', () => {
  let failed = false;
  const clusters: Cluster[] = [];
  // A failing test keeps its schema for inspection.
  const keepOnFailure = (body: () => Promise<void>) => async () => {
    try {
      await body();
    } catch (err) {
      failed = true;
      throw err;
    }
  };
  after(async () => {
    for (const cluster of clusters) await stopCluster(cluster, failed);
  });

  it(
    'runs 2,000 concurrent creates over three instances without overbooking or losing a job',
    keepOnFailure(async () => {
      const cluster = await startCluster(3, { min: 80, max: 250 });
      clusters.push(cluster);
      const ids = await submitAll(cluster, cluster.instances, 2000, 'burst');
      assert.equal(new Set(ids).size, 2000, 'every create got its own id');
      const names = await waitAllFinal(cluster, cluster.instances, ids, 240_000);
      assert.deepEqual(names, { COMPLETED: 2000 });
      assertNoOverbooking(cluster);
      assert.equal(cluster.sim.stats().totals.created, 2000, 'each job was created upstream exactly once');
      await assertAllFree(cluster, cluster.instances[2]!);
    }),
  );

  it(
    'finishes the jobs of an instance killed with SIGKILL, submitting none twice',
    keepOnFailure(async () => {
      const cluster = await startCluster(3, { min: 400, max: 900 });
      clusters.push(cluster);
      const ids = await submitAll(cluster, cluster.instances, 300, 'survive', 24);
      // Let every instance dispatch and track jobs, then kill one without warning.
      await waitFor(async () => cluster.sim.stats().totals.created >= 40, 20_000);
      const victim = cluster.instances[1]!;
      await victim.stop('SIGKILL');
      const live = cluster.instances.filter((i) => i !== victim);
      const names = await waitAllFinal(cluster, live, ids, 240_000);
      assert.deepEqual(names, { COMPLETED: 300 });
      assertNoOverbooking(cluster);
      assert.equal(cluster.sim.stats().totals.created, 300, 'no job was submitted twice');
      await assertAllFree(cluster, live[0]!);
    }),
  );

  it(
    'hands its jobs over at once when an instance shuts down gracefully',
    keepOnFailure(async () => {
      const cluster = await startCluster(2, { min: 300, max: 600 });
      clusters.push(cluster);
      const ids = await submitAll(cluster, cluster.instances, 120, 'handover', 16);
      await waitFor(async () => cluster.sim.stats().totals.created >= 20, 20_000);
      const leaving = cluster.instances[0]!;
      await leaving.stop('SIGTERM');
      assert.equal(await leaving.exited, 0, `graceful exit:\n${leaving.output.join('')}`);
      const names = await waitAllFinal(cluster, [cluster.instances[1]!], ids, 120_000);
      assert.deepEqual(names, { COMPLETED: 120 });
      assertNoOverbooking(cluster);
      assert.equal(cluster.sim.stats().totals.created, 120);
    }),
  );
});
