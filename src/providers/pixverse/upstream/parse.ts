/**
 * Pure readers of successful PixVerse answers (`Resp` already parsed losslessly: ids are decimal
 * strings, `status` a number). Kept apart from the transport so they can be tested on the
 * reference's documented shapes.
 */
import type { JobType, Json } from '../../../domain/job.ts';
import {
  UpstreamError,
  type Balance,
  type CatalogPage,
  type SubmitResult,
  type UploadResult,
} from '../../../scheduler/provider.ts';
import { isJsonObject, type JsonObject } from './json.ts';

/** Decimal id of a response field (ids are strings after lossless parsing; tolerate numbers). */
export function idOf(value: Json | undefined): string | null {
  if (typeof value === 'string' && /^\d+$/.test(value.trim())) return value.trim();
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  return null;
}

export function numberOf(value: Json | undefined): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  return null;
}

/** The id field each create answers with (reference §3); `audio_id` is kept for reading older records only. */
const CREATE_ID_FIELD: Record<JobType, string> = { video: 'video_id', image: 'image_id', music: 'audio_id' };

/**
 * A create's answer: `video_id` / `image_id` / `audio_id` (the one of `type` first) and the cost in
 * `credits` or `credit` (mimic and image templates say `credit`). A success without an id may still
 * have started a billed job, so it is reported as maybeSubmitted.
 */
export function parseSubmit(resp: JsonObject, type: JobType, path: string): SubmitResult {
  const own = CREATE_ID_FIELD[type];
  const upstreamId =
    idOf(resp[own]) ?? idOf(resp.video_id) ?? idOf(resp.image_id) ?? idOf(resp.audio_id) ?? idOf(resp.id);
  if (upstreamId === null) {
    throw new UpstreamError('transient', `PixVerse ${path} succeeded without an id`, 0, null, true);
  }
  return { upstreamId, credits: numberOf(resp.credits) ?? numberOf(resp.credit) };
}

export function parseImageUpload(resp: JsonObject): UploadResult {
  const id = idOf(resp.img_id);
  const url = resp.img_url;
  if (id === null || typeof url !== 'string') {
    throw new UpstreamError('transient', 'PixVerse /image/upload answered without img_id/img_url');
  }
  return { id, url, mediaType: 'image' };
}

export function parseMediaUpload(resp: JsonObject, fallback: 'video' | 'audio'): UploadResult {
  const id = idOf(resp.media_id);
  const url = resp.url;
  if (id === null || typeof url !== 'string') {
    throw new UpstreamError('transient', 'PixVerse /media/upload answered without media_id/url');
  }
  const mt = resp.media_type;
  return { id, url, mediaType: mt === 'video' || mt === 'audio' ? mt : fallback };
}

export function parseBalance(resp: JsonObject): Balance {
  return {
    accountId: idOf(resp.account_id) ?? '',
    creditMonthly: numberOf(resp.credit_monthly) ?? 0,
    creditPackage: numberOf(resp.credit_package) ?? 0,
  };
}

/** List fields seen on catalogue answers: `data` (tts_list, restyle/list), `effect_items` (templates), and generic names. */
const LIST_FIELDS = ['data', 'effect_items', 'items', 'list', 'records'] as const;

/**
 * A catalogue page: the first array of objects under a known list field (non-object entries are
 * dropped) and `total` when it is a number. An answer with no list at all is malformed.
 */
export function parseCatalog(resp: JsonObject, path: string): CatalogPage {
  for (const field of LIST_FIELDS) {
    const list = resp[field];
    if (Array.isArray(list)) {
      return { items: list.filter(isJsonObject), total: numberOf(resp.total) };
    }
  }
  throw new UpstreamError('transient', `PixVerse ${path} answered without a list`);
}
