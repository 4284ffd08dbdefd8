/**
 * The Platform API route table (reference §2): creates, results, catalogues, balance and uploads.
 * Request bodies accepted by each create are documented in src/providers/pixverse/upstream/operations.ts.
 */
import { create, json, parseJsonBody, result, type ApiRoute } from './api.ts';
import { ERR, RawInt, SimError, successText } from './envelope.ts';
import { frontRefusal } from './faults.ts';
import { restyleList, templateList, ttsList } from './lists.ts';
import { bodyMarkers } from './markers.ts';
import { maskSelectionCost } from './pricing.ts';
import { IMAGE_MAX_BYTES, MEDIA_MAX_BYTES, parseImageUpload, parseMediaUpload } from './uploads.ts';
import {
  validateExtend,
  validateFusion,
  validateImageTemplate,
  validateLipSync,
  validateMaskSelection,
  validateMimic,
  validateModify,
  validateMultiTransition,
  validateRestyle,
  validateSoundEffect,
  validateSwap,
  validateTransition,
  validateUpscale,
  validateVideo,
} from './validate/index.ts';

/**
 * Bodies kept for uploads: the file limit plus room for multipart framing. A bigger body cannot hold
 * an acceptable file, so it is refused without parsing; exact limits are checked per field.
 */
const FRAMING = 64 * 1024;

const maskSelection: ApiRoute['handle'] = (engine, req) => {
  const replayed = engine.replay(req.account, req.traceId);
  if (replayed !== undefined) return replayed;
  const markers = bodyMarkers(req.body);
  if (markers.front) throw frontRefusal(markers.front);
  const sel = validateMaskSelection(parseJsonBody(req.body), engine.lookup(req.account, Date.now()));
  const cost = maskSelectionCost();
  const body = successText({
    keyframe_id: sel.keyframeId,
    keyframe_url: sel.keyframeUrl,
    credits: cost,
    mask_info: sel.masks,
  });
  return engine.chargeCall(req.account, req.traceId, cost, body);
};

export const ROUTES: ApiRoute[] = [
  // Status polls are the most frequent requests: matched first.
  json('GET', /^\/video\/result\/([^/]+)$/, result('video')),
  json('GET', /^\/image\/result\/([^/]+)$/, result('image')),
  json(
    'POST',
    /^\/video\/text\/generate$/,
    create((b, l) => validateVideo(b, 'text', l)),
  ),
  json(
    'POST',
    /^\/video\/img\/generate$/,
    create((b, l) => validateVideo(b, 'img', l)),
  ),
  json('POST', /^\/video\/transition\/generate$/, create(validateTransition)),
  json('POST', /^\/video\/multi_transition\/generate$/, create(validateMultiTransition)),
  json('POST', /^\/video\/fusion\/generate$/, create(validateFusion)),
  json('POST', /^\/video\/extend\/generate$/, create(validateExtend)),
  json('POST', /^\/video\/lip_sync\/generate$/, create(validateLipSync)),
  json('POST', /^\/video\/sound_effect\/generate$/, create(validateSoundEffect)),
  json('POST', /^\/video\/restyle\/generate$/, create(validateRestyle)),
  json('POST', /^\/video\/swap\/generate$/, create(validateSwap)),
  json('POST', /^\/video\/mimic\/generate$/, create(validateMimic)),
  json('POST', /^\/video\/modify\/generate$/, create(validateModify)),
  json('POST', /^\/video\/upscale\/generate$/, create(validateUpscale)),
  json('POST', /^\/video\/mask\/selection$/, maskSelection),
  json('POST', /^\/image\/template\/generate$/, create(validateImageTemplate)),
  json('GET', /^\/video\/lip_sync\/tts_list$/, (_e, req) => ttsList(req.query)),
  json('GET', /^\/video\/restyle\/list$/, (_e, req) => restyleList(req.query)),
  json('GET', /^\/video\/effects\/templates\/list$/, (_e, req) => templateList(req.query)),
  json('GET', /^\/account\/balance$/, (engine, req) => {
    const b = engine.balance(req.account, Date.now());
    return successText({
      account_id: b.accountId,
      credit_monthly: b.creditMonthly,
      credit_package: b.creditPackage,
    });
  }),
  {
    method: 'POST',
    pattern: /^\/image\/upload$/,
    bodyLimit: IMAGE_MAX_BYTES + FRAMING,
    tooLarge: new SimError(ERR.imageTooLarge, 'image too large (max 20MB)'),
    async handle(engine, req) {
      const upload = await parseImageUpload(req.body, req.contentType);
      const id = engine.recordUpload(req.account, 'image');
      return successText({ img_id: new RawInt(id), img_url: upload.imgUrl });
    },
  },
  {
    method: 'POST',
    pattern: /^\/media\/upload$/,
    bodyLimit: MEDIA_MAX_BYTES + FRAMING,
    tooLarge: new SimError(ERR.invalidParam, 'invalid parameter: file is larger than 50MB'),
    async handle(engine, req) {
      const upload = await parseMediaUpload(req.body, req.contentType);
      const id = engine.recordUpload(req.account, upload.mediaType);
      return successText({ media_id: new RawInt(id), media_type: upload.mediaType, url: upload.url });
    },
  },
];

export function findRoute(method: string, path: string): { route: ApiRoute; params: string[] } | null {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const match = route.pattern.exec(path);
    if (match) return { route, params: match.slice(1) };
  }
  return null;
}
