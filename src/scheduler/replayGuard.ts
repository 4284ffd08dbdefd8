/**
 * Remembers provider webhook deliveries already acted on, for as long as their timestamp could
 * still pass the replay window. Before it, one captured delivery replayed 400 times inside the
 * 300 s window cost 400 upstream status reads on the tenant's key in 6 s.
 *
 * This is the per-process layer (no store read for a repeat); the store's webhook receipts are the
 * layer shared by instances and kept across restarts (see webhookIntake.ts).
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(
    /** How long an entry matters: twice the timestamp tolerance (either side of our clock). */
    private readonly windowMs: number,
    private readonly capacity = 100_000,
  ) {}

  has(key: string, now: number): boolean {
    const until = this.seen.get(key);
    return until !== undefined && until > now;
  }

  remember(key: string, now: number): void {
    if (this.seen.size >= this.capacity) this.evict(now);
    this.seen.set(key, now + this.windowMs);
  }

  get size(): number {
    return this.seen.size;
  }

  private evict(now: number): void {
    for (const [key, until] of this.seen) if (until <= now) this.seen.delete(key);
    // Still full of live entries: drop the oldest (Map keeps insertion order). A dropped entry's
    // replay costs one status read, never a wrong outcome.
    for (const key of this.seen.keys()) {
      if (this.seen.size < this.capacity) break;
      this.seen.delete(key);
    }
  }
}
