/**
 * Catalogue endpoints (static fixtures from presets.ts), paginated from the query string:
 *   GET /video/lip_sync/tts_list?page_num&page_size      → {total, data: [{speaker_id, name}]}
 *   GET /video/restyle/list?page_num&page_size           → {total, data: [{restyle_id, restyle_name, thumbnail_url}]}
 *   GET /video/effects/templates/list?page&pageSize&type → {total, effect_items: [template …]}
 * (the templates list also accepts page_num/page_size; `type` 1 = video, 2 = image templates).
 * page defaults to 1 and page size to 20 (1–100); a non-integer is 400013, out of range 400017.
 */
import { ERR, RawInt, fieldError, successText, type WireValue } from './envelope.ts';
import { RESTYLES, SPEAKERS, TEMPLATES } from './presets.ts';

const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;

function queryInt(
  query: URLSearchParams,
  names: string[],
  fallback: number,
  min: number,
  max: number,
): number {
  for (const name of names) {
    const raw = query.get(name);
    if (raw === null || raw === '') continue;
    if (!/^\d+$/.test(raw)) throw fieldError(ERR.badBinding, name, 'must be an integer');
    const n = Number(raw);
    if (n < min || n > max) throw fieldError(ERR.invalidParam, name, `must be ${min}–${max}`);
    return n;
  }
  return fallback;
}

function page<T>(
  items: readonly T[],
  query: URLSearchParams,
  numNames: string[],
  sizeNames: string[],
): { total: number; slice: T[] } {
  const num = queryInt(query, numNames, 1, 1, 1_000_000);
  const size = queryInt(query, sizeNames, DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE);
  return { total: items.length, slice: items.slice((num - 1) * size, num * size) };
}

export function ttsList(query: URLSearchParams): string {
  const { total, slice } = page(SPEAKERS, query, ['page_num'], ['page_size']);
  return successText({ total, data: slice.map((s) => ({ speaker_id: s.speaker_id, name: s.name })) });
}

export function restyleList(query: URLSearchParams): string {
  const { total, slice } = page(RESTYLES, query, ['page_num'], ['page_size']);
  return successText({
    total,
    data: slice.map((r) => ({
      restyle_id: new RawInt(r.restyle_id),
      restyle_name: r.restyle_name,
      thumbnail_url: r.thumbnail_url,
    })),
  });
}

export function templateList(query: URLSearchParams): string {
  const type = queryInt(query, ['type'], 0, 1, 2);
  const all = type === 0 ? TEMPLATES : TEMPLATES.filter((t) => t.template_type === type);
  const { total, slice } = page(all, query, ['page', 'page_num'], ['pageSize', 'page_size']);
  const items: WireValue[] = slice.map((t) => ({
    template_id: new RawInt(t.template_id),
    display_name: t.display_name,
    display_prompt: t.display_prompt,
    effect_type: t.effect_type,
    template_type: t.template_type,
    qualities: t.qualities,
    duration: t.duration,
    activated: t.activated,
    credits: t.credits,
    thumbnail_url: t.thumbnail_url,
  }));
  return successText({ total, effect_items: items });
}
