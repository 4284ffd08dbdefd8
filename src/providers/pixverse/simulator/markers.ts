/**
 * Markers: `#sim:<name>[=<value>]` tokens anywhere in a create's JSON body (prompt, restyle_prompt,
 * sound_effect_content, multi_transition[].prompt, or any extra string field for endpoints without
 * a prompt) that force an outcome deterministically, so tests can drive every path without relying
 * on rates. Markers override the rate options.
 *
 * Outcome of the job (the create succeeds):
 *   #sim:fail               job ends in status 8
 *   #sim:moderate           job ends in status 7 (alias #sim:moderation, the reference's spelling)
 *   #sim:stuck              stays in status 5 until `stuckReleaseMs`, then 8 (slot held meanwhile)
 *   #sim:duration=<d>       exact job duration; "1500" (ms) or "250ms", "2s" …
 *   #sim:timeout            the job IS created, but the create is never answered (the connection
 *                           stays open until the client gives up); replaying the same Ai-trace-id
 *                           then returns the job — the "maybe submitted" path
 *   #sim:reset              the job IS created, then the connection is reset before any answer
 *                           (a network drop after PixVerse acted); a trace-id replay returns it
 *   #sim:malformed          the job IS created, but the 200 answer's JSON is cut in half (a proxy
 *                           truncated it); a trace-id replay returns the whole answer
 * Refusals before validation (front door):
 *   #sim:rate-limit         HTTP 429 "Too Many Requests", no envelope, Retry-After: 1
 *   #sim:http502            HTTP 502 with an HTML body (a proxy failure); nothing is created
 *   #sim:auth               ErrCode 400012 (invalid account) for this one request
 * Refusals after validation (nothing is created or charged):
 *   #sim:reject-moderation  500063
 *   #sim:overload           500069
 *   #sim:out-of-credits     500090
 *   #sim:http500            HTTP 500 with a lowercase envelope (500100)
 *   #sim:busy               ErrCode 500044 (concurrency limit) although the key has room, once per
 *                           Ai-trace-id: PixVerse counts a job that ended as still running for a moment
 *   #sim:no-subject         701002 on /video/mimic (the photo has no clear subject)
 *   #sim:no-person          701003 on /video/mimic (the video has no person in focus)
 * Webhooks (only for a create carrying a registered webhook_id, see webhooks.ts):
 *   #sim:webhook-drop       the job's webhook is never sent (a gateway's poll backstop must notice
 *                           the end on its own)
 *   #sim:webhook-late=<d>   the first attempt goes out <d> after the job ends ("800" ms, "2s" …),
 *                           not scaled by timeScale; retries follow their usual schedule
 */
import { parseDuration } from '../../../domain/time.ts';

export type ForcedOutcome = 'fail' | 'moderate' | 'stuck';
export type FrontRejection = 'rate-limit' | 'http502' | 'auth';
export type ForcedRejection =
  | 'moderation'
  | 'overload'
  | 'http500'
  | 'out-of-credits'
  | 'no-subject'
  | 'no-person';

export interface Markers {
  outcome: ForcedOutcome | null;
  durationMs: number | null;
  front: FrontRejection | null;
  reject: ForcedRejection | null;
  timeout: boolean;
  /**
   * Webhook markers are optional keys, present only when the marker is: most bodies carry none and
   * share NO_MARKERS' shape.
   */
  webhookDrop?: true;
  webhookLateMs?: number;
  /** How the answer to a create that did create its job is lost (see the header). */
  cut?: 'reset' | 'malformed';
  busy?: true;
}

export const NO_MARKERS: Markers = Object.freeze({
  outcome: null,
  durationMs: null,
  front: null,
  reject: null,
  timeout: false,
});
/** A value stops at whitespace, another marker, or JSON punctuation (markers are read from raw JSON). */
const TOKEN = /#sim:([a-z0-9-]+)(?:=([^\s#"\\,}\]]+))?/gi;

const OUTCOMES: Record<string, ForcedOutcome> = {
  fail: 'fail',
  moderate: 'moderate',
  moderation: 'moderate',
  stuck: 'stuck',
};
const FRONT: Record<string, FrontRejection> = {
  'rate-limit': 'rate-limit',
  http502: 'http502',
  auth: 'auth',
};
const REJECT: Record<string, ForcedRejection> = {
  'reject-moderation': 'moderation',
  overload: 'overload',
  http500: 'http500',
  'out-of-credits': 'out-of-credits',
  'no-subject': 'no-subject',
  'no-person': 'no-person',
};

export function parseMarkers(text: string | undefined): Markers {
  // Fast path: almost every request in a bench has no marker at all.
  if (!text?.includes('#sim:')) return NO_MARKERS;
  const found: Markers = { outcome: null, durationMs: null, front: null, reject: null, timeout: false };
  for (const match of text.matchAll(TOKEN)) {
    const name = match[1]!.toLowerCase();
    // Own-property lookups only: a marker named "constructor" is plain text.
    if (Object.hasOwn(OUTCOMES, name)) found.outcome = OUTCOMES[name]!;
    else if (Object.hasOwn(FRONT, name)) found.front = FRONT[name]!;
    else if (Object.hasOwn(REJECT, name)) found.reject = REJECT[name]!;
    else if (name === 'duration') found.durationMs = durationOrNull(match[2]);
    else if (name === 'timeout') found.timeout = true;
    else if (name === 'webhook-drop') found.webhookDrop = true;
    else if (name === 'reset' || name === 'malformed') found.cut = name;
    else if (name === 'busy') found.busy = true;
    else if (name === 'webhook-late') {
      const late = durationOrNull(match[2]);
      if (late !== null) found.webhookLateMs = late;
    }
    // Unknown markers are plain prompt text: a typo should not break a run.
  }
  return found;
}

/** Markers of a raw request body, without decoding it when it holds none. */
export function bodyMarkers(body: Buffer): Markers {
  return body.includes('#sim:') ? parseMarkers(body.toString('utf8')) : NO_MARKERS;
}

function durationOrNull(text: string | undefined): number | null {
  if (!text) return null;
  try {
    return parseDuration(text);
  } catch {
    return null;
  }
}
