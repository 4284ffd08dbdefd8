/**
 * PixVerse int64 ids. Real ids are ~15 digits (3.0e14–3.9e14), which still fit a JS number; the
 * `bigIds` mode emits 18-digit ids (> 2^53) so clients that parse JSON with plain `JSON.parse`
 * visibly corrupt them. Ids are decimal strings everywhere inside the simulator.
 */
import { uniformInt, type Rng } from './random.ts';

export class IdGenerator {
  private next: bigint;

  constructor(
    private readonly rng: Rng,
    bigIds: boolean,
  ) {
    // Start somewhere random in the realistic range, then walk upwards: ids are unique by
    // construction (no set of used ids to keep) and increase like real ones.
    const start = bigIds ? 300_000_000_000_000_000n : 300_000_000_000_000n;
    const spread = bigIds ? 90_000_000_000_000_000 : 90_000_000_000_000;
    this.next = start + BigInt(Math.floor(rng() * spread));
  }

  take(): string {
    // Irregular gaps: other tenants' jobs on the real service consume ids in between.
    this.next += BigInt(uniformInt(this.rng, 1, 97));
    return this.next.toString();
  }
}

/** Stable numeric account id for an API key (FNV-1a), so /account/balance repeats across calls. */
export function accountIdFor(apiKey: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < apiKey.length; i++) {
    hash ^= apiKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return 100_000_000 + (hash % 900_000_000);
}

/** True for a decimal id as the wire carries it (path segments, parsed bodies). */
export function isIdText(text: string): boolean {
  return /^\d{1,20}$/.test(text);
}
