/**
 * Image and music creates: /image/generate (a gateway extension shaped like the other creates),
 * /image/template/generate (reference §3.15) and /music/generate (gateway extension).
 */
import { DEFAULT_MUSIC_MODEL, IMAGE_MAX_COUNT, IMAGE_MODELS, IMAGE_QUALITIES, MUSIC_MODELS, WIDE_ASPECTS } from '../catalog.ts';
import { ERR, fieldError } from '../envelope.ts';
import { Fields, type Body } from '../fields.ts';
import { imageCost, musicCost } from '../pricing.ts';
import { MODERN_PROMPT_MAX, checkImage, checkPromptLength, readSeed } from './common.ts';
import type { ImageSpec, Lookup, MusicSpec } from './specs.ts';
import { checkTemplate } from './templates.ts';

export function validateImage(body: Body, lookup: Lookup): ImageSpec {
  const f = new Fields(body);
  const prompt = f.string('prompt', true);
  const model = f.oneOf('model', IMAGE_MODELS, true);
  const quality = f.oneOf('quality', IMAGE_QUALITIES, true);
  const aspectRatio = f.oneOf('aspect_ratio', WIDE_ASPECTS, true);
  checkPromptLength('prompt', prompt, MODERN_PROMPT_MAX, ERR.promptTooLong);
  const seed = readSeed(f);
  for (const id of f.ids('img_ids') ?? []) checkImage(lookup, 'img_ids', id);
  const count = f.int('create_count') ?? 1;
  if (count < 1 || count > IMAGE_MAX_COUNT) {
    throw fieldError(ERR.invalidParam, 'create_count', `must be 1–${IMAGE_MAX_COUNT}`);
  }
  return {
    kind: 'image', mode: 'generate', prompt, model, quality, aspectRatio, seed, count, templateId: null,
    cost: imageCost(count), creditField: 'credits',
  };
}

/** {img_ids, template_id}: an activated image template (template_type 2) with its number of images. */
export function validateImageTemplate(body: Body, lookup: Lookup): ImageSpec {
  const f = new Fields(body);
  const imgIds = f.ids('img_ids');
  if (imgIds === undefined || imgIds.length === 0) throw fieldError(ERR.emptyParam, 'img_ids');
  const templateId = f.id('template_id', true);
  for (const id of imgIds) checkImage(lookup, 'img_ids', id);
  const template = checkTemplate(templateId, { type: 2, images: imgIds.length });
  return {
    kind: 'image', mode: 'template', prompt: template.display_prompt, model: 'template', quality: '1080p',
    aspectRatio: '3:4', seed: null, count: 1, templateId, cost: template.credits, creditField: 'credit',
  };
}

export function validateMusic(body: Body): MusicSpec {
  const f = new Fields(body);
  const prompt = f.string('prompt', true);
  checkPromptLength('prompt', prompt, 2000, ERR.promptTooLong);
  const model = f.oneOf('model', MUSIC_MODELS) ?? DEFAULT_MUSIC_MODEL;
  const instrumental = f.bool('instrumental') ?? false;
  const lyrics = f.string('lyrics') ?? '';
  if (instrumental && lyrics.trim() !== '') {
    throw fieldError(ERR.invalidParam, 'lyrics', 'cannot be combined with instrumental');
  }
  checkPromptLength('lyrics', lyrics, 3500, ERR.invalidParam);
  return { kind: 'music', prompt, model, instrumental, lyrics, cost: musicCost(), creditField: 'credits' };
}
