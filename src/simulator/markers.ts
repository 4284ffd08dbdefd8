/**
 * Prompt markers: `#sim:<name>[=<value>]` tokens that force an outcome deterministically, so tests
 * can drive every path without relying on rates. Markers override `failRate`/`moderateRate`.
 *
 *   #sim:fail               job ends in status 8
 *   #sim:moderate           job ends in status 7 (alias #sim:moderation, the reference's spelling)
 *   #sim:stuck              stays in status 5 until `stuckReleaseMs`, then 8 (slot held meanwhile)
 *   #sim:duration=<d>       exact job duration; "1500" (ms) or "250ms", "2s" …
 *   #sim:reject-moderation  the create is refused with 500063
 *   #sim:overload           the create is refused with 500069
 *   #sim:http500            the create gets HTTP 500 with a lowercase envelope (500100)
 */
import { parseDuration } from '../domain/time.ts';

export type ForcedOutcome = 'fail' | 'moderate' | 'stuck';
export type ForcedRejection = 'moderation' | 'overload' | 'http500';

export interface Markers {
  outcome: ForcedOutcome | null;
  durationMs: number | null;
  reject: ForcedRejection | null;
}

const NONE: Markers = Object.freeze({ outcome: null, durationMs: null, reject: null }) as Markers;
const TOKEN = /#sim:([a-z0-9-]+)(?:=([^\s#]+))?/gi;

export function parseMarkers(prompt: string | undefined): Markers {
  // Fast path: almost every prompt in a bench has no marker at all.
  if (!prompt || !prompt.includes('#sim:')) return NONE;
  const found: Markers = { outcome: null, durationMs: null, reject: null };
  for (const match of prompt.matchAll(TOKEN)) {
    const name = match[1]!.toLowerCase();
    switch (name) {
      case 'fail':
        found.outcome = 'fail';
        break;
      case 'moderate':
      case 'moderation':
        found.outcome = 'moderate';
        break;
      case 'stuck':
        found.outcome = 'stuck';
        break;
      case 'duration':
        found.durationMs = durationOrNull(match[2]);
        break;
      case 'reject-moderation':
        found.reject = 'moderation';
        break;
      case 'overload':
        found.reject = 'overload';
        break;
      case 'http500':
        found.reject = 'http500';
        break;
      default:
        // Unknown markers are plain prompt text: a typo should not break a run.
        break;
    }
  }
  return found;
}

function durationOrNull(text: string | undefined): number | null {
  if (!text) return null;
  try {
    return parseDuration(text);
  } catch {
    return null;
  }
}
