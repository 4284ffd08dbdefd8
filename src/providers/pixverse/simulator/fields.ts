/**
 * Typed readers over a losslessly parsed JSON body. Each reader applies the Platform API's error
 * split: absent/empty required field → 400011, wrong JSON type → 400013 (a Go binding error on the
 * real service), value outside the allowed set → 400017. Messages always name the field.
 */
import { isLosslessNumber } from 'lossless-json';
import { ERR, fieldError } from './envelope.ts';

export type Body = Record<string, unknown>;

const INTEGER = /^-?\d+$/;
const ID = /^\d{1,20}$/;

export class Fields {
  constructor(private readonly body: Body) {}

  /** Own properties only: a `__proto__` key in hostile JSON must not leak inherited values. */
  private raw(name: string): unknown {
    return Object.hasOwn(this.body, name) ? this.body[name] : undefined;
  }

  present(name: string): boolean {
    const value = this.raw(name);
    return value !== undefined && value !== null;
  }

  string(name: string, required: true): string;
  string(name: string, required?: boolean): string | undefined;
  string(name: string, required = false): string | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) {
      if (required) throw fieldError(ERR.emptyParam, name);
      return undefined;
    }
    if (typeof value !== 'string') throw fieldError(ERR.badBinding, name, 'must be a string');
    if (required && value.trim() === '') throw fieldError(ERR.emptyParam, name);
    return value;
  }

  int(name: string, required: true): number;
  int(name: string, required?: boolean): number | undefined;
  int(name: string, required = false): number | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) {
      if (required) throw fieldError(ERR.emptyParam, name);
      return undefined;
    }
    // "5", 5.0 and 1e1 are all binding errors for an int field; so is a number that would overflow.
    if (!isLosslessNumber(value) || !INTEGER.test(value.value)) {
      throw fieldError(ERR.badBinding, name, 'must be an integer');
    }
    const n = Number(value.value);
    if (!Number.isSafeInteger(n)) throw fieldError(ERR.badBinding, name, 'is out of range');
    return n;
  }

  bool(name: string): boolean | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') throw fieldError(ERR.badBinding, name, 'must be a boolean');
    return value;
  }

  /** An int64 id, returned as its decimal digits (never through a JS number). */
  id(name: string, required: true): string;
  id(name: string, required?: boolean): string | undefined;
  id(name: string, required = false): string | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) {
      if (required) throw fieldError(ERR.emptyParam, name);
      return undefined;
    }
    return idDigits(value, name);
  }

  ids(name: string): string[] | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) throw fieldError(ERR.badBinding, name, 'must be an array of integers');
    return value.map((item) => idDigits(item, name));
  }

  /** An array of JSON objects (multi_transition items, image_references), each readable with Fields. */
  objects(name: string): Fields[] | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || !value.every(isPlainObject)) {
      throw fieldError(ERR.badBinding, name, 'must be an array of objects');
    }
    return value.map((item) => new Fields(item as Body));
  }

  /** An array of strings (mask_ids). */
  strings(name: string): string[] | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
      throw fieldError(ERR.badBinding, name, 'must be an array of strings');
    }
    return value as string[];
  }

  /** A string that must be one of `allowed`. */
  oneOf<T extends string>(name: string, allowed: readonly T[], required: true): T;
  oneOf<T extends string>(name: string, allowed: readonly T[], required?: boolean): T | undefined;
  oneOf<T extends string>(name: string, allowed: readonly T[], required = false): T | undefined {
    const value = this.string(name, required);
    if (value === undefined || (!required && value === '')) return undefined;
    if (!(allowed as readonly string[]).includes(value)) {
      throw fieldError(ERR.invalidParam, name, `must be one of ${allowed.join(', ')}`);
    }
    return value as T;
  }

  /** String or number (e.g. webhook_id, documented as a string but sometimes sent as a number). */
  text(name: string): string | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string') return value;
    if (isLosslessNumber(value)) return value.value;
    throw fieldError(ERR.badBinding, name, 'must be a string');
  }
}

/** A parsed JSON object (lossless-json numbers are objects too, so they are excluded explicitly). */
function isPlainObject(item: unknown): boolean {
  return item !== null && typeof item === 'object' && !Array.isArray(item) && !isLosslessNumber(item);
}

function idDigits(value: unknown, name: string): string {
  // Ids are JSON integers on the wire; a quoted id is a binding error, as for any int64 field.
  if (!isLosslessNumber(value) || !ID.test(value.value)) {
    throw fieldError(ERR.badBinding, name, 'must be an integer id');
  }
  return value.value.replace(/^0+(?=\d)/, '');
}

/** Length in Unicode code points, which is what a "characters" limit means for CJK prompts. */
export function charLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}
