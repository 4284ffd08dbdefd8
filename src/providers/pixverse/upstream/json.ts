/**
 * Lossless JSON for the PixVerse wire.
 *
 * PixVerse ids are int64 JSON numbers; JS numbers lose digits beyond 2^53. Responses are parsed so
 * that every id field becomes a decimal string (whatever its size), `status` becomes a number, and
 * any other integer that would lose digits is kept as a decimal string. Request bodies carry ids as
 * decimal strings in memory and are written back as raw JSON integers.
 */
import {
  LosslessNumber,
  isInteger,
  isLosslessNumber,
  isSafeNumber,
  parse,
  parseLosslessNumber,
  stringify,
} from 'lossless-json';
import type { Json } from '../../../domain/job.ts';
import { ID_FIELDS } from './operations.ts';

export type JsonObject = { [key: string]: Json };

/** Keys whose values are ids in PixVerse responses: `id`, `*_id`, `*_ids`, plus the body id fields. */
export function isIdKey(key: string): boolean {
  return key === 'id' || key.endsWith('_id') || key.endsWith('_ids') || ID_FIELDS.has(key);
}

const DIGITS = /^\d+$/;
/** Any run of 16+ digits may be an integer JSON.parse would round; take the lossless path then. */
const LONG_DIGITS = /\d{16,}/;

/** A parsed number in either representation (plain number from the fast path, LosslessNumber otherwise). */
function numberText(value: unknown): string | null {
  if (isLosslessNumber(value)) return value.value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

/** Decimal string for an id number. Plain digits are kept as written; other notations are normalised. */
function idString(text: string): string {
  if (DIGITS.test(text)) return text;
  if (/^-\d+$/.test(text)) return text;
  const n = Number(text);
  if (Number.isSafeInteger(n)) return String(n);
  return text;
}

function plainNumber(text: string): number | string {
  // Integers that would lose digits stay strings (lossless); decimals are fine as approximate numbers.
  if (isInteger(text) && !isSafeNumber(text)) return text;
  return Number(text);
}

function convert(key: string | null, value: unknown, idContext: boolean): Json {
  if (value === null || value === undefined) return null;
  const num = numberText(value);
  if (num !== null) {
    if (idContext) return idString(num);
    if (key === 'status') return Number(num);
    return plainNumber(num);
  }
  if (typeof value === 'string') {
    if (key === 'status' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
    return value;
  }
  if (typeof value === 'boolean') return value;
  if (Array.isArray(value)) {
    // Elements of an id array (img_ids) are ids; elements of other arrays keep their own keys' rules.
    return value.map((item) => convert(idContext ? key : null, item, idContext));
  }
  if (typeof value === 'object') {
    const entries: [string, Json][] = [];
    for (const [k, v] of Object.entries(value)) entries.push([k, convert(k, v, isIdKey(k))]);
    // fromEntries defines own properties, so a "__proto__" key cannot alter the prototype.
    return Object.fromEntries(entries) as JsonObject;
  }
  return null;
}

/**
 * Parses JSON text losslessly: ids (see isIdKey) become decimal strings, `status` a number,
 * other unsafe integers decimal strings. Throws SyntaxError on invalid JSON.
 */
export function parseLossless(text: string): Json {
  let raw: unknown;
  if (LONG_DIGITS.test(text)) {
    raw = parse(text, null, {
      parseNumber: parseLosslessNumber,
      onDuplicateKey: ({ newValue }) => newValue,
    });
  } else {
    // No integer long enough to be unsafe: the native parser is exact and much faster.
    raw = JSON.parse(text);
  }
  return convert(null, raw, false);
}

function toWire(key: string | null, value: Json, idFields: ReadonlySet<string>): unknown {
  const isId = key !== null && idFields.has(key);
  if (typeof value === 'string') {
    if (isId && DIGITS.test(value)) return new LosslessNumber(BigInt(value).toString());
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((item) =>
      isId && typeof item === 'string' && DIGITS.test(item)
        ? new LosslessNumber(BigInt(item).toString())
        : toWire(null, item, idFields),
    );
  }
  if (value !== null && typeof value === 'object') {
    const entries: [string, unknown][] = [];
    for (const [k, v] of Object.entries(value)) entries.push([k, toWire(k, v, idFields)]);
    return Object.fromEntries(entries);
  }
  return value;
}

/**
 * Serialises a request body. Fields named in `idFields` (at any depth, e.g. `image_references[].img_id`)
 * holding a digit string, or an array of digit strings, are written as raw JSON integers.
 */
export function stringifyLossless(value: Json, idFields: ReadonlySet<string> = ID_FIELDS): string {
  const out = stringify(toWire(null, value, idFields));
  if (out === undefined) throw new TypeError('value is not serialisable as JSON');
  return out;
}

/** Narrows a parsed value to a JSON object. */
export function isJsonObject(value: Json | undefined): value is JsonObject {
  return value !== null && value !== undefined && typeof value === 'object' && !Array.isArray(value);
}
