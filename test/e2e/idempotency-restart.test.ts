/**
 * Idempotency-Key across process death and across instances, with real `pixgate serve` child
 * processes: a replay after `kill -9` and a restart returns the first answer, also when the
 * process died while PixVerse had the create but had not answered it; on PostgreSQL a second
 * instance replays what the first answered, and duplicates spread over both make one job.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startSimulator, type RunningSimulator } from '../../src/providers/pixverse/simulator/index.ts';
import { call, waitFor } from '../helpers/harness.ts';
import {
  dropSchema,
  freshSchema,
  startInstance,
  type Instance,
  type InstanceOptions,
} from '../helpers/processes.ts';

const CREATE = '/v2/pixverse/videos/create';
const ENV = {
  PIXGATE_EXPECTED_DURATION: '200ms',
  PIXGATE_POLL_MIN_INTERVAL: '40ms',
  PIXGATE_IDLE_WAKE: '250ms',
  PIXGATE_LEASE: '2s',
  // A submit left behind by a killed process is reconciled (same Ai-trace-id) after this long.
  PIXGATE_STALE_SUBMIT: '1500ms',
  // Longer than the test waits before killing: the unanswered create is still in flight then.
  PIXGATE_UPSTREAM_TIMEOUT: '20s',
};

const keyed = (key: string) => ({ 'idempotency-key': key });

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`Idempotency-Key across kill -9 on ${dialect}`, () => {
    let sim: RunningSimulator;
    let options: InstanceOptions;
    let dataDir: string | undefined;
    let schema: string;
    let instance: Instance;
    let token: string;
    const created = () => sim.stats().totals.created;

    before(async () => {
      sim = await startSimulator({ durationMs: { min: 150, max: 300 }, seed: 5 });
      schema = freshSchema();
      dataDir = dialect === 'sqlite' ? mkdtempSync(join(tmpdir(), 'pixgate-idem-restart-')) : undefined;
      options = {
        upstream: sim.url,
        schema,
        adminToken: `admin-${randomBytes(12).toString('hex')}`,
        masterKey: randomBytes(32).toString('hex'),
        env: dialect === 'sqlite' ? { ...ENV, DATABASE_URL: '', PIXGATE_DATABASE_URL: '' } : ENV,
        ...(dataDir ? { dataDir } : {}),
      };
      instance = await startInstance(options);
      const tenant = await call(instance.url, 'POST', '/admin/users', options.adminToken, {
        name: 'restart',
      });
      assert.equal(tenant.status, 201);
      token = tenant.body.token;
      const account = await call(instance.url, 'POST', '/v2/pixverse/accounts/a@example.com', token, {
        apiKey: `sim-idem-restart-${dialect}`,
        maxJobs: 6,
      });
      assert.equal(account.status, 201, JSON.stringify(account.body));
    });
    after(async () => {
      await instance?.stop('SIGKILL');
      await sim?.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      if (dialect === 'postgres') await dropSchema(schema);
    });

    it('replays the answer given before the process was killed', async () => {
      const body = { prompt: 'answered then killed #sim:duration=300' };
      const first = await call(instance.url, 'POST', CREATE, token, body, keyed('answered'));
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const count = created();
      await instance.stop('SIGKILL');
      instance = await startInstance(options);
      const replay = await call(instance.url, 'POST', CREATE, token, body, keyed('answered'));
      assert.deepEqual([replay.status, replay.body], [200, first.body]);
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.equal(created(), count, 'no second PixVerse create');
    });

    it('answers a retry of a create that was in flight when the process was killed, with one PixVerse job', async () => {
      const body = { prompt: 'killed mid-submit #sim:timeout' };
      const count = created();
      // PixVerse creates the job but never answers; the client will see the connection drop.
      const lost = call(instance.url, 'POST', CREATE, token, body, keyed('in-flight')).then(
        (res) => res.status,
        () => 'connection lost',
      );
      await waitFor(async () => created() > count);
      await instance.stop('SIGKILL');
      assert.equal(await lost, 'connection lost');
      instance = await startInstance(options);

      // The client retries with its key: told to wait while the orphaned submit is reconciled,
      // then given the job PixVerse had started.
      const statuses = new Set<number>();
      const answer = await waitFor(
        async () => {
          const res = await call(instance.url, 'POST', CREATE, token, body, keyed('in-flight'));
          statuses.add(res.status);
          if (res.status === 409) assert.ok(Number(res.headers.get('retry-after')) >= 1);
          return res.status === 200 ? res.body : null;
        },
        20_000,
        200,
      );
      assert.deepEqual(
        [...statuses].filter((s) => s !== 200 && s !== 409),
        [],
        'only 409 (wait) or 200',
      );
      assert.match(answer.video_id, /-video:\d+$/, 'the id of the job PixVerse started');
      assert.equal(created(), count + 1, 'exactly one paid generation');
      const again = await call(instance.url, 'POST', CREATE, token, body, keyed('in-flight'));
      assert.deepEqual(again.body, answer);
      const job = await call(instance.url, 'GET', `/v2/pixverse/videos/${answer.video_id}`, token);
      assert.equal(job.status, 200);
    });

    if (dialect === 'postgres') {
      it('replays through a second instance, and duplicates spread over both make one job', async () => {
        const second = await startInstance({ ...options });
        try {
          const body = { prompt: 'answered then killed #sim:duration=300' };
          const count = created();
          const elsewhere = await call(second.url, 'POST', CREATE, token, body, keyed('answered'));
          assert.equal(elsewhere.status, 200);
          const here = await call(instance.url, 'POST', CREATE, token, body, keyed('answered'));
          assert.deepEqual(elsewhere.body, here.body);
          assert.equal(created(), count);

          for (let round = 0; round < 4; round++) {
            const key = `spread-${round}`;
            const before = created();
            const answers = await Promise.all(
              Array.from({ length: 6 }, (_, i) =>
                call(
                  i % 2 === 0 ? instance.url : second.url,
                  'POST',
                  CREATE,
                  token,
                  { prompt: `spread ${round} #sim:duration=200` },
                  keyed(key),
                ),
              ),
            );
            for (const a of answers)
              assert.ok(a.status === 200 || a.status === 409, `${a.status} ${JSON.stringify(a.body)}`);
            const ids = new Set(answers.filter((a) => a.status === 200).map((a) => a.body.video_id));
            assert.ok(ids.size <= 1, [...ids].join(', '));
            await waitFor(async () => created() > before, 10_000);
            assert.equal(created(), before + 1, 'one PixVerse create per key');
          }
        } finally {
          await second.stop('SIGKILL');
        }
      });
    }
  });
}
