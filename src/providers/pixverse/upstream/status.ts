/**
 * PixVerse result status → UpstreamState.
 * 1 success (only with a url), 5 in progress, 6 deleted, 7 moderation failure, 8 failed;
 * anything else (unknown or missing) is treated as still pending.
 */
import type { StatusResult, UpstreamState } from '../../../scheduler/provider.ts';
import type { JsonObject } from './json.ts';

export const PIXVERSE_STATUS = {
  completed: 1,
  pending: 5,
  deleted: 6,
  moderated: 7,
  failed: 8,
} as const;

export function mapPixverseStatus(code: number, url: string | null): UpstreamState {
  switch (code) {
    case 1:
      // "Success" without a media url cannot be delivered: report it as a failure.
      return url ? 'completed' : 'failed';
    case 6:
      return 'deleted';
    case 7:
      return 'moderated';
    case 8:
      return 'failed';
    default:
      return 'pending';
  }
}

const URL_FIELDS = ['url', 'video_url', 'image_url', 'audio_url'] as const;

function resultUrl(resp: JsonObject): string | null {
  for (const field of URL_FIELDS) {
    const v = resp[field];
    if (typeof v === 'string' && v.trim() !== '') return v;
  }
  return null;
}

/** Builds a StatusResult from a parsed `Resp` (ids already strings, `status` already a number). */
export function toStatusResult(resp: JsonObject): StatusResult {
  const s = resp.status;
  const code =
    typeof s === 'number' && Number.isFinite(s)
      ? s
      : typeof s === 'string' && s.trim() !== '' && Number.isFinite(Number(s))
        ? Number(s)
        : -1;
  const url = resultUrl(resp);
  return { state: mapPixverseStatus(code, url), code, url, raw: resp };
}
