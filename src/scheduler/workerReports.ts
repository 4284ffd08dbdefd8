/**
 * How the scheduler's claim loops report: a lost lease is logged and emitted as `leaseLost`
 * (metrics count it per worker), an error is logged with the phase it happened in.
 */
import type { ClaimLoopOptions, LeaseLoss, LoopPhase } from '../workers/index.ts';
import type { SchedulerContext } from './context.ts';

export function reportingTo(
  ctx: Pick<SchedulerContext, 'log' | 'events'>,
  loopErrorMessage: string,
): Pick<ClaimLoopOptions<unknown, number>, 'onLeaseLost' | 'onError'> {
  return {
    onLeaseLost: (loss: LeaseLoss<number>) => {
      ctx.log.warn(
        { worker: loss.worker, jobId: loss.key, found: loss.reason },
        'lease lost: the job is no longer ours',
      );
      ctx.events.emit('leaseLost', loss);
    },
    onError: (err: unknown, phase: LoopPhase, key?: number) => {
      if (phase === 'claim') ctx.log.error({ err }, loopErrorMessage);
      else if (phase === 'renew') ctx.log.warn({ err }, 'lease renewal failed');
      else
        ctx.log.error(
          { err, phase, ...(key === undefined ? {} : { jobId: key }) },
          phase === 'work' ? 'work on a claimed job failed' : `${phase} failed`,
        );
    },
  };
}
