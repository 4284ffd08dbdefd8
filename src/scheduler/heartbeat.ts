/**
 * Instance heartbeat: tells other instances sharing the store that this one is alive, so a
 * dead instance's in-doubt submits are reconciled seconds after it stopped beating (see
 * Sweeper) instead of after the two-minute age rule. One timer per process; a failed beat (store
 * briefly unreachable) is only logged, the next one catches up.
 */
import type { SchedulerContext } from './context.ts';

export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly ctx: SchedulerContext) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.beat(), this.ctx.tuning.heartbeatMs);
    this.timer.unref();
    void this.beat();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async beat(): Promise<void> {
    try {
      await this.ctx.store.beatInstance(this.ctx.now());
    } catch (err) {
      this.ctx.log.warn({ err: (err as Error).message }, 'instance heartbeat failed');
    }
  }
}
