/** Store conformance: Job transitions, tracking leases, expedited polls and sweeping. */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import {
  roleTests,
  T0,
  BIG_UPSTREAM_ID,
  userWithAccounts,
  reserveOk,
  runningJob,
  enqueueOk,
  type StoreHandle,
} from './harness.ts';

export function runJobsConformance(makeStore: () => Promise<StoreHandle>): void {
  const { test } = roleTests(makeStore);
  describe('transitions', () => {
    test('markRunning is a compare-and-swap from submitting and keeps big upstream ids exact', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 2 });
      const job = await reserveOk(store, u.id, { type: 'music' });
      const returned = await store.markRunning(job.id, BIG_UPSTREAM_ID, T0 + 5000, T0 + 10);
      const running = (await store.getJob(job.id))!;
      assert.deepEqual(returned, running, 'markRunning answers the running job as stored');
      assert.equal(running.state, 'running');
      assert.equal(running.upstreamId, BIG_UPSTREAM_ID);
      assert.equal(running.nextPollAt, T0 + 5000);
      assert.equal(running.startedAt, T0, 'the slot clock keeps running from the reservation');
      assert.equal(await store.markRunning(job.id, '1', T0, T0), null, 'not submitting any more');
      assert.equal((await store.getJob(job.id))!.upstreamId, BIG_UPSTREAM_ID);

      assert.equal((await store.findJob(u.id, 'a@x.io', 'music', BIG_UPSTREAM_ID))!.id, job.id);
      assert.equal(await store.findJob(u.id, 'a@x.io', 'video', BIG_UPSTREAM_ID), null);
      assert.equal(await store.findJob(u.id, 'b@x.io', 'music', BIG_UPSTREAM_ID), null);
      assert.equal(await store.findJob(u.id + 1000, 'a@x.io', 'music', BIG_UPSTREAM_ID), null);
      assert.equal(await store.findJob(u.id, 'a@x.io', 'music', '384751234567890123457'), null);

      const other = await reserveOk(store, u.id);
      await store.finish(other.id, { state: 'failed', error: 'submit error' }, T0);
      assert.equal(await store.markRunning(other.id, '5', T0, T0), null, 'terminal jobs stay terminal');
      assert.equal(await store.getJob(other.id + job.id + 1000), null);
    });

    test('finish writes the outcome once and frees the slot', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 1 });
      const job = await runningJob(store, u.id, 'a@x.io', T0 + 10);
      const done = await store.finish(
        job.id,
        {
          state: 'completed',
          resultUrl: 'https://cdn/v.mp4',
          upstreamStatus: 1,
          result: { url: 'https://cdn/v.mp4', id: BIG_UPSTREAM_ID },
        },
        T0 + 500,
      );
      assert.ok(done);
      assert.equal(done.state, 'completed');
      assert.equal(done.resultUrl, 'https://cdn/v.mp4');
      assert.equal(done.upstreamStatus, 1);
      assert.deepEqual(done.result, { url: 'https://cdn/v.mp4', id: BIG_UPSTREAM_ID });
      assert.equal(done.finishedAt, T0 + 500);
      assert.equal(done.error, null);
      assert.deepEqual(await store.getJob(job.id), done);
      assert.equal(await store.finish(job.id, { state: 'failed', error: 'late' }, T0 + 600), null);
      assert.equal((await store.getJob(job.id))!.state, 'completed');
      assert.deepEqual(await store.activeJobs(u.id), []);
      await reserveOk(store, u.id, { email: 'a@x.io' }); // the single slot is free again
    });

    test('finish keeps fields the outcome omits and clears ones it sets to null', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 2 });
      const job = await runningJob(store, u.id, 'a@x.io', T0);
      const [claimed] = await store.claimDuePolls('w', T0, 1000, 10);
      assert.equal(claimed!.id, job.id);
      assert.equal(await store.reschedulePoll(job.id, claimed!.leaseToken!, T0 + 100, 5, T0), true);
      const cancelled = await store.finish(job.id, { state: 'cancelled' }, T0 + 1);
      assert.equal(cancelled!.upstreamStatus, 5, 'omitted upstreamStatus keeps the last one seen');
      assert.equal(cancelled!.error, null);

      const job2 = await runningJob(store, u.id, 'a@x.io', T0);
      const [c2] = await store.claimDuePolls('w', T0, 1000, 10);
      await store.reschedulePoll(job2.id, c2!.leaseToken!, T0 + 100, 5, T0);
      const failed = await store.finish(
        job2.id,
        { state: 'failed', upstreamStatus: null, error: 'boom' },
        T0 + 1,
      );
      assert.equal(failed!.upstreamStatus, null);
      assert.equal(failed!.error, 'boom');
    });

    test('finish honours `from`', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 2 });
      const job = await runningJob(store, u.id, 'a@x.io', T0);
      assert.equal(
        await store.finish(job.id, { state: 'failed', error: 'submit error' }, T0, { from: ['submitting'] }),
        null,
      );
      assert.equal((await store.getJob(job.id))!.state, 'running');
      assert.equal(await store.finish(job.id, { state: 'failed' }, T0, { from: [] }), null);
      const won = await store.finish(job.id, { state: 'timed_out', error: 't' }, T0, {
        from: ['submitting', 'running'],
      });
      assert.equal(won!.state, 'timed_out');
      const sub = await reserveOk(store, u.id);
      assert.equal(
        (await store.finish(sub.id, { state: 'failed', error: 'submit' }, T0, { from: ['submitting'] }))!
          .state,
        'failed',
      );
    });

    test('concurrent finish calls: exactly one winner, whose outcome is stored', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 8 });
      for (let round = 0; round < 5; round++) {
        const job = await runningJob(store, u.id, 'a@x.io', T0);
        const outcomes = [
          { state: 'completed' as const, resultUrl: 'https://cdn/1' },
          { state: 'failed' as const, error: 'upstream failed' },
          { state: 'cancelled' as const, error: 'deleted' },
          { state: 'moderated' as const, error: 'moderated' },
          { state: 'timed_out' as const, error: 'timeout' },
          { state: 'completed' as const, resultUrl: 'https://cdn/2' },
        ];
        const results = await Promise.all(outcomes.map((o, i) => store.finish(job.id, o, T0 + i)));
        const winners = results.filter((r) => r !== null);
        assert.equal(winners.length, 1, `round ${round}: exactly one winner`);
        const stored = (await store.getJob(job.id))!;
        assert.deepEqual(stored, winners[0]);
      }
      assert.deepEqual(await store.activeJobs(u.id), []);
    });

    test('activeJobs and accountLoads count submitting + running only', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 3, 'b@x.io': 2, 'c@x.io': 1 });
      const other = await userWithAccounts(store, { 'a@x.io': 3 });
      const j1 = await reserveOk(store, u.id, { email: 'a@x.io', now: T0 + 3 });
      const j2 = await runningJob(store, u.id, 'a@x.io', T0);
      const j3 = await reserveOk(store, u.id, { email: 'b@x.io', now: T0 + 1 });
      const j4 = await reserveOk(store, u.id, { email: 'b@x.io', now: T0 + 2 });
      await store.finish(j4.id, { state: 'completed' }, T0 + 9);
      await reserveOk(store, other.id, { email: 'a@x.io' });

      // Oldest slot first (j2 and its predecessor share T0; ties by insertion).
      assert.deepEqual(
        (await store.activeJobs(u.id)).map((j) => j.id),
        [j2.id, j3.id, j1.id],
      );
      const loads = await store.accountLoads(u.id);
      assert.deepEqual(loads.map((l) => [l.account.email, l.executing, l.account.maxJobs]).sort(), [
        ['a@x.io', 2, 3],
        ['b@x.io', 1, 2],
        ['c@x.io', 0, 1],
      ]);
      assert.deepEqual(await store.accountLoads(u.id + other.id + 1000), []);
    });
  });

  describe('tracking leases', () => {
    test('claimDuePolls: due running jobs only, oldest due first, limited, each with its own token', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 8 });
      const late = await runningJob(store, u.id, 'a@x.io', T0 + 300);
      const early = await runningJob(store, u.id, 'a@x.io', T0 + 100);
      const mid = await runningJob(store, u.id, 'a@x.io', T0 + 200);
      const future = await runningJob(store, u.id, 'a@x.io', T0 + 10_000);
      await reserveOk(store, u.id, { email: 'a@x.io' }); // submitting: never polled
      const done = await runningJob(store, u.id, 'a@x.io', T0);
      await store.finish(done.id, { state: 'completed' }, T0);

      const first = await store.claimDuePolls('w1', T0 + 1000, 30_000, 2);
      assert.deepEqual(
        first.map((j) => j.id),
        [early.id, mid.id],
      );
      for (const j of first) {
        assert.equal(j.leaseExpiresAt, T0 + 31_000);
        assert.ok(j.leaseToken);
        assert.deepEqual((await store.getJob(j.id))!.leaseToken, j.leaseToken);
      }
      assert.notEqual(first[0]!.leaseToken, first[1]!.leaseToken);
      const second = await store.claimDuePolls('w2', T0 + 1000, 30_000, 10);
      assert.deepEqual(
        second.map((j) => j.id),
        [late.id],
        'live leases are skipped, future polls not due',
      );
      assert.deepEqual(await store.claimDuePolls('w3', T0 + 1000, 30_000, 10), []);
      assert.deepEqual(await store.claimDuePolls('w3', T0 + 10_000, 30_000, 0), [], 'limit 0 claims nothing');
      assert.deepEqual(
        (await store.claimDuePolls('w3', T0 + 10_000, 30_000, 10)).map((j) => j.id),
        [future.id],
      );
    });

    test('a live lease is never handed to two owners; an expired one is, and the old token is fenced', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 2 });
      const job = await runningJob(store, u.id, 'a@x.io', T0);
      const [mine] = await store.claimDuePolls('w1', T0, 1000, 10);
      const racing = await Promise.all(
        [1, 2, 3, 4].map((i) => store.claimDuePolls(`r${i}`, T0 + 999, 1000, 10)),
      );
      assert.deepEqual(racing.flat(), [], 'lease live until T0+1000');

      const takeovers = await Promise.all(
        [1, 2, 3, 4].map((i) => store.claimDuePolls(`r${i}`, T0 + 1000, 1000, 10)),
      );
      const taken = takeovers.flat();
      assert.equal(taken.length, 1, 'expired lease goes to exactly one new owner');
      const theirs = taken[0]!;
      assert.equal(theirs.id, job.id);
      assert.notEqual(theirs.leaseToken, mine!.leaseToken);

      assert.equal(await store.reschedulePoll(job.id, mine!.leaseToken!, T0 + 5000, 5, T0 + 1001), false);
      assert.equal(
        await store.finish(job.id, { state: 'completed' }, T0 + 1001, { leaseToken: mine!.leaseToken! }),
        null,
      );
      assert.deepEqual(await store.renewLeases('w1', [job.id], T0 + 1001, 1000), []);
      assert.equal((await store.getJob(job.id))!.state, 'running');

      const fin = await store.finish(job.id, { state: 'completed', resultUrl: 'u' }, T0 + 1002, {
        leaseToken: theirs.leaseToken!,
      });
      assert.equal(fin!.state, 'completed');
      assert.equal(fin!.leaseToken, null, 'terminal jobs hold no lease');
    });

    test('reschedulePoll records the poll, releases the lease and makes the job due later', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 2 });
      const job = await runningJob(store, u.id, 'a@x.io', T0);
      const [claimed] = await store.claimDuePolls('w1', T0, 30_000, 10);
      assert.equal(await store.reschedulePoll(job.id, 'not-the-token', T0 + 5000, 5, T0), false);
      assert.equal(await store.reschedulePoll(job.id, claimed!.leaseToken!, T0 + 5000, 5, T0 + 1), true);
      const after = (await store.getJob(job.id))!;
      assert.equal(after.pollCount, 1);
      assert.equal(after.upstreamStatus, 5);
      assert.equal(after.nextPollAt, T0 + 5000);
      assert.equal(after.leaseToken, null);
      assert.equal(after.leaseExpiresAt, null);
      assert.equal(
        await store.reschedulePoll(job.id, claimed!.leaseToken!, T0 + 9000, 5, T0 + 2),
        false,
        'token is spent',
      );

      assert.deepEqual(await store.claimDuePolls('w2', T0 + 4999, 30_000, 10), [], 'not due yet');
      const [again] = await store.claimDuePolls('w2', T0 + 5000, 30_000, 10);
      assert.equal(again!.id, job.id, 'released at once: no wait for the old lease to expire');
      assert.equal(await store.reschedulePoll(job.id, again!.leaseToken!, T0 + 9000, 10, T0 + 5001), true);
      assert.equal((await store.getJob(job.id))!.pollCount, 2);

      await store.finish(job.id, { state: 'completed' }, T0 + 6000);
      assert.deepEqual(
        await store.claimDuePolls('w3', T0 + 9000, 1000, 10),
        [],
        'finished jobs are never claimed',
      );
    });

    test('renewLeases extends only leases the owner still holds', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 4 });
      const j1 = await runningJob(store, u.id, 'a@x.io', T0);
      const j2 = await runningJob(store, u.id, 'a@x.io', T0);
      const j3 = await runningJob(store, u.id, 'a@x.io', T0);
      const claimed = await store.claimDuePolls('w1', T0, 1000, 2);
      assert.deepEqual(
        claimed.map((j) => j.id),
        [j1.id, j2.id],
      );
      await store.claimDuePolls('w2', T0, 1000, 10); // w2 holds j3

      assert.deepEqual(await store.renewLeases('w1', [], T0 + 500, 1000), []);
      const held = await store.renewLeases('w1', [j1.id, j2.id, j3.id, j3.id + 1000], T0 + 500, 1000);
      assert.deepEqual(
        [...held].sort((a, b) => a - b),
        [j1.id, j2.id],
      );
      assert.equal((await store.getJob(j1.id))!.leaseExpiresAt, T0 + 1500);
      assert.equal((await store.getJob(j3.id))!.leaseExpiresAt, T0 + 1000, "w2's lease untouched");
      assert.equal(
        (await store.getJob(j1.id))!.leaseToken,
        claimed[0]!.leaseToken,
        'renewal keeps the token',
      );

      // At T0+1200 the original lease would have expired; the renewed one holds.
      const stolen = await store.claimDuePolls('w3', T0 + 1200, 1000, 10);
      assert.deepEqual(
        stolen.map((j) => j.id),
        [j3.id],
      );
      assert.deepEqual(await store.renewLeases('w2', [j3.id], T0 + 1200, 1000), [], 'w2 lost j3 to w3');
      await store.finish(j2.id, { state: 'completed' }, T0 + 1300, { leaseToken: claimed[1]!.leaseToken! });
      assert.deepEqual(
        await store.renewLeases('w1', [j1.id, j2.id], T0 + 1300, 1000),
        [j1.id],
        'finished jobs are not held',
      );
    });

    test('releaseLeases frees only that owner’s jobs for immediate pick-up', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 4 });
      const j1 = await runningJob(store, u.id, 'a@x.io', T0);
      const j2 = await runningJob(store, u.id, 'a@x.io', T0);
      await store.claimDuePolls('w1', T0, 60_000, 1);
      await store.claimDuePolls('w2', T0, 60_000, 1);
      await store.releaseLeases('w1');
      await store.releaseLeases('nobody');
      assert.equal((await store.getJob(j1.id))!.leaseToken, null);
      assert.notEqual((await store.getJob(j2.id))!.leaseToken, null);
      const picked = await store.claimDuePolls('w3', T0 + 1, 60_000, 10);
      assert.deepEqual(
        picked.map((j) => j.id),
        [j1.id],
      );
    });

    test('nextPollDue: earliest claimable poll among running jobs', async (store) => {
      assert.equal(await store.nextPollDue(), null);
      const u = await userWithAccounts(store, { 'a@x.io': 8 });
      await reserveOk(store, u.id); // submitting jobs have no poll
      assert.equal(await store.nextPollDue(), null);
      const a = await runningJob(store, u.id, 'a@x.io', T0 + 700);
      await runningJob(store, u.id, 'a@x.io', T0 + 900);
      assert.equal(await store.nextPollDue(), T0 + 700);
      await store.finish(a.id, { state: 'completed' }, T0);
      assert.equal(await store.nextPollDue(), T0 + 900);
      await runningJob(store, u.id, 'a@x.io', T0 + 100);
      // While a live lease holds the earliest job, it is not claimable before the lease expires.
      const [held] = await store.claimDuePolls('w1', T0 + 100, 500, 1);
      assert.equal(held!.nextPollAt, T0 + 100);
      assert.equal(await store.nextPollDue(), T0 + 600);
      await store.reschedulePoll(held!.id, held!.leaseToken!, T0 + 2000, 5, T0 + 150);
      assert.equal(await store.nextPollDue(), T0 + 900);
    });

    test('nextPollDue: a free job behind many polls in flight', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 80 });
      for (let i = 0; i < 70; i++) await runningJob(store, u.id, 'a@x.io', T0 + 1 + i);
      const held = await store.claimDuePolls('w1', T0 + 100, 900, 70);
      assert.equal(held.length, 70);
      assert.equal(await store.nextPollDue(), T0 + 1000, 'every running job leased: the earliest expiry');
      await runningJob(store, u.id, 'a@x.io', T0 + 3000);
      assert.equal(await store.nextPollDue(), T0 + 1000);
      await runningJob(store, u.id, 'a@x.io', T0 + 500);
      assert.equal(await store.nextPollDue(), T0 + 500, 'a free job behind 70 leased ones');
      for (const job of held.slice(0, 69))
        await store.reschedulePoll(job.id, job.leaseToken!, T0 + 4000, 5, T0 + 150);
      assert.equal(await store.nextPollDue(), T0 + 500, 'one lease left ahead of the free job');
    });
  });

  describe('webhook lookups and expedited polls', () => {
    test('jobsByUpstreamId: every job with that upstream id, any state or tenant, newest first', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 4, 'b@x.io': 4 });
      const v = await userWithAccounts(store, { 'a@x.io': 4 });
      assert.deepEqual(await store.jobsByUpstreamId(BIG_UPSTREAM_ID), []);
      const old = await runningJob(store, u.id, 'a@x.io', T0 + 100, BIG_UPSTREAM_ID);
      await store.finish(old.id, { state: 'failed', error: 'resubmitted' }, T0 + 1);
      const elsewhere = await runningJob(store, v.id, 'a@x.io', T0 + 100, BIG_UPSTREAM_ID);
      const current = await runningJob(store, u.id, 'b@x.io', T0 + 100, BIG_UPSTREAM_ID);
      // Equal to BIG_UPSTREAM_ID as a JS number (both exceed 2^53), different as the text it is.
      const neighbour = await runningJob(store, u.id, 'a@x.io', T0 + 100, '384751234567890123457');
      await reserveOk(store, u.id); // submitting: no upstream id yet
      await enqueueOk(store, u.id); // queued: none either

      const found = await store.jobsByUpstreamId(BIG_UPSTREAM_ID);
      assert.deepEqual(
        found.map((j) => j.id),
        [current.id, elsewhere.id, old.id],
      );
      assert.deepEqual(
        found.map((j) => [j.userId, j.state]),
        [
          [u.id, 'running'],
          [v.id, 'running'],
          [u.id, 'failed'],
        ],
      );
      assert.deepEqual(found[0], await store.getJob(current.id), 'whole jobs, as getJob reads them');
      assert.deepEqual(
        (await store.jobsByUpstreamId('384751234567890123457')).map((j) => j.id),
        [neighbour.id],
      );
      assert.deepEqual(await store.jobsByUpstreamId('1'), []);
      assert.deepEqual(await store.jobsByUpstreamId(''), []);
    });

    test('expeditePoll: a running job is due at once (never later than before); any other job answers false', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 8 });
      const job = await runningJob(store, u.id, 'a@x.io', T0 + 60_000);
      assert.equal(await store.nextPollDue(), T0 + 60_000);
      assert.deepEqual(await store.claimDuePolls('w', T0 + 10, 30_000, 10), [], 'not due before the webhook');
      assert.equal(await store.expeditePoll(job.id, T0 + 10), true);
      assert.equal((await store.getJob(job.id))!.nextPollAt, T0 + 10);
      assert.equal(await store.nextPollDue(), T0 + 10);
      assert.equal(await store.expeditePoll(job.id, T0 + 20), true, 'a second webhook');
      assert.equal((await store.getJob(job.id))!.nextPollAt, T0 + 10, 'an earlier due time is kept');
      const [claimed] = await store.claimDuePolls('w', T0 + 20, 30_000, 10);
      assert.equal(claimed!.id, job.id);

      const submitting = await reserveOk(store, u.id);
      const queued = await enqueueOk(store, u.id);
      const done = await runningJob(store, u.id, 'a@x.io', T0 + 60_000);
      await store.finish(done.id, { state: 'completed' }, T0 + 30);
      for (const other of [submitting, queued, done]) {
        const before = await store.getJob(other.id);
        assert.equal(await store.expeditePoll(other.id, T0 + 40), false, `a ${before!.state} job`);
        assert.deepEqual(await store.getJob(other.id), before, 'left as it was');
      }
      assert.equal(await store.expeditePoll(done.id + 1000, T0 + 40), false, 'unknown job');
    });

    test('expeditePoll during a poll: that poll’s reschedule makes the job due at `now`, once', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 2 });
      const job = await runningJob(store, u.id, 'a@x.io', T0);
      const [claimed] = await store.claimDuePolls('w1', T0, 30_000, 10);
      // The webhook lands while w1's poll is in flight.
      assert.equal(await store.expeditePoll(job.id, T0 + 5), true);
      const leased = (await store.getJob(job.id))!;
      assert.deepEqual(
        [leased.leaseToken, leased.leaseExpiresAt],
        [claimed!.leaseToken, T0 + 30_000],
        'the lease is untouched',
      );
      assert.deepEqual(
        await store.claimDuePolls('w2', T0 + 6, 30_000, 10),
        [],
        'no second poller while the lease lives',
      );
      assert.equal(await store.nextPollDue(), T0 + 30_000);

      // w1's answer ("still running", next look in a minute) may predate the webhook: due at `now` instead.
      assert.equal(await store.reschedulePoll(job.id, claimed!.leaseToken!, T0 + 60_000, 5, T0 + 8), true);
      const after = (await store.getJob(job.id))!;
      assert.deepEqual(
        [after.nextPollAt, after.pollCount, after.upstreamStatus, after.leaseToken],
        [T0 + 8, 1, 5, null],
      );
      assert.equal(await store.nextPollDue(), T0 + 8);

      // The hint is spent: the re-poll goes by its computed time.
      const [again] = await store.claimDuePolls('w2', T0 + 8, 30_000, 10);
      assert.equal(again!.id, job.id);
      assert.equal(await store.reschedulePoll(job.id, again!.leaseToken!, T0 + 70_000, 5, T0 + 9), true);
      assert.equal((await store.getJob(job.id))!.nextPollAt, T0 + 70_000);
      assert.equal(await store.nextPollDue(), T0 + 70_000);
    });

    test('a claim clears the hint: a poll started after the webhook keeps its computed time', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 2 });
      const job = await runningJob(store, u.id, 'a@x.io', T0 + 60_000);
      assert.equal(await store.expeditePoll(job.id, T0 + 1), true); // no poll in flight
      const [claimed] = await store.claimDuePolls('w1', T0 + 2, 30_000, 10);
      assert.equal(claimed!.id, job.id, 'due at once');
      assert.equal(await store.reschedulePoll(job.id, claimed!.leaseToken!, T0 + 40_000, 5, T0 + 3), true);
      assert.equal((await store.getJob(job.id))!.nextPollAt, T0 + 40_000);

      // A hint set under a lease that then expires and is taken over: the new holder's claim clears it
      // (its poll starts after the webhook), and the old holder's reschedule is fenced out.
      const [first] = await store.claimDuePolls('w1', T0 + 40_000, 1000, 10);
      assert.equal(await store.expeditePoll(job.id, T0 + 40_100), true);
      const [taken] = await store.claimDuePolls('w2', T0 + 41_000, 30_000, 10);
      assert.equal(taken!.id, job.id);
      assert.equal(
        await store.reschedulePoll(job.id, first!.leaseToken!, T0 + 99_000, 5, T0 + 41_001),
        false,
      );
      assert.equal(await store.reschedulePoll(job.id, taken!.leaseToken!, T0 + 50_000, 5, T0 + 41_002), true);
      assert.equal((await store.getJob(job.id))!.nextPollAt, T0 + 50_000);
    });
  });

  describe('sweeping', () => {
    test('expireJobs times out old slot holders only, once', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 8 });
      const oldSub = await reserveOk(store, u.id, { now: T0 });
      const oldRun = await runningJob(store, u.id, 'a@x.io', T0 + 10);
      const oldDone = await reserveOk(store, u.id, { now: T0 });
      await store.finish(oldDone.id, { state: 'completed' }, T0 + 5);
      const fresh = await reserveOk(store, u.id, { now: T0 + 1000 });
      const [leased] = await store.claimDuePolls('w1', T0 + 10, 60_000, 10);
      assert.equal(leased!.id, oldRun.id);

      const expired = await store.expireJobs(T0 + 1000, T0 + 2000, 'timed out after 1 s');
      assert.deepEqual(expired.map((j) => j.id).sort(), [oldSub.id, oldRun.id].sort());
      for (const j of expired) {
        assert.equal(j.state, 'timed_out');
        assert.equal(j.error, 'timed out after 1 s');
        assert.equal(j.finishedAt, T0 + 2000);
        assert.equal(j.leaseToken, null);
      }
      assert.equal((await store.getJob(oldDone.id))!.state, 'completed');
      assert.deepEqual(
        (await store.activeJobs(u.id)).map((j) => j.id),
        [fresh.id],
      );
      assert.deepEqual(await store.expireJobs(T0 + 1000, T0 + 3000, 'again'), []);
      assert.equal(
        await store.finish(oldRun.id, { state: 'completed' }, T0 + 3000, { leaseToken: leased!.leaseToken! }),
        null,
      );
    });

    test('claimStaleSubmitting leases abandoned submits to one owner at a time', async (store) => {
      const u = await userWithAccounts(store, { 'a@x.io': 8 });
      const s1 = await reserveOk(store, u.id, { now: T0 });
      const s2 = await reserveOk(store, u.id, { now: T0 + 10 });
      const recent = await reserveOk(store, u.id, { now: T0 + 5000 });
      await runningJob(store, u.id, 'a@x.io', T0); // running: not a submit to reconcile
      const failed = await reserveOk(store, u.id, { now: T0 });
      await store.finish(failed.id, { state: 'failed' }, T0 + 1);

      const claimed = await store.claimStaleSubmitting('w1', T0 + 1000, T0 + 6000, 30_000, 10);
      assert.deepEqual(
        claimed.map((j) => j.id),
        [s1.id, s2.id],
      );
      for (const j of claimed) {
        assert.equal(j.state, 'submitting');
        assert.ok(j.leaseToken);
        assert.equal(j.leaseExpiresAt, T0 + 36_000);
      }
      assert.deepEqual(await store.claimStaleSubmitting('w2', T0 + 1000, T0 + 6000, 30_000, 10), []);
      assert.deepEqual(await store.claimStaleSubmitting('w2', T0 + 1000, T0 + 6000, 30_000, 0), []);
      const limited = await store.claimStaleSubmitting('w2', T0 + 6000, T0 + 36_000, 30_000, 1);
      assert.deepEqual(
        limited.map((j) => j.id),
        [s1.id],
        'after expiry, oldest first, limited',
      );
      assert.ok(!claimed.some((j) => j.id === recent.id));

      // Reconciled: the job runs and its reconciliation lease no longer fences anything.
      assert.ok(await store.markRunning(s1.id, '777', T0 + 40_000, T0 + 36_001));
      assert.equal((await store.getJob(s1.id))!.leaseToken, null);
      assert.equal(
        await store.finish(s1.id, { state: 'failed' }, T0 + 36_002, { leaseToken: limited[0]!.leaseToken! }),
        null,
      );
      const polls = await store.claimDuePolls('t', T0 + 40_000, 1000, 10);
      assert.ok(
        polls.some((j) => j.id === s1.id),
        'the tracker can claim it',
      );

      // Or failed by the reconciler, fenced by its token.
      const s2Lease = claimed[1]!.leaseToken!;
      assert.equal(
        (await store.finish(s2.id, { state: 'failed', error: 'lost' }, T0 + 7000, {
          leaseToken: s2Lease,
          from: ['submitting'],
        }))!.state,
        'failed',
      );
    });
  });
}
