/**
 * Crash chaos: a burst of queued creates while gateways are killed with SIGKILL at random moments
 * and restarted on the same data (SQLite: one process; PostgreSQL: three instances, one killed at a
 * time). Zero accepted jobs lost, zero double submits (the simulator created no more jobs than the
 * gateway was asked for, and at least every accepted one), every job final and every slot free
 * within 20 s of the last restart, every callback delivered at least once. On failure the message
 * carries a timeline of job states read from the store, so a stall shows where jobs sat.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startSimulator } from '../../src/providers/pixverse/simulator/index.ts';
import { call, sleep, type Reply } from '../helpers/harness.ts';
import { dropSchema, freshSchema, TEST_DATABASE_URL } from '../helpers/processes.ts';
import { PROOF_FULL, secrets, startChild, type Child, type ChildOptions } from './lib/gateways.ts';
import {
  executingIds,
  figures,
  setupTenant,
  startReceiver,
  waitAllFinal,
  waitNotExecuting,
} from './lib/run.ts';
import { Timeline } from './lib/timeline.ts';

const JOBS = PROOF_FULL ? 2000 : 100;
// Short mode keeps to a few restarts: each child start costs seconds on a shared machine.
const KILLS = { sqlite: PROOF_FULL ? 6 : 2, postgres: PROOF_FULL ? 6 : 1 };
const LIMITS = [4, 4, 3];

const results: Record<string, string | number> = {};

async function chaos(dialect: 'sqlite' | 'postgres', cleanups: (() => Promise<void>)[]): Promise<void> {
  const keys = LIMITS.map((_, i) => `sim-crash-${dialect}-${i}`);
  const sim = await startSimulator({
    durationMs: { min: 200, max: 700 },
    keyLimits: Object.fromEntries(keys.map((k, i) => [k, LIMITS[i]!])),
    seed: 9,
  });
  cleanups.push(() => sim.close());
  const receiver = await startReceiver();
  cleanups.push(() => receiver.close());
  const schema = freshSchema();
  if (dialect === 'postgres') cleanups.push(() => dropSchema(schema));
  const count = dialect === 'postgres' ? 3 : 1;
  const dirs = Array.from({ length: count }, () => mkdtempSync(join(tmpdir(), 'pixgate-crash-')));
  cleanups.push(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const shared = secrets();
  const optionsFor = (i: number): ChildOptions => ({
    upstream: sim.url,
    dataDir: dirs[i]!,
    ...shared,
    env: { PIXGATE_UPSTREAM_TIMEOUT: '5s' },
    ...(dialect === 'postgres' ? { databaseUrl: TEST_DATABASE_URL, schema } : {}),
  });
  const live: (Child | null)[] = await Promise.all(
    Array.from({ length: count }, (_, i) => startChild(optionsFor(i))),
  );
  cleanups.push(async () => {
    for (const child of live) await child?.kill();
  });
  const urls = () => live.filter((c): c is Child => c !== null).map((c) => c.url);
  const tenant = await setupTenant(
    live[0]!.url,
    shared.adminToken,
    keys.map((key, i) => ({ key, maxJobs: LIMITS[i]! })),
    { queueByDefault: true, maxQueueLength: 100_000 },
  );

  const accepted = new Map<string, string>(); // replyRef → id
  let cutOff = 0;
  let rateLimited = 0;
  let next = 0;
  const worker = async () => {
    while (next < JOBS) {
      const ref = `job-${next++}`;
      for (;;) {
        const list = urls();
        if (list.length === 0) {
          await sleep(50);
          continue;
        }
        let res: Reply;
        try {
          res = await call(
            list[Math.floor(Math.random() * list.length)]!,
            'POST',
            '/v2/pixverse/videos/create',
            tenant.token,
            { prompt: `chaos ${ref}`, replyUrl: receiver.url, replyRef: ref },
          );
        } catch (err) {
          const code = (err as { cause?: { code?: string } }).cause?.code;
          // Refused: the request never reached a gateway (it was down); send the same job again.
          if (code === 'ECONNREFUSED') {
            await sleep(50);
            continue;
          }
          cutOff++; // the answer was cut off by a kill: the job may or may not exist
          break;
        }
        // The per-token rate limit (200/s by default) refuses part of a 12-worker burst: a refused
        // create took no effect, so the same job is sent again after Retry-After, as a client would.
        if (res.status === 429) {
          rateLimited++;
          await sleep(Number(res.headers.get('retry-after') ?? '1') * 1000);
          continue;
        }
        // Outside the try: an unexpected answer fails the run instead of counting as "cut off"
        // (which would also loosen the no-double-submit bound below).
        if (res.status === 200) accepted.set(ref, res.body.video_id);
        else if (res.status === 503) cutOff++;
        else assert.fail(`create ${res.status} ${JSON.stringify(res.body)}`);
        break;
      }
    }
  };
  // Kills are spread over the whole run, burst and drain alike, at random points of the upstream's
  // progress; the last one comes when ~97% of the jobs are done, so "every job final and every
  // slot free within 20 s of the last restart" covers what the killed process held plus the rest.
  const killAt = Array.from({ length: KILLS[dialect] }, (_, k) =>
    k === KILLS[dialect] - 1
      ? 0.97 + Math.random() * 0.01
      : ((k + Math.random()) / (KILLS[dialect] - 1)) * 0.9,
  );
  const timeline = new Timeline(
    dialect,
    dialect === 'sqlite' ? { sqlite: join(dirs[0]!, 'pixgate.db') } : { schema },
  );
  cleanups.push(async () => timeline.stop());
  timeline.start(() => sim.stats().totals);
  let lastRestart = Date.now();
  let restartMs = 0;
  let orphansFreedMs = 0;
  const killer = async () => {
    for (let k = 0; k < KILLS[dialect]; k++) {
      // Bounded: if the upstream stops making progress the run fails with the timeline, never hangs.
      let progress = { completed: sim.stats().totals.completed, at: Date.now() };
      while (sim.stats().totals.completed < killAt[k]! * JOBS) {
        await sleep(100 + Math.random() * 400);
        const completed = sim.stats().totals.completed;
        if (completed > progress.completed) progress = { completed, at: Date.now() };
        else if (Date.now() - progress.at > 60_000)
          assert.fail(
            `${dialect}: no job completed upstream for 60 s before kill ${k + 1} (${completed} of ${JOBS})\n${await timeline.report()}`,
          );
      }
      const victim = k % count;
      await live[victim]!.kill('SIGKILL');
      live[victim] = null;
      timeline.note(`kill ${k + 1}`);
      const down = Date.now();
      if (count === 1) await sleep(100);
      live[victim] = await startChild(optionsFor(victim));
      lastRestart = Date.now();
      restartMs = Math.max(restartMs, lastRestart - down);
      timeline.note(`restart ${k + 1}`);
      // What holds a slot right after the restart includes the killed process's jobs: each must
      // be freed (final, or reconciled and then final) by the engine alone.
      const held = await executingIds(live[victim]!.url, tenant.token);
      const freed = await waitNotExecuting(urls, tenant.token, held, 60_000);
      orphansFreedMs = Math.max(orphansFreedMs, freed);
    }
  };
  const killing = killer();
  // Awaited below; a failure found while the burst still runs must not surface as unhandled.
  killing.catch(() => undefined);
  await Promise.all(Array.from({ length: 12 }, worker));
  const ids = [...accepted.values()];
  // Status reads start as soon as every create is answered and run through the remaining kills,
  // so that "final after the last restart" times the engine, not one late pass over 2,000 ids.
  let allFinalAt = 0;
  const finalWait = waitAllFinal(urls, tenant.token, ids, PROOF_FULL ? 600_000 : 120_000).then((d) => {
    allFinalAt = Date.now();
    return d;
  });
  await killing;
  const done = await finalWait;
  const finalS = (allFinalAt - lastRestart) / 1000;
  timeline.stop();
  assert.equal(
    done.size,
    ids.length,
    `${dialect}: every accepted job reached a final state\n${await timeline.report()}`,
  );
  const notCompleted = [...done.entries()].filter(([, v]) => v.video_status_name !== 'COMPLETED');
  assert.deepEqual(
    notCompleted.map(([id, v]) => `${id}: ${v.video_status_name} ${v.error ?? ''}`),
    [],
    `${dialect}: every accepted job completed\n${await timeline.report()}`,
  );
  // Slots: nothing executing or queued once everything is final.
  const available = await call(urls()[0]!, 'GET', '/v2/pixverse/scheduler/available', tenant.token);
  const slotsFreeS = (Date.now() - lastRestart) / 1000;
  assert.deepEqual(available.body.executing, [], `${dialect}: every slot is free`);
  assert.ok(
    slotsFreeS <= 20,
    `${dialect}: every job final and every slot free within 20 s of the last restart (${slotsFreeS.toFixed(1)} s)\n${await timeline.report()}`,
  );
  const stats = sim.stats().totals;
  assert.equal(stats.violations, 0, `${dialect}: never over an account's limit upstream`);
  assert.ok(stats.created >= ids.length, `${dialect}: every accepted job was created upstream`);
  assert.ok(
    stats.created <= ids.length + cutOff,
    `${dialect}: no double submit (created ${stats.created}, accepted ${ids.length}, cut off ${cutOff})`,
  );
  const deadline = Date.now() + 60_000;
  const undelivered = () => [...accepted.keys()].filter((ref) => !receiver.deliveries.has(ref));
  while (undelivered().length > 0 && Date.now() < deadline) await sleep(250);
  assert.deepEqual(undelivered(), [], `${dialect}: every callback delivered at least once`);
  const prefix = dialect === 'sqlite' ? 'lite' : 'pg';
  Object.assign(results, {
    [`${prefix}_accepted`]: ids.length,
    [`${prefix}_cut_off`]: cutOff,
    [`${prefix}_rate_limited`]: rateLimited,
    [`${prefix}_created`]: stats.created,
    [`${prefix}_kills`]: KILLS[dialect],
    [`${prefix}_lost`]: 0,
    [`${prefix}_restart_max_s`]: (restartMs / 1000).toFixed(1),
    [`${prefix}_orphans_freed_max_s`]: (orphansFreedMs / 1000).toFixed(1),
    [`${prefix}_all_final_after_last_restart_s`]: finalS.toFixed(1),
    [`${prefix}_slots_free_after_last_restart_s`]: slotsFreeS.toFixed(1),
  });
}

describe('proof: crash chaos', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    figures('crash', results);
  });

  it('SQLite: kill -9 during a burst, restart on the same data', async () => {
    await chaos('sqlite', cleanups);
  });

  it('PostgreSQL: three instances, killed one at a time', async () => {
    await chaos('postgres', cleanups);
  });
});
