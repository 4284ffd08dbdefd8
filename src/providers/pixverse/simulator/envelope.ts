/**
 * The PixVerse response envelope and the error codes the simulator answers with.
 *
 * JSON text is written here by hand rather than with JSON.stringify: ids must reach the wire as raw
 * integer digits even when they exceed 2^53, which JSON.stringify cannot do for a string and
 * cannot do losslessly for a number.
 */

/** An int64 id held as decimal digits; serialised as a bare JSON integer. */
export class RawInt {
  constructor(readonly digits: string) {}
}

export type WireValue =
  | null
  | boolean
  | number
  | string
  | RawInt
  | WireValue[]
  | { [key: string]: WireValue };

export function jsonText(value: WireValue): string {
  if (value === null) return 'null';
  if (value instanceof RawInt) return value.digits;
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  const parts: string[] = [];
  for (const key of Object.keys(value)) parts.push(`${JSON.stringify(key)}:${jsonText(value[key]!)}`);
  return `{${parts.join(',')}}`;
}

/** ErrCodes from the official table (reference §5) plus the ones the simulator needs. */
export const ERR = {
  emptyParam: 400011,
  invalidAccount: 400012,
  badBinding: 400013,
  invalidParam: 400017,
  promptTooLong: 400018,
  negativePromptTooLong: 400019,
  invalidImageId: 400032,
  notFound: 500008,
  imageTooLarge: 500030,
  imageUnreadable: 500031,
  imageFormat: 500032,
  concurrencyLimit: 500044,
  moderation: 500063,
  deleted: 500064,
  overloaded: 500069,
  templateNotActivated: 500070,
  templateQuality: 500071,
  insufficientBalance: 500090,
  database: 500100,
  mimicNoSubject: 701002,
  mimicNoPerson: 701003,
  unknown: 99999,
} as const;

const DEFAULT_MESSAGES: Record<number, string> = {
  400011: 'empty parameter',
  400012: 'invalid account',
  400013: 'invalid binding request',
  400017: 'invalid parameter',
  400018: 'prompt is too long',
  400019: 'negative prompt is too long',
  400032: 'invalid image id',
  500008: 'requested data not found',
  500030: 'image too large',
  500031: 'failed to read image info',
  500032: 'invalid image format',
  500044: 'Reached the limit for concurrent generations',
  500063: 'content moderation failure',
  500064: 'content has been deleted',
  500069: 'system is under high load, please try again later',
  500070: 'template not activated',
  500071: 'this effect does not support 720p/1080p',
  500090: 'insufficient balance',
  500100: 'database error',
  701002: 'the photo needs a clear subject (a person or an animal)',
  701003: 'the video needs a person as its main focus',
  99999: 'unknown error',
};

/**
 * A business error. `httpStatus` is 200 for ordinary refusals (PixVerse answers most of them with
 * HTTP 200); `lowercase` selects the `{err_code, err_msg, resp}` spelling seen on HTTP 500 answers.
 */
export class SimError extends Error {
  constructor(
    readonly code: number,
    message?: string,
    readonly httpStatus = 200,
    readonly lowercase = false,
  ) {
    super(message ?? DEFAULT_MESSAGES[code] ?? 'error');
    this.name = 'SimError';
  }
}

/** `message: detail` helper so every validation error names the field it is about. */
export function fieldError(code: number, field: string, detail?: string): SimError {
  const base = DEFAULT_MESSAGES[code] ?? 'invalid parameter';
  return new SimError(code, `${base}: ${field}${detail ? ` ${detail}` : ''}`);
}

export function successText(resp: { [key: string]: WireValue }): string {
  return `{"ErrCode":0,"ErrMsg":"success","Resp":${jsonText(resp)}}`;
}

export function errorText(err: SimError): string {
  const msg = JSON.stringify(err.message);
  return err.lowercase
    ? `{"err_code":${err.code},"err_msg":${msg},"resp":{}}`
    : `{"ErrCode":${err.code},"ErrMsg":${msg},"Resp":{}}`;
}
