/**
 * Handler plumbing for the Platform API routes under /openapi/v2 (reference §2; the table is in
 * routes.ts). Handlers return the success body text or throw a SimError, a RawReply or NoReply;
 * auth, trace-id checks and body reading happen in server.ts before them.
 */
import { isLosslessNumber, parse } from 'lossless-json';
import type { Account, Engine } from './engine.ts';
import { ERR, SimError, successText } from './envelope.ts';
import { NoReply, ResetReply, frontRefusal } from './faults.ts';
import type { Body } from './fields.ts';
import { isIdText } from './ids.ts';
import { bodyMarkers } from './markers.ts';
import { imageResult, videoResult } from './results.ts';
import type { JobSpec, Lookup } from './validate/index.ts';

export const API_PREFIX = '/openapi/v2';

export interface ApiRequest {
  account: Account;
  traceId: string;
  body: Buffer;
  contentType: string | undefined;
  query: URLSearchParams;
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
const JSON_TOO_LARGE = new SimError(ERR.badBinding, 'invalid binding request: body too large');

/** Lossless parse so int64 ids in the body (img_id …) keep every digit. */
export function parseJsonBody(raw: Buffer): Body {
  let value: unknown;
  try {
    value = parse(raw.toString('utf8'));
  } catch {
    throw new SimError(ERR.badBinding, 'invalid binding request: malformed JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || isLosslessNumber(value)) {
    throw new SimError(ERR.badBinding, 'invalid binding request: body must be a JSON object');
  }
  return value as Body;
}

/**
 * A create endpoint: Ai-trace-id replay first (a replay is answered whatever the markers say), then
 * the front-door markers, validation and the submit. Everything after the body is read runs
 * synchronously, so two concurrent requests with one trace id cannot both create a job.
 */
export function create(validate: (body: Body, lookup: Lookup) => JobSpec) {
  return (engine: Engine, req: ApiRequest): string => {
    const replayed = engine.replay(req.account, req.traceId);
    if (replayed !== undefined) return replayed;
    const markers = bodyMarkers(req.body);
    if (markers.front) throw frontRefusal(markers.front);
    const now = Date.now();
    const spec = validate(parseJsonBody(req.body), engine.lookup(req.account, now));
    if (markers.busy && !engine.busyRefused.has(req.traceId)) {
      engine.busyRefused.add(req.traceId);
      throw new SimError(ERR.concurrencyLimit);
    }
    const text = engine.submit(req.account, req.traceId, spec, now, markers);
    if (markers.timeout) throw new NoReply();
    if (markers.cut === 'reset') throw new ResetReply();
    if (markers.cut === 'malformed') return text.slice(0, Math.floor(text.length / 2));
    return text;
  };
}

export function result(kind: JobSpec['kind']) {
  return (engine: Engine, req: ApiRequest): string => {
    const raw = req.params[0]!;
    if (!isIdText(raw))
      throw new SimError(ERR.badBinding, `invalid binding request: id "${raw.slice(0, 40)}"`);
    const now = Date.now();
    const job = engine.job(req.account, raw.replace(/^0+(?=\d)/, ''), kind, now);
    if (!job) throw new SimError(ERR.notFound);
    const spec = job.spec;
    if (spec.kind === 'video') return successText(videoResult(job, spec, now, engine.mediaBase));
    return successText(imageResult(job, spec, now, engine.mediaBase));
  };
}

export function json(method: 'GET' | 'POST', pattern: RegExp, handle: ApiRoute['handle']): ApiRoute {
  return { method, pattern, bodyLimit: JSON_LIMIT, tooLarge: JSON_TOO_LARGE, handle };
}
