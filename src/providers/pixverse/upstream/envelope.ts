/**
 * The PixVerse response envelope: `{ErrCode, ErrMsg, Resp}`, or lowercase `{err_code, err_msg, resp}`
 * (seen on HTTP 500 moderation answers). The body is read on every HTTP status; a non-zero code is an
 * error whatever the status, and a code of 0 is success whatever the status.
 */
import type { Json } from '../../../domain/job.ts';
import { UpstreamError } from '../../../scheduler/provider.ts';
import { CODE_HINTS, classifyErrCode, classifyHttpStatus } from './classify.ts';
import { isJsonObject, parseLossless, type JsonObject } from './json.ts';

export interface Envelope {
  code: number;
  message: string;
  /** `Resp`/`resp`; an empty object when absent or not an object. */
  resp: JsonObject;
}

function toCode(value: Json | undefined): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return Number(value.trim());
  return null;
}

/** Reads an envelope from a parsed body; null when the body is not one. */
export function readEnvelope(body: Json): Envelope | null {
  if (!isJsonObject(body)) return null;
  const code = toCode(body.ErrCode ?? body.err_code ?? body.errCode);
  if (code === null) return null;
  const msg = body.ErrMsg ?? body.err_msg ?? body.errMsg;
  const resp = body.Resp ?? body.resp;
  return {
    code,
    message: typeof msg === 'string' ? msg : '',
    resp: isJsonObject(resp) ? resp : {},
  };
}

/** Parses a body text into an envelope; null when it is not JSON or not an envelope. */
export function parseEnvelope(text: string): Envelope | null {
  let body: Json;
  try {
    body = parseLossless(text);
  } catch {
    return null;
  }
  return readEnvelope(body);
}

function snippet(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 120 ? `${oneLine.slice(0, 120)}…` : oneLine;
}

/** The UpstreamError for a non-zero envelope code. */
export function envelopeError(
  env: Envelope,
  httpStatus: number | null,
  maybeSubmitted = false,
): UpstreamError {
  const cls = classifyErrCode(env.code, httpStatus);
  const hint = CODE_HINTS.get(env.code);
  const text = env.message || 'no message';
  const message = `PixVerse ErrCode ${env.code}: ${text}${hint ? ` (${hint})` : ''}`;
  return new UpstreamError(cls, message, env.code, httpStatus, maybeSubmitted);
}

/**
 * Returns `Resp` of a successful answer, or throws the classified UpstreamError.
 * `maybeSubmitted` is carried into errors that do not prove the request was refused
 * (no envelope: a proxy may have answered after PixVerse accepted the create).
 */
export function unwrapEnvelope(httpStatus: number, text: string, maybeSubmitted = false): JsonObject {
  const env = parseEnvelope(text);
  if (env === null) {
    const cls = classifyHttpStatus(httpStatus);
    const what = text.trim() === '' ? 'empty body' : `non-envelope body: ${snippet(text)}`;
    // 429/401/403 are refusals by HTTP semantics; anything else (a 502 from a proxy…) is ambiguous.
    const ambiguous = maybeSubmitted && cls === 'transient';
    throw new UpstreamError(cls, `PixVerse HTTP ${httpStatus} with ${what}`, null, httpStatus, ambiguous);
  }
  // A PixVerse envelope with a non-zero code is a definite refusal: nothing was started.
  if (env.code !== 0) throw envelopeError(env, httpStatus, false);
  return env.resp;
}
