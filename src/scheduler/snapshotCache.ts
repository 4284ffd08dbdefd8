/**
 * A very short per-tenant cache of a computed value (the queue snapshot behind a queued job's
 * position and ETA). Computing the snapshot took ~20 ms on a long queue, and every GET of a queued
 * job ran one; polling clients made that the dominant cost. Concurrent readers share one
 * computation, and a failed one is not kept.
 */
export class ShortCache<T> {
  private readonly entries = new Map<number, { until: number; value: Promise<T> }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  get(key: number, compute: () => Promise<T>): Promise<T> {
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return hit.value;
    const value = compute();
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(key, { until: now + this.ttlMs, value });
    value.catch(() => this.entries.delete(key));
    return value;
  }
}
