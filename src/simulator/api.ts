/**
 * Platform API routes under /openapi/v2 (reference §2). Handlers return the success body text or
 * throw a SimError; auth, trace-id checks and body reading happen in server.ts before them.
 */
import { parse } from 'lossless-json';
import type { Account, Engine } from './engine.ts';
import { ERR, RawInt, SimError, successText } from './envelope.ts';
import type { Body } from './fields.ts';
import { isIdText } from './ids.ts';
import { imageResult, musicResult, videoResult } from './results.ts';
import { IMAGE_MAX_BYTES, MEDIA_MAX_BYTES, parseImageUpload, parseMediaUpload } from './uploads.ts';
import { validateImage, validateMusic, validateVideo, type JobSpec } from './validate.ts';

export const API_PREFIX = '/openapi/v2';

export interface ApiRequest {
  account: Account;
  traceId: string;
  body: Buffer;
  contentType: string | undefined;
  /** Capture groups of the route pattern. */
  params: string[];
}

export interface ApiRoute {
  method: 'GET' | 'POST';
  pattern: RegExp;
  /** Largest body kept; beyond it the request fails with `tooLarge`. */
  bodyLimit: number;
  tooLarge: SimError;
  handle(engine: Engine, req: ApiRequest): string | Promise<string>;
}

const JSON_LIMIT = 1024 * 1024;
/**
 * Bodies kept for uploads: the file limit plus room for multipart framing. A bigger body cannot hold
 * an acceptable file, so it is refused without parsing; exact limits are checked per field.
 */
const FRAMING = 64 * 1024;
const JSON_TOO_LARGE = new SimError(ERR.badBinding, 'invalid binding request: body too large');

/** Lossless parse so int64 ids in the body (img_id …) keep every digit. */
function parseJsonBody(raw: Buffer): Body {
  let value: unknown;
  try {
    value = parse(raw.toString('utf8'));
  } catch {
    throw new SimError(ERR.badBinding, 'invalid binding request: malformed JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SimError(ERR.badBinding, 'invalid binding request: body must be a JSON object');
  }
  return value as Body;
}

/**
 * A create endpoint. The replay lookup and the submit run synchronously after the body is read,
 * so two concurrent requests with one trace id cannot both create a job.
 */
function create(validate: (body: Body, engine: Engine, account: Account) => JobSpec) {
  return (engine: Engine, req: ApiRequest): string => {
    const replayed = engine.replay(req.account, req.traceId);
    if (replayed !== undefined) return replayed;
    const spec = validate(parseJsonBody(req.body), engine, req.account);
    return engine.submit(req.account, req.traceId, spec, Date.now());
  };
}

function result(kind: JobSpec['kind']) {
  return (engine: Engine, req: ApiRequest): string => {
    const raw = req.params[0]!;
    if (!isIdText(raw)) throw new SimError(ERR.badBinding, `invalid binding request: id "${raw.slice(0, 40)}"`);
    const now = Date.now();
    const job = engine.job(req.account, raw.replace(/^0+(?=\d)/, ''), kind, now);
    if (!job) throw new SimError(ERR.notFound);
    const spec = job.spec;
    if (spec.kind === 'video') return successText(videoResult(job, spec, now));
    if (spec.kind === 'image') return successText(imageResult(job, spec, now));
    return successText(musicResult(job, spec, now));
  };
}

function json(method: 'GET' | 'POST', pattern: RegExp, handle: ApiRoute['handle']): ApiRoute {
  return { method, pattern, bodyLimit: JSON_LIMIT, tooLarge: JSON_TOO_LARGE, handle };
}

export const ROUTES: ApiRoute[] = [
  json('POST', /^\/video\/text\/generate$/, create((b, e, a) => validateVideo(b, 'text', (id) => e.hasImage(a, id)))),
  json('POST', /^\/video\/img\/generate$/, create((b, e, a) => validateVideo(b, 'img', (id) => e.hasImage(a, id)))),
  json('POST', /^\/image\/generate$/, create((b, e, a) => validateImage(b, (id) => e.hasImage(a, id)))),
  json('POST', /^\/music\/generate$/, create((b) => validateMusic(b))),
  json('GET', /^\/video\/result\/([^/]+)$/, result('video')),
  json('GET', /^\/image\/result\/([^/]+)$/, result('image')),
  json('GET', /^\/music\/result\/([^/]+)$/, result('music')),
  json('GET', /^\/account\/balance$/, (engine, req) => {
    const b = engine.balance(req.account, Date.now());
    return successText({ account_id: b.accountId, credit_monthly: b.creditMonthly, credit_package: b.creditPackage });
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
