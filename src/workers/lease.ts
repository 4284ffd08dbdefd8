/**
 * One claimed item's lease as its worker sees it. A claim ends with one fenced write (record the
 * poll, finish the job, record the attempt); settle() runs that write and turns a fenced miss into
 * a reported loss. A loss is reported once however it is found (renewal or the final write), so the
 * lost-lease count is a count of items, not of symptoms.
 */
export class Lease {
  /** Made on first use: most leases end without anyone asking for their signal. */
  private controller: AbortController | null = null;
  private settlingNow = false;
  private lostReason: string | null = null;

  constructor(private readonly report: (reason: string) => void) {}

  /** Aborts when the lease is known to be lost: work may stop early, nothing it writes would count. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.lostReason !== null) this.controller.abort();
    return this.controller.signal;
  }

  get lost(): boolean {
    return this.lostReason !== null;
  }

  /**
   * True once the final write was issued. From then on a renewal that no longer finds the lease
   * proves nothing: the write itself may have released it.
   */
  get settling(): boolean {
    return this.settlingNow;
  }

  /**
   * Runs the write that ends this claim. `held(result)` says whether the write still found the item
   * ours (default: a truthy result, as `finish` returns the job and fenced updates return true).
   */
  async settle<R>(what: string, write: () => Promise<R>, held: (result: R) => boolean = Boolean): Promise<R> {
    this.settlingNow = true;
    const result = await write();
    if (!held(result)) this.lose(what);
    return result;
  }

  /** The item is no longer ours; reported the first time only. */
  lose(reason: string): void {
    if (this.lostReason !== null) return;
    this.lostReason = reason;
    this.controller?.abort();
    this.report(reason);
  }
}
