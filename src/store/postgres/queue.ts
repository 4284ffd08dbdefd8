/**
 * The queue (late binding): jobs wait without an account and without a slot, and dispatch()
 * binds the next one fairly when a slot is free.
 *
 * Locks, always taken in this order (so no two of these transactions ever deadlock):
 *   1. account rows. dispatch() and reserve() (admission.ts) lock them FOR NO KEY UPDATE, all of
 *      the tenant's in email byte order (a pinned reserve: just its account); they count slots and
 *      bind under that lock, so a dispatch and a reserve (or two dispatches, on any instances) can
 *      never both fill the last slot of an account. deleteAccount() locks its row FOR UPDATE.
 *      enqueue() of a pinned job takes FOR KEY SHARE on its account only, which conflicts with
 *      deleteAccount's FOR UPDATE (see queueEnqueue.ts) but not with NO KEY UPDATE: enqueues never wait
 *      for a dispatch or an admission to let go of the accounts.
 *   2. the tenant's users row, FOR NO KEY UPDATE: the tenant's queue lock. Every read-modify-write
 *      of the fairness state (queue_passes, users.queue_vtime) and every "check the queue length,
 *      then insert" happens under it. NO KEY UPDATE, not UPDATE, so it never blocks the FOR KEY SHARE
 *      that inserting a job (foreign key to users) takes.
 *   3. job rows (dispatch's picks, FOR NO KEY UPDATE SKIP LOCKED; requeue's compare-and-swap), then
 *      queue_passes rows.
 *
 * users.queued_count (migration 3) is kept by triggers, so every statement that moves a job into or
 * out of 'queued' also updates — and so row-locks — the tenant's users row, at the end of the
 * statement, after its job locks. For the lock holders above that is level 2, which they already
 * hold. The others are finish() of a queued job, expireQueued() and deleteAccount(): they lock job
 * rows (level 3), then the users row. No cycle: the only transactions that wait for a job lock
 * while holding a users row are requeue() — for a job in `submitting`, never one of theirs (the
 * statements that fire the trigger lock queued jobs only; deleteAccount cancels its queued jobs
 * before it locks any slot holder) — and dispatch, which never waits for a job lock (SKIP LOCKED).
 */
import type pg from 'pg';
import type { Account } from '../../domain/account.ts';
import type { AccountLoad, Dispatched } from '../store.ts';
import { chooseAccount, compareQueued, fitClasses, fitsClasses, passStride } from '../fairness.ts';
import { accountFromRow, jobFromRow, type AccountRow, type JobRow } from '../rows.ts';
import { fetchCandidates, type Candidate, type Turn } from './queueCandidates.ts';
import { beginWith, withTransaction } from './pool.ts';
import {
  DISPATCH_LOCK_ACCOUNTS,
  DISPATCH_SLOTS,
  DISPATCH_TURNS,
  QUEUE_STATEMENTS,
  TENANT_LOCK,
} from './queueStatements.ts';

/**
 * Settings for a dispatch transaction (SET LOCAL: they end with it). Its statements are prepared
 * and take their inputs as parameters — the candidates statement has a fixed text for every tenant
 * — so the generic plan is the right one: without this PostgreSQL would re-plan the many-armed
 * candidates statement on every execution (a custom plan costs several ms to make, more than it
 * saves). And JIT off: these are index seeks, but a generic plan's cost estimate for them can pass
 * jit_above_cost, and compiling then takes far longer (100+ ms) than running.
 */
const DISPATCH_SETTINGS = ['SET LOCAL plan_cache_mode = force_generic_plan', 'SET LOCAL jit = off'];
// ── dispatch ─────────────────────────────────────────────────────────────

const TOKENS_READ_AT_LEAST = 4;

/** Tokens in service order: the smallest pass first, ties to the lower key. */
const byTurn = (a: Turn, b: Turn) => a.pass - b.pass || a.key - b.key;

/** What the batch knows about the tenant, kept in memory as it plans: loads and passes only ever move by its own steps. */
interface QueueState {
  loads: AccountLoad[];
  turns: Turn[];
}

function cloneState(state: QueueState): QueueState {
  return { loads: state.loads.map((l) => ({ ...l })), turns: state.turns.map((t) => ({ ...t })) };
}

interface Step {
  job: Candidate;
  account: Account;
  key: number;
  /** The token's pass before this step advanced it: the tenant's vtime after the step. */
  passBefore: number;
  stride: number;
}

/** One dispatch step applied to the in-memory state: the account takes a slot, the token's pass advances. */
function applyStep(state: QueueState, step: Step): void {
  state.loads.find((l) => l.account.email === step.account.email)!.executing++;
  state.turns.find((t) => t.key === step.key)!.pass += step.stride;
}

/**
 * Plans up to `limit` dispatch steps on `state` (mutated as it goes), making exactly the choices
 * that as many successive single dispatches would: each step recomputes the fit classes from the
 * loads, walks the tokens in pass order, takes the token's best fitting job, chooses its account
 * (chooseAccount, the same `random` draws) and advances the pass.
 *
 * Candidates are read once per token, not once per step: when a token's turn first comes, the next
 * tokens in turn order that are not read yet are read with it (as many as steps remain, and at
 * least a few, so that a token whose jobs do not fit costs no extra round trip), each line's best
 * `remaining` jobs. That is enough for the whole batch: within it the loads only
 * grow, so a line that does not fit when read never fits later, and a line cannot give more jobs
 * than there are steps left. Queued jobs cannot appear meanwhile (new ones need the tenant lock we
 * hold); ones that disappear (cancelled, expired) are caught when the steps are bound.
 */
async function planSteps(
  tx: pg.PoolClient,
  userId: number,
  state: QueueState,
  limit: number,
  now: number,
  random: (() => number) | undefined,
  skip: Set<number>,
): Promise<Step[]> {
  const steps: Step[] = [];
  const read = new Map<number, Candidate[]>();
  while (steps.length < limit) {
    const classes = fitClasses(state.loads, now);
    if (classes.length === 0) break;
    const order = [...state.turns].sort(byTurn);
    let pick: { turn: Turn; job: Candidate } | null = null;
    for (let i = 0; i < order.length && !pick; i++) {
      const turn = order[i]!;
      if (!read.has(turn.key)) {
        const remaining = limit - steps.length;
        const keys = order
          .slice(i)
          .filter((t) => !read.has(t.key))
          .slice(0, Math.max(remaining, TOKENS_READ_AT_LEAST))
          .map((t) => t.key);
        const rows = await fetchCandidates(tx, userId, keys, classes, [...skip], remaining);
        for (const key of keys) read.set(key, []);
        for (const row of rows) read.get(row.key)!.push(row);
      }
      let best: Candidate | null = null;
      for (const c of read.get(turn.key)!) {
        if (skip.has(c.id) || !fitsClasses(c, classes)) continue;
        if (!best || compareQueued(c, best) < 0) best = c;
      }
      if (best) pick = { turn, job: best };
    }
    if (!pick) break;
    const { turn, job } = pick;
    skip.add(job.id); // planned (or unfit): never again in this batch
    const choice = chooseAccount(state.loads, {
      email: job.pinnedEmail,
      maxJobsOverride: job.maxJobsOverride,
      now,
      random,
    });
    // Cannot happen: fitsClasses is the rule chooseAccount applies. Skip the job rather than trust it.
    if (!choice.ok) continue;
    const step: Step = {
      job,
      account: choice.account,
      key: turn.key,
      passBefore: turn.pass,
      stride: passStride(turn.weight),
    };
    applyStep(state, step);
    steps.push(step);
  }
  return steps;
}

/**
 * Binds planned steps in ONE statement: locks the picked jobs (FOR NO KEY UPDATE SKIP LOCKED),
 * moves them to submitting on their accounts, and — only if every one of them was bound — writes
 * the tokens' new passes and the tenant's vtime as planned. Returns the rows it bound.
 *
 * Race prevented by `picked`: a job being cancelled or expired at this moment (finish(),
 * deleteAccount(), expireQueued() hold its row lock) must not also be dispatched. SKIP LOCKED: do
 * not wait for them — the job is left out. A row changed and committed since it was read is
 * re-checked by the lock against its latest version, so a job no longer queued drops out the same
 * way. The caller then replans without it.
 */
async function bindSteps(
  tx: pg.PoolClient,
  userId: number,
  steps: readonly Step[],
  passes: Map<number, number>,
  vtime: number,
  now: number,
): Promise<JobRow[]> {
  const res = await tx.query<JobRow>({
    name: 'pixgate_q_bind',
    text: `WITH plan AS (
       SELECT * FROM unnest($1::bigint[], $2::text[]) AS p(id, email)
     ), picked AS (
       SELECT id FROM jobs WHERE id = ANY($1::bigint[]) AND state = 'queued' FOR NO KEY UPDATE SKIP LOCKED
     ), bound AS (
       UPDATE jobs SET state = 'submitting', email = plan.email, started_at = $3,
                       lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
         FROM picked JOIN plan ON plan.id = picked.id
        WHERE jobs.id = picked.id
        RETURNING jobs.*
     ), complete AS (
       SELECT count(*) = cardinality($1::bigint[]) AS ok FROM bound
     ), advanced AS (
       INSERT INTO queue_passes (user_id, token_key, pass)
       SELECT $4, k, p FROM unnest($5::bigint[], $6::double precision[]) AS a(k, p) WHERE (SELECT ok FROM complete)
       ON CONFLICT (user_id, token_key) DO UPDATE SET pass = EXCLUDED.pass
     ), clock AS (
       UPDATE users SET queue_vtime = $7 WHERE id = $4 AND (SELECT ok FROM complete)
     )
     SELECT * FROM bound`,
    values: [
      steps.map((s) => s.job.id),
      steps.map((s) => s.account.email),
      now,
      userId,
      [...passes.keys()],
      [...passes.values()],
      vtime,
    ],
  });
  return res.rows;
}

/** The passes and vtime that `steps`, applied to `base` in order, leave behind (the same additions as one dispatch at a time). */
function replay(
  base: QueueState,
  steps: readonly Step[],
): { state: QueueState; passes: Map<number, number>; vtime: number | null } {
  const state = cloneState(base);
  const passes = new Map<number, number>();
  let vtime: number | null = null;
  for (const planned of steps) {
    const turn = state.turns.find((t) => t.key === planned.key)!;
    vtime = turn.pass;
    applyStep(state, { ...planned, passBefore: turn.pass });
    passes.set(turn.key, turn.pass);
  }
  return { state, passes, vtime };
}

/**
 * Up to `limit` fair dispatch steps for a tenant, in ONE transaction, with exactly the choices as
 * many successive dispatch() calls would make (dispatch() is this with limit 1):
 *
 *   round trip 1: BEGIN; lock the tenant's accounts; lock the tenant's queue; count the slots;
 *                 read the tokens in turn order — one multi-statement query of prepared statements
 *                 (pool.ts beginWith), each statement with its own snapshot as if sent alone;
 *   round trip 2: the candidate jobs of the tokens whose turn comes (one statement; rarely more);
 *   round trip 3: bind every planned step, advance the passes and the vtime (one statement);
 *   round trip 4: COMMIT.
 * Planning between them happens in memory (planSteps), so a batch costs the same four round trips
 * whether it dispatches 1 job or 16 — and holds the locks for that long, instead of once per job.
 */
export async function dispatchBatch(
  pool: pg.Pool,
  userId: number,
  now: number,
  limit: number,
  random?: () => number,
): Promise<Dispatched[]> {
  if (!(limit >= 1)) return [];
  limit = Math.floor(limit);
  // Unlocked pre-check, so dispatchers woken for a tenant with an empty queue (every freed slot
  // wakes them) do not contend with reserve() for the account locks. A job queued just after this
  // read announces itself on the queue channel, which wakes the dispatcher again.
  const any = await pool.query<{ queued_count: number }>({
    name: 'pixgate_q_any',
    text: 'SELECT queued_count FROM users WHERE id = $1',
    values: [userId],
  });
  if (!(Number(any.rows[0]?.queued_count ?? 0) > 0)) return [];

  return withTransaction(
    pool,
    async (tx) => {
      // Race prevented: two dispatches (any instances), or a dispatch and a reserve(), both counting
      // the same free slot and both binding a job to it. The account rows are locked in email order,
      // as reserve() does, so they queue behind each other; the loads are then counted by a later
      // statement, whose snapshot includes everything the previous lock holder committed. The
      // tenant's queue lock then serialises the fairness state (see the file comment for the order).
      const [accountRows, tenantRows, slotRows, turnRows] = await beginWith(
        tx,
        QUEUE_STATEMENTS,
        [
          { statement: DISPATCH_LOCK_ACCOUNTS, args: [userId] },
          { statement: TENANT_LOCK, args: [userId] },
          { statement: DISPATCH_SLOTS, args: [userId] },
          { statement: DISPATCH_TURNS, args: [userId] },
        ],
        DISPATCH_SETTINGS,
      );
      const tenant = tenantRows![0];
      if (!tenant || !(Number(tenant.queued_count) > 0) || accountRows!.length === 0) return [];
      const held = new Map(slotRows!.map((row) => [row.email as string, Number(row.n)]));
      let state: QueueState = {
        loads: (accountRows as AccountRow[]).map((row) => ({
          account: accountFromRow(row),
          executing: held.get(row.email) ?? 0,
        })),
        turns: turnRows!.map((row) => ({
          key: Number(row.key),
          pass: Number(row.pass),
          weight: Number(row.weight),
        })),
      };

      const dispatched: Dispatched[] = [];
      const skip = new Set<number>();
      while (dispatched.length < limit) {
        const base = cloneState(state);
        const steps = await planSteps(tx, userId, state, limit - dispatched.length, now, random, skip);
        if (steps.length === 0) break;
        const planned = replay(base, steps);
        const rows = await bindSteps(tx, userId, steps, planned.passes, planned.vtime!, now);
        const byId = new Map(rows.map((row) => [Number(row.id), row]));
        const bound = steps.filter((s) => byId.has(s.job.id));
        for (const s of bound) dispatched.push({ job: jobFromRow(byId.get(s.job.id)!), account: s.account });
        if (bound.length === steps.length) break; // planning stopped for lack of fit, or at the limit
        // A race took some picks (see bindSteps); the passes were not written. Write what the bound
        // steps alone leave behind, and plan the remaining steps again without the lost jobs (they
        // stay in `skip`). Loads as if only the bound steps had happened: still an upper bound.
        const kept = replay(base, bound);
        if (bound.length > 0) await writeFairness(tx, userId, kept.passes, kept.vtime!);
        state = kept.state;
      }
      return dispatched;
    },
    { fnBegins: true },
  );
}

async function writeFairness(
  tx: pg.PoolClient,
  userId: number,
  passes: Map<number, number>,
  vtime: number,
): Promise<void> {
  await tx.query({
    name: 'pixgate_q_fairness',
    text: `WITH advanced AS (
       INSERT INTO queue_passes (user_id, token_key, pass)
       SELECT $1, k, p FROM unnest($2::bigint[], $3::double precision[]) AS a(k, p)
       ON CONFLICT (user_id, token_key) DO UPDATE SET pass = EXCLUDED.pass
     )
     UPDATE users SET queue_vtime = $4 WHERE id = $1`,
    values: [userId, [...passes.keys()], [...passes.values()], vtime],
  });
}

export async function dispatch(
  pool: pg.Pool,
  userId: number,
  now: number,
  random?: () => number,
): Promise<Dispatched | null> {
  return (await dispatchBatch(pool, userId, now, 1, random))[0] ?? null;
}

// ── requeue and the queue's reads ────────────────────────────────────────

export { enqueue } from './queueEnqueue.ts';
export { CANDIDATES } from './queueCandidates.ts';
export { requeue } from './queueLifecycle.ts';
export { QUEUED_JOBS_SQL } from '../sql/queue.ts';
