/**
 * The image create the Platform API documents: /image/template/generate (reference §3.15). It has
 * no text-to-image and no music operation, so the simulator has none either.
 */
import { ERR, fieldError } from '../envelope.ts';
import { Fields, type Body } from '../fields.ts';
import { checkImage } from './common.ts';
import type { ImageSpec, Lookup } from './specs.ts';
import { checkTemplate } from './templates.ts';

/** {img_ids, template_id}: an activated image template (template_type 2) with its number of images. */
export function validateImageTemplate(body: Body, lookup: Lookup): ImageSpec {
  const f = new Fields(body);
  const imgIds = f.ids('img_ids');
  if (imgIds === undefined || imgIds.length === 0) throw fieldError(ERR.emptyParam, 'img_ids');
  const templateId = f.id('template_id', true);
  for (const id of imgIds) checkImage(lookup, 'img_ids', id);
  const template = checkTemplate(templateId, { type: 2, images: imgIds.length });
  return {
    kind: 'image',
    prompt: template.display_prompt,
    quality: '1080p',
    aspectRatio: '3:4',
    templateId,
    cost: template.credits,
    creditField: 'credit',
  };
}
