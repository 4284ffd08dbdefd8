/**
 * SQLite keeps each account's slot count (`accounts.executing`) in the account row through triggers
 * on `jobs`, and reserve() picks among free accounts from it. The count must equal the live count of
 * slot-holding jobs after any sequence of store operations, or reserve() would overbook (count too
 * low) or refuse free slots (too high). Random operation sequences through the Store API check it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { ReserveInput } from '../../src/store/store.ts';

const T0 = 1_700_000_000_000;
const EMAILS = ['a@x.io', 'b@x.io', 'c@x.io'];

const opArb = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      pin: fc.option(fc.nat(3), { nil: null }),
      override: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
      rnd: fc.double({ min: 0, max: 0.999, noNaN: true }),
    }),
    weight: 4,
  },
  fc.record({ kind: fc.constant('enqueue' as const), pin: fc.option(fc.nat(2), { nil: null }) }),
  fc.record({ kind: fc.constant('dispatch' as const) }),
  fc.record({ kind: fc.constant('run' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('finish' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('untrack' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('requeue' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('expire' as const) }),
  fc.record({ kind: fc.constant('deleteAccount' as const), which: fc.nat(2) }),
  fc.record({
    kind: fc.constant('upsertAccount' as const),
    which: fc.nat(2),
    maxJobs: fc.integer({ min: 1, max: 3 }),
  }),
);

test('accounts.executing equals the live slot count after any sequence of operations', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pixgate-slots-'));
  const store = await openSqliteStore(join(dir, 'store.db'));
  let round = 0;
  let admitted = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const user = await store.createUser(`u${++round}`, T0, 'secret-secret-secret');
        for (const email of EMAILS)
          await store.upsertAccount({ userId: user.id, email, apiKeyEnc: 'k', maxJobs: 2, now: T0 });
        let now = T0;
        const base = (email: string | null, override: number | null): ReserveInput => ({
          userId: user.id,
          provider: 'pixverse',
          tokenId: null,
          email,
          maxJobsOverride: override,
          type: 'video',
          traceId: `t${now}`,
          upstream: { op: 'video.text', params: { prompt: 'p' } },
          request: { prompt: 'p' },
          replyUrl: null,
          replyRef: null,
          now,
        });
        for (const op of ops) {
          now += 10;
          const live = (await store.activeJobs(user.id)).concat(await store.queuedJobs(user.id, 1000));
          const target = (pick: number) => (live.length === 0 ? null : live[pick % live.length]!);
          switch (op.kind) {
            case 'reserve': {
              const res = await store.reserve({
                ...base(op.pin === null ? null : (EMAILS[op.pin] ?? 'unknown@x.io'), op.override),
                random: () => op.rnd,
              });
              if (res.ok) admitted++;
              break;
            }
            case 'enqueue':
              await store.enqueue(
                { ...base(op.pin === null ? null : EMAILS[op.pin]!, null), priority: 0, queueRank: now },
                100,
              );
              break;
            case 'dispatch':
              if (await store.dispatch(user.id, now, () => 0.5)) admitted++;
              break;
            case 'run': {
              const job = target(op.pick);
              if (job) await store.markRunning(job.id, `up${job.id}`, now + 1000, now);
              break;
            }
            case 'finish': {
              const job = target(op.pick);
              if (job) await store.finish(job.id, { state: 'completed' }, now);
              break;
            }
            case 'untrack': {
              const job = target(op.pick);
              if (job) await store.untrackJob(job.id, now, false);
              break;
            }
            case 'requeue': {
              const job = target(op.pick);
              if (job) await store.requeue(job.id, now);
              break;
            }
            case 'expire':
              await store.expireJobs(now - 25, now, 'timed out');
              break;
            case 'deleteAccount':
              await store.deleteAccount(user.id, EMAILS[op.which]!, now);
              break;
            case 'upsertAccount':
              await store.upsertAccount({
                userId: user.id,
                email: EMAILS[op.which]!,
                apiKeyEnc: 'k',
                maxJobs: op.maxJobs,
                now,
              });
              break;
          }
          const kept = store.db
            .prepare('SELECT email, executing FROM accounts WHERE user_id = ? ORDER BY email')
            .all(user.id) as { email: string; executing: number }[];
          const counted = new Map(
            (
              store.db
                .prepare(
                  `SELECT email, COUNT(*) AS n FROM jobs WHERE user_id = ? AND state IN ('submitting', 'running') AND untracked_at IS NULL GROUP BY email`,
                )
                .all(user.id) as { email: string; n: number }[]
            ).map((r) => [r.email, r.n]),
          );
          for (const row of kept)
            assert.equal(row.executing, counted.get(row.email) ?? 0, `${op.kind}: executing of ${row.email}`);
        }
      }),
      { numRuns: 150 },
    );
    // Vacuity floor: the sequences did take slots.
    assert.ok(admitted > 100, `only ${admitted} slots taken`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
