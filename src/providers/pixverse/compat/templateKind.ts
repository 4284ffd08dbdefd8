/**
 * Image-output effect templates on POST /videos/create. PixVerse runs them through its image
 * template operation (/image/template/generate → image_id), not through image-to-video, which
 * refuses them. Which kind a template_id is only the account's effect catalogue says
 * (`template_type` 1 video, 2 image), so the catalogue is read once and kept for a while.
 */
import type { Json } from '../../../domain/job.ts';
import type { Services } from '../../../app/index.ts';
import type { Mapped } from './videoCreate.ts';

/** Catalogues change when an operator activates effects; a few minutes of staleness is harmless. */
const CATALOG_TTL_MS = 5 * 60_000;
const PAGE_SIZE = 100;
const MAX_PAGES = 20;

interface Entry {
  readAt: number;
  types: Map<string, number>;
}

const catalogs = new Map<string, Entry>();

function templateType(item: { [key: string]: Json }): number | null {
  const value = item['template_type'] ?? item['type'];
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}

async function templateTypes(
  services: Services,
  userId: number,
  email: string,
): Promise<Map<string, number> | null> {
  const key = `${userId}:${email}`;
  const now = services.now();
  const hit = catalogs.get(key);
  if (hit && now - hit.readAt < CATALOG_TTL_MS) return hit.types;
  const account = await services.accounts.find(userId, email);
  if (!account) return null;
  const types = new Map<string, number>();
  for (let num = 1; num <= MAX_PAGES; num++) {
    const page = await services.provider.catalogPage(account, 'effects', { num, size: PAGE_SIZE });
    for (const item of page.items) {
      const id = item['template_id'] ?? item['id'];
      const type = templateType(item);
      if ((typeof id === 'string' || typeof id === 'number') && type !== null) types.set(String(id), type);
    }
    if (page.items.length < PAGE_SIZE || (page.total !== null && num * PAGE_SIZE >= page.total)) break;
  }
  if (catalogs.size > 10_000) catalogs.clear();
  catalogs.set(key, { readAt: now, types });
  return types;
}

/**
 * Turns an image-to-video template request into an image template job when the template makes
 * images. A catalogue that cannot be read leaves the request as it is: PixVerse then judges it.
 */
export async function resolveTemplateOutput(
  services: Services,
  userId: number,
  mapped: Mapped,
): Promise<Mapped> {
  const params = mapped.upstream.params;
  const templateId = params['template_id'];
  if (mapped.upstream.op !== 'video.img' || typeof templateId !== 'string' || mapped.email === null)
    return mapped;
  let types: Map<string, number> | null;
  try {
    types = await templateTypes(services, userId, mapped.email);
  } catch {
    return mapped;
  }
  if (types?.get(templateId) !== 2) return mapped;
  const imgIds = params['img_ids'] ?? (params['img_id'] === undefined ? [] : [params['img_id']]);
  return {
    ...mapped,
    upstream: { op: 'image.template', params: { img_ids: imgIds, template_id: templateId } },
  };
}
