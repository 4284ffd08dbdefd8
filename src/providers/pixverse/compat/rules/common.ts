/**
 * Rules shared by every useapi job endpoint: fields the PixVerse Platform API has no equivalent
 * for, model choice per endpoint, and small helpers for "exactly one of" and numbered fields.
 * Everything here is pure and throws a 400 that names the field.
 */
import { badRequest } from '../../../../domain/errors.ts';
import { platformModel } from '../videoRules.ts';

/**
 * useapi fields of the PixVerse web app with no Platform API equivalent. `false` asks for the
 * default behaviour, which is what the Platform does, so only `true` is refused.
 */
const WEB_APP_OPTIONS: Record<string, string> = {
  off_peak_mode:
    'off_peak_mode is a PixVerse web-app discount that the PixVerse Platform API does not offer; send it as false or leave it out',
  preview_mode:
    'preview_mode is a PixVerse web-app feature that the PixVerse Platform API does not offer; send it as false or leave it out',
};

export function rejectWebAppOptions(body: Record<string, unknown>): void {
  for (const [field, message] of Object.entries(WEB_APP_OPTIONS)) {
    if (body[field] === true) throw badRequest(message);
  }
}

/** Fields that exist only for third-party models (Seedance …), refused with the reason. */
export function rejectThirdPartyFields(
  body: Record<string, unknown>,
  fields: readonly string[],
  what: string,
): void {
  for (const field of fields) {
    if (body[field] !== undefined) {
      throw badRequest(
        `${field} is only available for ${what} in the PixVerse web app, not through the PixVerse Platform API`,
      );
    }
  }
}

/**
 * The Platform model for an endpoint: web-only models are refused with the reason, Platform models
 * outside `allowed` with the list this endpoint takes. `pixverse-c1` is useapi's name for `c1`.
 */
export function endpointModel(
  model: string | undefined,
  allowed: readonly string[],
  fallback: string,
  endpoint: string,
): string {
  const name = platformModel(model ?? fallback);
  if (!allowed.includes(name))
    throw badRequest(`model must be one of: ${allowed.join(', ')} for ${endpoint} (got ${model})`);
  return name;
}

/** Values of `prefix1suffix`…`prefixNsuffix`, with the index, present ones only. */
export function numbered<T>(
  body: Record<string, unknown>,
  name: (i: number) => string,
  max: number,
): { index: number; field: string; value: T }[] {
  const out: { index: number; field: string; value: T }[] = [];
  for (let i = 1; i <= max; i++) {
    const field = name(i);
    if (body[field] !== undefined) out.push({ index: i, field, value: body[field] as T });
  }
  return out;
}

/** Numbered inputs must start at 1 and have no gaps (frame_1_path, frame_2_path, …). */
export function requireContiguous(
  present: { index: number; field: string }[],
  name: (i: number) => string,
): void {
  present.forEach((item, position) => {
    if (item.index !== position + 1)
      throw badRequest(
        `${item.field} is sent without ${name(position + 1)}; number inputs from 1 without gaps`,
      );
  });
}

/** Exactly one of two fields. */
export function exactlyOne(body: Record<string, unknown>, a: string, b: string): typeof a | typeof b {
  const hasA = body[a] !== undefined;
  const hasB = body[b] !== undefined;
  if (hasA && hasB) throw badRequest(`send either ${a} or ${b}, not both`);
  if (!hasA && !hasB) throw badRequest(`${a} or ${b} is required`);
  return hasA ? a : b;
}

/** A trimmed prompt or a 400 when it is missing or blank. */
export function requiredPrompt(prompt: string | undefined, field = 'prompt'): string {
  const text = prompt?.trim();
  if (!text) throw badRequest(`${field} is required`);
  return text;
}

/** Length in Unicode code points (what a "characters" limit means for CJK text). */
export function charLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

export function checkLength(field: string, text: string, max: number, context = ''): void {
  if (text.length > max && charLength(text) > max)
    throw badRequest(`${field} must be at most ${max} characters${context}`);
}
