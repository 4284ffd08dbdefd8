/**
 * Upstream faults in one mix from the simulator: 5xx, connection resets, answers slower than the
 * deadline, malformed JSON, stuck jobs, spurious 500044, moderation, failures and lost webhooks.
 * Every job ends in the right final state within its limits, PixVerse creates each job at most
 * once, no slot leaks, and the accounts come back from their cool-downs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, createTenant, sleep, startHarness, type Harness } from '../helpers/harness.ts';
import { PROOF_FULL } from './lib/gateways.ts';
import { figures, startReceiver, waitAllFinal, type Receiver } from './lib/run.ts';

const ROUNDS = PROOF_FULL ? 40 : 4;
const JOB_TIMEOUT_MS = 6000;
const WAVE = 4;
/**
 * How long a stuck job keeps its PixVerse slot after the gateway gave up on it. Such a job still
 * counts against the key's concurrency upstream, so over 40 rounds a long hold would drain the
 * pool and test that instead; just past the job timeout, every wave still meets the previous
 * wave's stuck jobs upstream (500044s) without the pool emptying.
 */
const STUCK_RELEASE_MS = PROOF_FULL ? JOB_TIMEOUT_MS + 2000 : 60_000;

/** Marker → the final state it must end in. */
const MIX: [string, string][] = [
  ['', 'COMPLETED'],
  ['#sim:webhook-drop', 'COMPLETED'],
  ['#sim:reset', 'COMPLETED'],
  ['#sim:malformed', 'COMPLETED'],
  ['#sim:timeout', 'COMPLETED'],
  ['#sim:busy', 'COMPLETED'],
  ['#sim:fail', 'FAILED'],
  ['#sim:moderate', 'MODERATED'],
  ['#sim:reject-moderation', 'MODERATED'],
  ['#sim:http500', 'FAILED'],
  ['#sim:http502', 'FAILED'],
  // Stuck past the job timeout: the gateway gives up (failed, "timed out"); the slot stays held
  // until PixVerse ends the job or the hold's cap passes.
  ['#sim:stuck', 'FAILED'],
];

describe('proof: upstream faults', () => {
  let h: Harness;
  let token: string;
  let receiver: Receiver;
  const keys = ['sim-faults-a', 'sim-faults-b', 'sim-faults-c'];

  before(async () => {
    h = await startHarness({
      simulator: {
        durationMs: { min: 200, max: 500 },
        keyLimits: Object.fromEntries(keys.map((k) => [k, 3])),
        stuckReleaseMs: STUCK_RELEASE_MS,
      },
      config: { jobTimeoutMs: JOB_TIMEOUT_MS, upstreamTimeoutMs: 800 },
      tuning: { concurrencyBackoffMs: 500, staleSubmitMs: 5000 },
    });
    ({ token } = await createTenant(h));
    receiver = await startReceiver();
    for (const [i, key] of keys.entries()) {
      const hook = await call(h.sim.url, 'POST', '/_sim/webhooks', null, {
        url: `${h.gw.url}/upstream/pixverse/webhook`,
      });
      const res = await call(h.gw.url, 'POST', `/v2/pixverse/accounts/f${i}@example.com`, token, {
        apiKey: key,
        maxJobs: 3,
        webhookId: hook.body.webhook_id,
        webhookSecret: hook.body.secret,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
  });
  after(async () => {
    await h.close();
    await receiver.close();
  });

  it('every job ends in its right state, created at most once, slots and accounts recover', async () => {
    const jobs: { id: string; ref: string; expect: string; marker: string }[] = [];
    const refused: Record<string, number> = {};
    const started = Date.now();
    // Waves of WAVE rounds: all of a wave at once (the short run is one wave), the next once the
    // previous is final. Queued all at once, 40 rounds of stuck jobs would hold the nine slots for
    // minutes and time the plain jobs out in the queue: a test of queue length, not of faults.
    const done = new Map<string, { video_status_name: string; error?: string }>();
    for (let wave = 0; wave < ROUNDS; wave += WAVE) {
      const ids: string[] = [];
      await Promise.all(
        Array.from({ length: Math.min(WAVE, ROUNDS - wave) }, (_, r) => wave + r).flatMap((round) =>
          MIX.map(async ([marker, expect], i) => {
            const ref = `r${round}-${i}`;
            const res = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
              prompt: `fault ${ref} ${marker}`,
              queue: true,
              replyUrl: receiver.url,
              replyRef: ref,
            });
            if (res.status === 200) {
              jobs.push({ id: res.body.video_id, ref, expect, marker });
              ids.push(res.body.video_id);
            } else refused[`${marker}:${res.status}`] = (refused[`${marker}:${res.status}`] ?? 0) + 1;
          }),
        ),
      );
      for (const [id, view] of await waitAllFinal(
        () => [h.gw.url],
        token,
        ids,
        JOB_TIMEOUT_MS * 4 + WAVE * 3000,
      ))
        done.set(id, view);
    }
    const got: Record<string, Record<string, number>> = {};
    const wrong: string[] = [];
    for (const job of jobs) {
      const view = done.get(job.id);
      const state = view?.video_status_name ?? 'NOT_FINAL';
      got[job.marker] ??= {};
      got[job.marker]![state] = (got[job.marker]![state] ?? 0) + 1;
      if (state !== job.expect) wrong.push(`${job.marker || 'plain'} → ${state} ${view?.error ?? ''}`);
      if (job.marker === '#sim:stuck' && !/timed out/.test(view?.error ?? ''))
        wrong.push(`stuck job failed for another reason: ${view?.error}`);
    }
    const settledS = (Date.now() - started) / 1000;
    assert.deepEqual(refused, {}, 'every create was accepted into the queue');
    assert.deepEqual(wrong, [], JSON.stringify(got));
    // Nine of the twelve kinds create a job upstream; the refused kinds never do. Resets, cut-off
    // JSON, unanswered creates and spurious 500044s are replayed with their trace id, never re-created.
    const totals = h.sim.stats().totals;
    assert.equal(totals.created, 9 * ROUNDS, 'each job created upstream at most once');
    assert.equal(totals.violations, 0, 'never over a key limit upstream');
    const available = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler/available', token);
    assert.deepEqual(available.body.executing, [], 'no slot leaks');
    // Cool-downs (500044 backs an account off) end by themselves.
    let accounts: { state: string; cooldownUntil?: string }[] = [];
    const deadline = Date.now() + 15_000;
    do {
      accounts = Object.values(
        (await call(h.gw.url, 'GET', '/v2/pixverse/accounts', token)).body as Record<
          string,
          { state: string; cooldownUntil?: string }
        >,
      );
      if (accounts.every((a) => !a.cooldownUntil || Date.parse(a.cooldownUntil) <= Date.now())) break;
      await sleep(200);
    } while (Date.now() < deadline);
    assert.ok(
      accounts.every((a) => !a.cooldownUntil || Date.parse(a.cooldownUntil) <= Date.now()),
      JSON.stringify(accounts),
    );
    const after = await call(h.gw.url, 'POST', '/v2/pixverse/videos/create', token, {
      prompt: 'after the storm',
      queue: true,
    });
    assert.equal(after.status, 200);
    const last = await waitAllFinal(() => [h.gw.url], token, [after.body.video_id], 20_000);
    assert.equal(
      last.get(after.body.video_id)?.video_status_name,
      'COMPLETED',
      'the pool serves new work afterwards',
    );
    // Stuck jobs the gateway timed out hold their slots (PixVerse still runs them) until PixVerse
    // ends them or the hold's cap (a second job timeout) passes: then every slot is free again.
    let free = 0;
    const freeDeadline = Date.now() + 2 * JOB_TIMEOUT_MS + 10_000;
    do {
      const view = await call(h.gw.url, 'GET', '/v2/pixverse/scheduler/available', token);
      free = (view.body.available as { available: number }[]).reduce((n, a) => n + a.available, 0);
      if (free === 3 * keys.length) break;
      await sleep(200);
    } while (Date.now() < freeDeadline);
    assert.equal(free, 3 * keys.length, 'held slots of timed-out jobs are freed');
    const cbDeadline = Date.now() + 20_000;
    while (jobs.some((j) => !receiver.deliveries.has(j.ref)) && Date.now() < cbDeadline) await sleep(200);
    const delivered = jobs.filter((j) => receiver.deliveries.has(j.ref)).length;
    assert.equal(delivered, jobs.length, 'every final state was called back');
    figures('faults', {
      jobs: jobs.length,
      kinds: MIX.length,
      right_final_state: jobs.length - wrong.length,
      created_upstream: totals.created,
      double_creates: totals.created - 9 * ROUNDS,
      slot_leaks: available.body.executing.length,
      callbacks: delivered,
      settled_s: settledS.toFixed(1),
    });
  });
});
