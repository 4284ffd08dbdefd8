/**
 * Effect templates on a create (reference §3, `template_id`): the template must exist, be of the
 * right output kind, be activated (500070), support the quality (500071 for 720p/1080p) and get
 * as many images as its effect_type says.
 */
import { ERR, SimError, fieldError } from '../envelope.ts';
import { templateById, type Template } from '../presets.ts';

export interface TemplateUse {
  /** 1 = video effect (/video/*), 2 = image effect (/image/template/generate). */
  type: 1 | 2;
  /** Requested quality, when the endpoint takes one. */
  quality?: string;
  /** Number of input images, when the endpoint takes images. */
  images?: number;
}

export function checkTemplate(id: string, use: TemplateUse): Template {
  const template = templateById(id);
  if (!template) throw fieldError(ERR.invalidParam, 'template_id', `${id} does not exist`);
  if (template.template_type !== use.type) {
    const what = template.template_type === 2 ? 'an image template' : 'a video template';
    throw fieldError(ERR.invalidParam, 'template_id', `${id} is ${what}`);
  }
  if (!template.activated) throw new SimError(ERR.templateNotActivated, `template not activated: ${id}`);
  if (use.quality !== undefined && !template.qualities.includes(use.quality)) {
    if (use.quality === '720p' || use.quality === '1080p') {
      throw new SimError(ERR.templateQuality, `this effect does not support 720p/1080p (template ${id})`);
    }
    throw fieldError(
      ERR.invalidParam,
      'quality',
      `must be one of ${template.qualities.join(', ')} for template ${id}`,
    );
  }
  const wanted = Number(template.effect_type);
  if (use.images !== undefined && use.images !== wanted) {
    throw fieldError(
      ERR.invalidParam,
      'img_ids',
      `template ${id} takes ${wanted} image(s), got ${use.images}`,
    );
  }
  return template;
}
