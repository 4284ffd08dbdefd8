/**
 * Slots held by jobs the gateway timed out. The client saw `timed_out` at the job timeout, but the
 * provider may still be running the job on the account's key, so the slot stays taken (freeing it
 * let the next submit exceed the key's real concurrency) until the provider reports the job final,
 * no longer knows it, or the hold's cap passes. The sweeper calls this once per pass: a slow
 * backstop poll, since the job's result no longer matters to anyone, only the key's occupancy.
 */
import type { Job } from '../domain/job.ts';
import type { SchedulerContext } from './context.ts';
import { asUpstreamError } from './submitErrors.ts';

/** Held jobs looked at per pass (oldest hold first), and status reads in flight at once. */
const HELD_BATCH = 50;
const HELD_CONCURRENCY = 8;

export async function releaseHeldSlots(ctx: SchedulerContext): Promise<number> {
  const held = await ctx.store.heldSlots(HELD_BATCH);
  let released = 0;
  for (let i = 0; i < held.length; i += HELD_CONCURRENCY) {
    const round = held.slice(i, i + HELD_CONCURRENCY);
    const done = await Promise.all(round.map(({ job, heldUntil }) => settle(ctx, job, heldUntil)));
    released += done.filter(Boolean).length;
  }
  return released;
}

/** Frees the slot when the hold is over; true when this call freed it. */
async function settle(ctx: SchedulerContext, job: Job, heldUntil: number): Promise<boolean> {
  if (!(await holdIsOver(ctx, job, heldUntil))) return false;
  // Compare-and-swap: another instance's sweeper may free the same slot first.
  const freed = await ctx.store.releaseHeldSlot(job.id);
  if (!freed) return false;
  ctx.log.info({ jobId: job.id, upstreamId: job.upstreamId }, 'released the slot of a timed-out job');
  ctx.events.emit('slotReleased', freed);
  return true;
}

async function holdIsOver(ctx: SchedulerContext, job: Job, heldUntil: number): Promise<boolean> {
  if (ctx.now() >= heldUntil) return true;
  const { store, upstream, keys, provider } = ctx;
  const account = job.email === null ? null : await store.getAccount(job.userId, job.email);
  if (!account || !job.upstreamId) return true;
  try {
    const status = await upstream.status(keys.open(account), job.type, job.upstreamId);
    return status.state !== 'pending';
  } catch (err) {
    const upstreamError = asUpstreamError(err);
    if (upstreamError.errorClass === 'not_found') return true;
    // No answer: keep holding; the next pass (or the cap) decides.
    ctx.log.warn(
      { jobId: job.id, err: upstreamError.message },
      `${provider.displayName} status of a held slot failed`,
    );
    return false;
  }
}
