/**
 * Child process for the cross-process SQLite tests (driven by sqlite.test.ts; not a test itself).
 * Each child is its own process with its own connection, so SQLite's file locks are really
 * contended — unlike two stores in one process, where better-sqlite3's synchronous calls never overlap.
 *
 * Protocol (one JSON object per line): the child opens argv[2] WITHOUT migrating and prints
 * {"ready":true}; then for each command line on stdin it prints one result line. The parent sends
 * each command to all children at once so they race.
 */
import { createInterface } from 'node:readline';
import { migrate } from '../../src/store/sqlite/migrate.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';

export type Command =
  | { cmd: 'migrate' }
  | { cmd: 'reserve'; userId: number; emails: string[]; attempts: number; finishRate: number }
  | { cmd: 'queue'; userId: number; emails: string[]; attempts: number }
  | { cmd: 'exit' };

const store = await openSqliteStore(process.argv[2]!, { migrate: false });
const send = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

async function reserveLoop(c: Extract<Command, { cmd: 'reserve' }>) {
  const mine: number[] = [];
  const maxSeen: Record<string, number> = {};
  let admitted = 0;
  let finished = 0;
  for (let i = 0; i < c.attempts; i++) {
    const pin = Math.random() < 0.3 ? c.emails[Math.floor(Math.random() * c.emails.length)]! : null;
    const res = await store.reserve({
      provider: 'pixverse',
      userId: c.userId,
      tokenId: null,
      email: pin,
      maxJobsOverride: null,
      type: 'video',
      traceId: `t-${process.pid}-${i}`,
      upstream: { op: 'x', params: {} },
      request: {},
      replyUrl: null,
      replyRef: null,
      now: Date.now(),
    });
    if (res.ok) {
      admitted++;
      mine.push(res.job.id);
      // What every connection has committed so far: an overbooking anywhere would show here.
      for (const load of await store.accountLoads(c.userId)) {
        maxSeen[load.account.email] = Math.max(maxSeen[load.account.email] ?? 0, load.executing);
      }
    }
    if (mine.length > 0 && Math.random() < c.finishRate) {
      const id = mine.splice(Math.floor(Math.random() * mine.length), 1)[0]!;
      if (await store.finish(id, { state: 'completed' }, Date.now())) finished++;
    }
  }
  return { admitted, finished, maxSeen };
}

/** Enqueue, dispatch (single or batched) and finish at random: dispatch from several processes must never overbook either. */
async function queueLoop(c: Extract<Command, { cmd: 'queue' }>) {
  const mine: number[] = [];
  const maxSeen: Record<string, number> = {};
  let enqueued = 0;
  let dispatched = 0;
  let finished = 0;
  for (let i = 0; i < c.attempts; i++) {
    const r = Math.random();
    if (r < 0.4) {
      const pin = Math.random() < 0.3 ? c.emails[Math.floor(Math.random() * c.emails.length)]! : null;
      const now = Date.now();
      const res = await store.enqueue(
        {
          provider: 'pixverse',
          userId: c.userId,
          tokenId: null,
          email: pin,
          maxJobsOverride: null,
          type: 'video',
          traceId: `q-${process.pid}-${i}`,
          upstream: { op: 'x', params: {} },
          request: {},
          replyUrl: null,
          replyRef: null,
          priority: 0,
          now,
          queueRank: now - Math.floor(Math.random() * 60_000),
        },
        100_000,
      );
      if (res.ok) enqueued++;
    } else if (r < 0.8) {
      // Single dispatches and batches of up to three, racing the other processes' alike.
      const got =
        r < 0.6
          ? [await store.dispatch(c.userId, Date.now())].flatMap((d) => (d ? [d] : []))
          : await store.dispatchBatch(c.userId, Date.now(), 3);
      if (got.length > 0) {
        dispatched += got.length;
        mine.push(...got.map((d) => d.job.id));
        for (const load of await store.accountLoads(c.userId)) {
          maxSeen[load.account.email] = Math.max(maxSeen[load.account.email] ?? 0, load.executing);
        }
      }
    } else if (mine.length > 0) {
      const id = mine.splice(Math.floor(Math.random() * mine.length), 1)[0]!;
      if (await store.finish(id, { state: 'completed' }, Date.now())) finished++;
    }
  }
  return { enqueued, dispatched, finished, maxSeen };
}

send({ ready: true });
for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as Command;
  try {
    if (command.cmd === 'exit') break;
    if (command.cmd === 'migrate') send({ applied: migrate(store.db) });
    else if (command.cmd === 'queue') send(await queueLoop(command));
    else send(await reserveLoop(command));
  } catch (err) {
    send({ error: String((err as Error)?.stack ?? err) });
  }
}
await store.close();
process.exit(0);
