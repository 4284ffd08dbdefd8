/**
 * Per-tenant cache of rendered /scheduler/available bodies. `elapsed` has one-second
 * resolution, so a body stays valid for the rest of its second as long as nothing changed;
 * polling clients then cost one map lookup instead of reading every running job.
 */
import type { ChangeFeed } from './changeFeed.ts';

interface Entry {
  version: number;
  second: number;
  builtAt: number;
  body: string;
}

export class ViewCache {
  private readonly entries = new Map<string, Entry>();

  /** `maxAgeMs` bounds staleness when changes can happen elsewhere (other instances). */
  constructor(
    private readonly feed: ChangeFeed,
    private readonly maxAgeMs: number,
  ) {}

  async get(key: string, now: number, build: () => Promise<string>): Promise<string> {
    const second = Math.floor(now / 1000);
    const hit = this.entries.get(key);
    if (
      hit &&
      hit.version === this.feed.version &&
      hit.second === second &&
      now - hit.builtAt <= this.maxAgeMs
    )
      return hit.body;
    const version = this.feed.version;
    const body = await build();
    if (this.entries.size > 10_000) this.entries.clear();
    // Stored under the version read before building: a change during the build makes it stale.
    this.entries.set(key, { version, second, builtAt: now, body });
    return body;
  }
}
