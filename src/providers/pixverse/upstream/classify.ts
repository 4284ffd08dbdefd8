/**
 * PixVerse ErrCode → UpstreamErrorClass (reference section 5, plus the codes seen in client code).
 */
import type { UpstreamErrorClass } from '../../../scheduler/provider.ts';

const EXACT: ReadonlyMap<number, UpstreamErrorClass> = new Map<number, UpstreamErrorClass>([
  [500044, 'concurrency_limit'],
  [500043, 'out_of_credits'],
  [500090, 'out_of_credits'],
  [500054, 'moderation'],
  [500063, 'moderation'],
  [500052, 'moderation'],
  [701002, 'moderation'],
  [701003, 'moderation'],
  [400012, 'auth'],
  [10001, 'auth'],
  [10003, 'auth'],
  [500020, 'auth'],
  [500201, 'auth'],
  [500008, 'not_found'],
  [500064, 'not_found'],
  [500030, 'bad_request'],
  [500031, 'bad_request'],
  [500032, 'bad_request'],
  [500033, 'bad_request'],
  [500042, 'bad_request'],
  [500070, 'bad_request'],
  [500071, 'bad_request'],
  [400032, 'bad_request'],
  // Monthly effects-activation quota: the request cannot succeed on this account this month.
  [500060, 'bad_request'],
  [500069, 'transient'],
  [500100, 'transient'],
  [99999, 'transient'],
  [500045, 'transient'],
  [10005, 'transient'],
  [500041, 'transient'],
]);

/** Extra wording for codes whose class alone would mislead an operator. */
export const CODE_HINTS: ReadonlyMap<number, string> = new Map([
  [500060, 'quota: monthly effects/template activation limit reached'],
  [500044, 'concurrency limit reached on this account'],
  [500069, 'PixVerse overloaded'],
]);

/** Class of a failure that carries no PixVerse envelope, from the HTTP status alone. */
export function classifyHttpStatus(httpStatus: number | null): UpstreamErrorClass {
  if (httpStatus === 429) return 'rate_limit';
  if (httpStatus === 401 || httpStatus === 403) return 'auth';
  return 'transient';
}

/**
 * Class of a non-zero ErrCode. Known codes win over the HTTP status; an unknown code falls back
 * to the HTTP status (429 → rate_limit, 401/403 → auth) and otherwise to transient.
 */
export function classifyErrCode(code: number, httpStatus: number | null): UpstreamErrorClass {
  const known = EXACT.get(code);
  if (known) return known;
  if (code >= 400000 && code <= 400099) return 'bad_request';
  return classifyHttpStatus(httpStatus);
}
