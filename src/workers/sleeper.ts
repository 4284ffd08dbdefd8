/**
 * A sleep that wake() or an AbortSignal cuts short, so loops react to events at once and a
 * stopping worker never waits out a long idle sleep.
 */
export class Sleeper {
  private timer: NodeJS.Timeout | null = null;
  private resolve: (() => void) | null = null;
  private pendingWake = false;

  /** Resolves after `ms`, on wake(), or when `signal` aborts (at once if it already has). */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.pendingWake || signal?.aborted) {
      this.pendingWake = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const onAbort = () => this.wake();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.resolve = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.timer = setTimeout(() => this.wake(), Math.max(0, ms));
    });
  }

  /** Ends the current sleep, or makes the next one return immediately. */
  wake(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const resolve = this.resolve;
    this.resolve = null;
    if (resolve) resolve();
    else this.pendingWake = true;
  }
}
