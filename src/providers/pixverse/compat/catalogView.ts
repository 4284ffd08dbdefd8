/**
 * Catalogue items as useapi clients read them. PixVerse's field names are kept (nothing is
 * dropped); useapi's names are added where PixVerse spells them differently, so a client written
 * against useapi finds `template_id`, `display_name`, `effect_type`, `qualities` … where it looks.
 */
import type { Json } from '../../../domain/job.ts';

type Item = { [key: string]: Json };

/** The first present value among `names`. */
function pick(item: Item, names: readonly string[]): Json | undefined {
  for (const name of names) if (item[name] !== undefined && item[name] !== null) return item[name];
  return undefined;
}

function withAliases(item: Item, aliases: Record<string, readonly string[]>): Item {
  const out: Item = { ...item };
  for (const [useapiName, platformNames] of Object.entries(aliases)) {
    if (out[useapiName] !== undefined) continue;
    const value = pick(item, platformNames);
    if (value !== undefined) out[useapiName] = value;
  }
  return out;
}

const EFFECT_ALIASES: Record<string, readonly string[]> = {
  template_id: ['id', 'effect_id'],
  display_name: ['template_name', 'name', 'title', 'effect_name'],
  display_prompt: ['prompt', 'template_prompt'],
  effect_type: ['img_count', 'image_count', 'input_count'],
  template_type: ['type', 'output_type'],
  qualities: ['quality_list', 'support_qualities', 'supported_qualities'],
  thumbnail_url: ['thumbnail', 'cover_url', 'preview_url', 'example_url'],
  template_model: ['model'],
};

/** useapi's `effect_type` is a string ("1"…"5": how many images the effect takes). */
export function effectView(item: Item): Item {
  const out = withAliases(item, EFFECT_ALIASES);
  if (typeof out['effect_type'] === 'number') out['effect_type'] = String(out['effect_type']);
  if (typeof out['qualities'] === 'string')
    out['qualities'] = out['qualities']
      .split(',')
      .map((q) => q.trim())
      .filter(Boolean);
  return out;
}

export function voiceView(item: Item): Item {
  return withAliases(item, { speaker_id: ['id', 'voice_id'], name: ['speaker_name', 'display_name'] });
}

export function restyleView(item: Item): Item {
  return withAliases(item, {
    restyle_id: ['id'],
    display_name: ['name', 'restyle_name', 'title'],
    display_prompt: ['prompt', 'restyle_prompt'],
  });
}

/**
 * Pages to read to serve `limit` items from `offset` with a fixed provider page size:
 * 1-based page numbers and where the wanted slice starts in their concatenation.
 */
export function pagesFor(offset: number, limit: number, pageSize: number): { pages: number[]; skip: number } {
  const first = Math.floor(offset / pageSize);
  const last = Math.floor((offset + limit - 1) / pageSize);
  const pages: number[] = [];
  for (let p = first; p <= last; p++) pages.push(p + 1);
  return { pages, skip: offset - first * pageSize };
}
