/**
 * Bad input on every route: each row names a request and the status and error text it must
 * get. Every answer must be useapi's envelope `{ error: string, code: <status> }`, never a 5xx,
 * and validation errors must name the offending field. A fast-check property then throws
 * random JSON at the create routes and POST /accounts/{email}.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  addAccount,
  call,
  createTenant,
  startHarness,
  type Harness,
  type Reply,
} from '../helpers/harness.ts';

const P = '/v2/pixverse';
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
const KEY_A = 'pk-alpha-0123456789abcdef';
const KEY_A2 = 'pk-alpha2-0123456789abcdef';
const long = (n: number, ch = 'x') => ch.repeat(n);
const url1025 = `https://${long(1025 - 'https://'.length, 'a')}`;

/** Which credentials a row sends. */
type Who = 'user' | 'admin' | 'none' | 'empty' | { header: string };

interface Row {
  name: string;
  method: 'GET' | 'POST' | 'DELETE';
  /** `{uid}` = the tenant's user id, `{other}` = another user id, `{ffp}` = an uploaded image path. */
  path: string;
  who: Who;
  /** JSON-serialised body (placeholders in strings are substituted). */
  json?: unknown;
  /** Raw body, sent as is with `contentType` (or none). */
  raw?: string | Buffer;
  contentType?: string;
  status: number;
  error: RegExp;
}

const goodVideo = { prompt: 'a red fox' };

/** The 20 routes of the brief, each with a body that would otherwise be accepted. */
const ROUTES: { method: Row['method']; path: string; json?: unknown }[] = [
  { method: 'POST', path: '/admin/users', json: { name: 'n' } },
  { method: 'GET', path: '/admin/users' },
  { method: 'POST', path: '/admin/users/{uid}/tokens', json: { label: 'l' } },
  { method: 'GET', path: '/admin/users/{uid}/tokens' },
  { method: 'DELETE', path: '/admin/users/{uid}/tokens/1' },
  { method: 'GET', path: '/v2/account' },
  { method: 'POST', path: '/v2/account', json: { replyUrl: 'https://example.com/hook' } },
  { method: 'POST', path: `${P}/accounts/a@x.com`, json: { apiKey: KEY_A, maxJobs: 8 } },
  { method: 'GET', path: `${P}/accounts/a@x.com` },
  { method: 'DELETE', path: `${P}/accounts/a@x.com` },
  { method: 'GET', path: `${P}/accounts` },
  { method: 'POST', path: `${P}/files?email=a@x.com` },
  { method: 'POST', path: `${P}/videos/create`, json: goodVideo },
  { method: 'POST', path: `${P}/images/create`, json: { prompt: 'a cat' } },
  { method: 'POST', path: `${P}/music/create`, json: { prompt: 'a song' } },
  { method: 'GET', path: `${P}/videos/user:{uid}-pixverse:a@x.com-video:1` },
  { method: 'GET', path: `${P}/images/user:{uid}-pixverse:a@x.com-image:1` },
  { method: 'GET', path: `${P}/music/user:{uid}-pixverse:a@x.com-music:1` },
  { method: 'GET', path: `${P}/scheduler` },
  { method: 'GET', path: `${P}/scheduler/available` },
  { method: 'DELETE', path: `${P}/scheduler/user:{uid}-pixverse:a@x.com-video:1` },
];
const ADMIN_ROUTES = ROUTES.filter((r) => r.path.startsWith('/admin'));
const TENANT_ROUTES = ROUTES.filter((r) => !r.path.startsWith('/admin'));

const UNAUTHORIZED = /^Unauthorized$/;

const authRows: Row[] = [
  ...ROUTES.map(
    (r): Row => ({
      name: `no Authorization: ${r.method} ${r.path}`,
      ...r,
      who: 'none',
      status: 401,
      error: UNAUTHORIZED,
    }),
  ),
  ...ROUTES.map(
    (r): Row => ({
      name: `unknown token: ${r.method} ${r.path}`,
      ...r,
      who: { header: 'Bearer user:1-notarealtokenatall0000' },
      status: 401,
      error: UNAUTHORIZED,
    }),
  ),
  ...ADMIN_ROUTES.map(
    (r): Row => ({
      name: `user token on admin route: ${r.method} ${r.path}`,
      ...r,
      who: 'user',
      status: 401,
      error: UNAUTHORIZED,
    }),
  ),
  ...TENANT_ROUTES.map(
    (r): Row => ({
      name: `admin token on tenant route: ${r.method} ${r.path}`,
      ...r,
      who: 'admin',
      status: 401,
      error: UNAUTHORIZED,
    }),
  ),
  {
    name: 'Basic scheme instead of Bearer',
    method: 'GET',
    path: `${P}/scheduler`,
    who: { header: 'Basic dXNlcjpwYXNz' },
    status: 401,
    error: UNAUTHORIZED,
  },
  {
    name: 'Bearer with no token',
    method: 'GET',
    path: `${P}/scheduler`,
    who: { header: 'Bearer ' },
    status: 401,
    error: UNAUTHORIZED,
  },
  // Authentication comes before body parsing and validation: an anonymous caller learns nothing.
  {
    name: 'no Authorization + malformed JSON',
    method: 'POST',
    path: `${P}/videos/create`,
    who: 'none',
    raw: '{bad',
    contentType: 'application/json',
    status: 401,
    error: UNAUTHORIZED,
  },
  {
    name: 'no Authorization + invalid body',
    method: 'POST',
    path: `${P}/videos/create`,
    who: 'none',
    json: { duration: '5' },
    status: 401,
    error: UNAUTHORIZED,
  },
  {
    name: 'user token + invalid admin body',
    method: 'POST',
    path: '/admin/users',
    who: 'user',
    json: { name: 5 },
    status: 401,
    error: UNAUTHORIZED,
  },
  {
    name: 'no Authorization + malformed admin body',
    method: 'POST',
    path: '/admin/users',
    who: 'none',
    raw: '[',
    contentType: 'application/json',
    status: 401,
    error: UNAUTHORIZED,
  },
];

const adminRows: Row[] = [
  {
    name: 'admin: name wrong type',
    method: 'POST',
    path: '/admin/users',
    who: 'admin',
    json: { name: 5 },
    status: 400,
    error: /name must be string/,
  },
  {
    name: 'admin: name empty',
    method: 'POST',
    path: '/admin/users',
    who: 'admin',
    json: { name: '' },
    status: 400,
    error: /name/,
  },
  {
    name: 'admin: name too long',
    method: 'POST',
    path: '/admin/users',
    who: 'admin',
    json: { name: long(201) },
    status: 400,
    error: /name/,
  },
  {
    name: 'admin: unknown field',
    method: 'POST',
    path: '/admin/users',
    who: 'admin',
    json: { nam: 'x' },
    status: 400,
    error: /unknown field "nam"/,
  },
  {
    name: 'admin: array body',
    method: 'POST',
    path: '/admin/users',
    who: 'admin',
    json: [],
    status: 400,
    error: /body must be a JSON object/,
  },
  {
    name: 'admin: string body',
    method: 'POST',
    path: '/admin/users',
    who: 'admin',
    json: 'tenant',
    status: 400,
    error: /body must be a JSON object/,
  },
  {
    name: 'admin: malformed JSON',
    method: 'POST',
    path: '/admin/users',
    who: 'admin',
    raw: '{"name":',
    contentType: 'application/json',
    status: 400,
    error: /Malformed JSON/,
  },
  {
    name: 'admin: userId not a number',
    method: 'POST',
    path: '/admin/users/abc/tokens',
    who: 'admin',
    status: 400,
    error: /userId/,
  },
  {
    name: 'admin: userId 0',
    method: 'POST',
    path: '/admin/users/0/tokens',
    who: 'admin',
    status: 400,
    error: /userId/,
  },
  {
    name: 'admin: userId fractional',
    method: 'GET',
    path: '/admin/users/1.5/tokens',
    who: 'admin',
    status: 400,
    error: /userId/,
  },
  {
    name: 'admin: unknown user (POST tokens)',
    method: 'POST',
    path: '/admin/users/99999/tokens',
    who: 'admin',
    status: 404,
    error: /User 99999/,
  },
  {
    name: 'admin: label wrong type',
    method: 'POST',
    path: '/admin/users/{uid}/tokens',
    who: 'admin',
    json: { label: 7 },
    status: 400,
    error: /label must be string/,
  },
  {
    name: 'admin: token unknown field',
    method: 'POST',
    path: '/admin/users/{uid}/tokens',
    who: 'admin',
    json: { lable: 'x' },
    status: 400,
    error: /unknown field "lable"/,
  },
  {
    name: 'admin: userId garbage (GET tokens)',
    method: 'GET',
    path: '/admin/users/abc/tokens',
    who: 'admin',
    status: 400,
    error: /userId/,
  },
  {
    name: 'admin: unknown user (GET tokens)',
    method: 'GET',
    path: '/admin/users/99999/tokens',
    who: 'admin',
    status: 404,
    error: /User 99999/,
  },
  {
    name: 'admin: tokenId garbage',
    method: 'DELETE',
    path: '/admin/users/{uid}/tokens/abc',
    who: 'admin',
    status: 400,
    error: /tokenId/,
  },
  {
    name: 'admin: tokenId 0',
    method: 'DELETE',
    path: '/admin/users/{uid}/tokens/0',
    who: 'admin',
    status: 400,
    error: /tokenId/,
  },
  {
    name: 'admin: unknown token',
    method: 'DELETE',
    path: '/admin/users/{uid}/tokens/99999',
    who: 'admin',
    status: 404,
    error: /token 99999/,
  },
  {
    name: 'admin: unknown route',
    method: 'GET',
    path: '/admin/nope',
    who: 'admin',
    status: 404,
    error: /not found/,
  },
];

const tenantRows: Row[] = [
  {
    name: 'account: replyUrl wrong type',
    method: 'POST',
    path: '/v2/account',
    who: 'user',
    json: { replyUrl: 5 },
    status: 400,
    error: /replyUrl/,
  },
  {
    name: 'account: replyUrl not http',
    method: 'POST',
    path: '/v2/account',
    who: 'user',
    json: { replyUrl: 'ftp://x' },
    status: 400,
    error: /replyUrl/,
  },
  {
    name: 'account: replyUrl 1025 chars',
    method: 'POST',
    path: '/v2/account',
    who: 'user',
    json: { replyUrl: url1025 },
    status: 400,
    error: /replyUrl/,
  },
  {
    name: 'account: replyUrl missing',
    method: 'POST',
    path: '/v2/account',
    who: 'user',
    json: {},
    status: 400,
    error: /replyUrl is required/,
  },
  {
    name: 'account: unknown field',
    method: 'POST',
    path: '/v2/account',
    who: 'user',
    json: { replyUrl: '', replyRef: 'x' },
    status: 400,
    error: /unknown field "replyRef"/,
  },
  {
    name: 'account: array body',
    method: 'POST',
    path: '/v2/account',
    who: 'user',
    json: [{ replyUrl: '' }],
    status: 400,
    error: /body must be a JSON object/,
  },
  {
    name: 'account: malformed JSON',
    method: 'POST',
    path: '/v2/account',
    who: 'user',
    raw: '{replyUrl: ""}',
    contentType: 'application/json',
    status: 400,
    error: /Malformed JSON/,
  },
];

const acct = (body: unknown, extra: Partial<Row> = {}): Omit<Row, 'name' | 'status' | 'error'> => ({
  method: 'POST',
  path: `${P}/accounts/a@x.com`,
  who: 'user',
  json: body,
  ...extra,
});

const accountRows: Row[] = [
  {
    name: 'accounts: maxJobs as string',
    ...acct({ apiKey: KEY_A, maxJobs: '5' }),
    status: 400,
    error: /maxJobs must be integer/,
  },
  {
    name: 'accounts: maxJobs 0',
    ...acct({ apiKey: KEY_A, maxJobs: 0 }),
    status: 400,
    error: /maxJobs must be >= 1/,
  },
  {
    name: 'accounts: maxJobs 9',
    ...acct({ apiKey: KEY_A, maxJobs: 9 }),
    status: 400,
    error: /maxJobs must be <= 8/,
  },
  {
    name: 'accounts: maxJobs fractional',
    ...acct({ apiKey: KEY_A, maxJobs: 1.5 }),
    status: 400,
    error: /maxJobs must be integer/,
  },
  {
    name: 'accounts: maxJobs missing',
    ...acct({ apiKey: KEY_A }),
    status: 400,
    error: /maxJobs is required/,
  },
  { name: 'accounts: apiKey missing', ...acct({ maxJobs: 1 }), status: 400, error: /apiKey is required/ },
  {
    name: 'accounts: apiKey wrong type',
    ...acct({ apiKey: 12345678, maxJobs: 1 }),
    status: 400,
    error: /apiKey must be string/,
  },
  {
    name: 'accounts: apiKey too short',
    ...acct({ apiKey: 'short', maxJobs: 1 }),
    status: 400,
    error: /apiKey/,
  },
  {
    name: 'accounts: password without apiKey explains API keys',
    ...acct({ email: 'a@x.com', password: 'hunter2', maxJobs: 1 }),
    status: 400,
    error: /API keys?[\s\S]*apiKey/,
  },
  {
    name: 'accounts: body email differs from path',
    ...acct({ email: 'other@x.com', apiKey: KEY_A, maxJobs: 1 }),
    status: 400,
    error: /email[\s\S]*match/,
  },
  {
    name: 'accounts: body email invalid',
    ...acct({ email: 'nope', apiKey: KEY_A, maxJobs: 1 }),
    status: 400,
    error: /email/,
  },
  {
    name: 'accounts: unknown field',
    ...acct({ apikey: KEY_A, maxJobs: 1 }),
    status: 400,
    error: /unknown field "apikey"/,
  },
  {
    name: 'accounts: array body',
    ...acct([{ apiKey: KEY_A, maxJobs: 1 }]),
    status: 400,
    error: /body must be a JSON object/,
  },
  { name: 'accounts: string body', ...acct(KEY_A), status: 400, error: /body must be a JSON object/ },
  { name: 'accounts: no body', ...acct(undefined), status: 400, error: /body must be a JSON object/ },
  {
    name: 'accounts: malformed JSON',
    ...acct(undefined, { raw: '{"apiKey": "x",}', contentType: 'application/json' }),
    status: 400,
    error: /Malformed JSON/,
  },
  {
    name: 'accounts: path is not an email',
    ...acct({ apiKey: KEY_A, maxJobs: 1 }, { path: `${P}/accounts/not-an-email` }),
    status: 400,
    error: /email "not-an-email"/,
  },
  {
    name: 'accounts: path percent garbage',
    ...acct({ apiKey: KEY_A, maxJobs: 1 }, { path: `${P}/accounts/%ZZ` }),
    status: 400,
    error: /percent-encoding/,
  },
  {
    name: 'accounts: key PixVerse rejects',
    ...acct({ apiKey: 'sim-invalid-0123456789', maxJobs: 1 }, { path: `${P}/accounts/rejected@x.com` }),
    status: 401,
    error: /API key[\s\S]*rejected@x\.com/,
  },
  {
    name: 'accounts: GET with bad email',
    method: 'GET',
    path: `${P}/accounts/not-an-email`,
    who: 'user',
    status: 400,
    error: /email "not-an-email"/,
  },
  {
    name: 'accounts: GET unknown',
    method: 'GET',
    path: `${P}/accounts/nobody@x.com`,
    who: 'user',
    status: 404,
    error: /Configuration not found/,
  },
  {
    name: 'accounts: GET percent garbage',
    method: 'GET',
    path: `${P}/accounts/a%E0%A4%A@x.com`,
    who: 'user',
    status: 400,
    error: /percent-encoding/,
  },
  {
    name: 'accounts: GET list, none configured',
    method: 'GET',
    path: `${P}/accounts`,
    who: 'empty',
    status: 404,
    error: /Configuration not found/,
  },
  {
    name: 'accounts: DELETE bad email',
    method: 'DELETE',
    path: `${P}/accounts/not-an-email`,
    who: 'user',
    status: 400,
    error: /email "not-an-email"/,
  },
  {
    name: 'accounts: DELETE unknown',
    method: 'DELETE',
    path: `${P}/accounts/nobody@x.com`,
    who: 'user',
    status: 404,
    error: /nobody@x\.com/,
  },
];

const fileRows: Row[] = [
  {
    name: 'files: text/plain',
    method: 'POST',
    path: `${P}/files?email=a@x.com`,
    who: 'user',
    raw: 'hello',
    contentType: 'text/plain',
    status: 415,
    error: /Content-Type/,
  },
  {
    name: 'files: application/json',
    method: 'POST',
    path: `${P}/files?email=a@x.com`,
    who: 'user',
    json: { file: 'x' },
    status: 415,
    error: /Content-Type/,
  },
  {
    name: 'files: octet-stream',
    method: 'POST',
    path: `${P}/files?email=a@x.com`,
    who: 'user',
    raw: PNG,
    contentType: 'application/octet-stream',
    status: 415,
    error: /Content-Type/,
  },
  {
    name: 'files: no Content-Type, no body',
    method: 'POST',
    path: `${P}/files?email=a@x.com`,
    who: 'user',
    status: 415,
    error: /Content-Type/,
  },
  {
    name: 'files: multipart',
    method: 'POST',
    path: `${P}/files?email=a@x.com`,
    who: 'user',
    raw: '--b\r\n\r\n--b--',
    contentType: 'multipart/form-data; boundary=b',
    status: 415,
    error: /Content-Type multipart\/form-data[\s\S]*raw file/,
  },
  {
    name: 'files: empty image body',
    method: 'POST',
    path: `${P}/files?email=a@x.com`,
    who: 'user',
    raw: Buffer.alloc(0),
    contentType: 'image/png',
    status: 400,
    error: /body/,
  },
  {
    name: 'files: bytes that are not a PNG',
    method: 'POST',
    path: `${P}/files?email=a@x.com`,
    who: 'user',
    raw: 'not a png',
    contentType: 'image/png',
    status: 400,
    error: /upload/,
  },
  {
    name: 'files: unknown query parameter',
    method: 'POST',
    path: `${P}/files?email=a@x.com&mail=1`,
    who: 'user',
    raw: PNG,
    contentType: 'image/png',
    status: 400,
    error: /unknown query parameter "mail"/,
  },
  {
    name: 'files: email not an email',
    method: 'POST',
    path: `${P}/files?email=zz`,
    who: 'user',
    raw: PNG,
    contentType: 'image/png',
    status: 400,
    error: /email "zz"/,
  },
  {
    name: 'files: email unknown',
    method: 'POST',
    path: `${P}/files?email=nobody@x.com`,
    who: 'user',
    raw: PNG,
    contentType: 'image/png',
    status: 404,
    error: /nobody@x\.com/,
  },
  {
    name: 'files: email needed with two accounts',
    method: 'POST',
    path: `${P}/files`,
    who: 'user',
    raw: PNG,
    contentType: 'image/png',
    status: 400,
    error: /email is required/,
  },
  {
    name: 'files: no account configured',
    method: 'POST',
    path: `${P}/files`,
    who: 'empty',
    raw: PNG,
    contentType: 'image/png',
    status: 404,
    error: /POST \/accounts/,
  },
];

const video = (body: unknown, status: number, error: RegExp, name: string): Row => ({
  name: `videos/create: ${name}`,
  method: 'POST',
  path: `${P}/videos/create`,
  who: 'user',
  json: body,
  status,
  error,
});
const videoRaw = (raw: string, contentType: string, status: number, error: RegExp, name: string): Row => ({
  name: `videos/create: ${name}`,
  method: 'POST',
  path: `${P}/videos/create`,
  who: 'user',
  raw,
  contentType,
  status,
  error,
});

const videoRows: Row[] = [
  video({ prompt: 'x', duration: '5' }, 400, /duration must be integer/, 'duration as string'),
  video({ prompt: 'x', duration: 5.5 }, 400, /duration must be integer/, 'duration fractional'),
  video({ prompt: 'x', duration: 20 }, 400, /duration must be <= 15/, 'duration 20'),
  video({ prompt: 'x', duration: 0 }, 400, /duration must be >= 1/, 'duration 0'),
  videoRaw(
    '{"prompt":"x","duration":1e400}',
    'application/json',
    400,
    /duration/,
    'duration overflowing to Infinity',
  ),
  video({ prompt: 'x', seed: -1 }, 400, /seed must be >= 0/, 'seed -1'),
  video({ prompt: 'x', seed: 2 ** 31 }, 400, /seed must be <= 2147483647/, 'seed 2^31'),
  video({ prompt: 'x', seed: '7' }, 400, /seed must be integer/, 'seed as string'),
  video({ prompt: 'x', model: 'v99' }, 400, /model must be one of/, 'unknown model'),
  video({ prompt: 'x', model: 5 }, 400, /model must be string/, 'model as number'),
  video({ prompt: 'x', model: '' }, 400, /model/, 'empty model'),
  video({ prompt: 'x', quality: '4k' }, 400, /quality must be one of/, 'unknown quality'),
  video({ prompt: 'x', aspect_ratio: '5:4' }, 400, /aspect_ratio must be one of/, 'unknown aspect_ratio'),
  video({ prompt: 'x', motion_mode: 'slow' }, 400, /motion_mode must be one of/, 'unknown motion_mode'),
  video({ prompt: 'x', audio: 'yes' }, 400, /audio must be boolean/, 'audio as string'),
  video({ prompt: 'x', promt: 'y' }, 400, /unknown field "promt"/, 'unknown field'),
  video({ prompt: 'x', video_id: 'y' }, 400, /unknown field "video_id"/, 'field of another endpoint'),
  video({}, 400, /prompt is required/, 'prompt missing'),
  video({ prompt: '   ' }, 400, /prompt is required/, 'prompt blank'),
  video({ prompt: 5 }, 400, /prompt must be string/, 'prompt as number'),
  video({ prompt: long(5001) }, 400, /prompt must NOT have more than 5000/, 'prompt over 5000'),
  video(
    { prompt: long(2049), model: 'v5' },
    400,
    /prompt must be at most 2048 characters for model v5/,
    "prompt over v5's limit",
  ),
  video({ prompt: 'x', negative_prompt: long(2049) }, 400, /negative_prompt/, 'negative_prompt too long'),
  video(
    { prompt: 'x', replyUrl: url1025 },
    400,
    /replyUrl must NOT have more than 1024/,
    'replyUrl 1025 chars',
  ),
  video({ prompt: 'x', replyUrl: 'example.com/hook' }, 400, /replyUrl/, 'replyUrl without scheme'),
  video(
    { prompt: 'x', replyRef: long(1025) },
    400,
    /replyRef must NOT have more than 1024/,
    'replyRef 1025 chars',
  ),
  video({ prompt: 'x', replyRef: { id: 1 } }, 400, /replyRef must be string/, 'replyRef object'),
  video({ prompt: 'x', maxJobs: '5' }, 400, /maxJobs must be integer/, 'maxJobs as string'),
  video({ prompt: 'x', maxJobs: 0 }, 400, /maxJobs must be >= 1/, 'maxJobs 0'),
  video({ prompt: 'x', maxJobs: 9 }, 400, /maxJobs must be <= 8/, 'maxJobs 9'),
  video({ prompt: 'x', email: 'nope' }, 400, /email/, 'email not an email'),
  video({ prompt: 'x', email: 'nobody@x.com' }, 404, /Account nobody@x\.com not found/, 'email unknown'),
  video(
    { prompt: 'x', model: 'v5', duration: 10 },
    400,
    /duration must be one of 5, 8 for model v5/,
    'v5 with duration 10',
  ),
  video(
    { prompt: 'x', model: 'v5.5', quality: '1080p', duration: 10 },
    400,
    /duration 10[\s\S]*1080p/,
    'v5.5 at 1080p with duration 10',
  ),
  video({ prompt: 'x', model: 'v5.6', duration: 6 }, 400, /duration/, 'v5.6 with duration 6'),
  video(
    { prompt: 'x', model: 'v6', motion_mode: 'fast' },
    400,
    /motion_mode fast[\s\S]*v6/,
    'motion_mode fast with v6',
  ),
  video(
    { prompt: 'x', model: 'v4', motion_mode: 'fast', duration: 8 },
    400,
    /motion_mode fast[\s\S]*duration 5/,
    'motion_mode fast with 8 s',
  ),
  video(
    { prompt: 'x', aspect_ratio: '16:9', first_frame_path: '{ffp}' },
    400,
    /aspect_ratio[\s\S]*first_frame_path/,
    'aspect_ratio with first_frame_path',
  ),
  video({ prompt: 'x', model: 'v5', aspect_ratio: '2:3' }, 400, /aspect_ratio 2:3/, '2:3 on v5'),
  video({ prompt: 'x', model: 'v5', audio: true }, 400, /audio/, 'audio on v5'),
  video({ prompt: 'x', model: 'v5.6', multi_shot: true }, 400, /multi_shot/, 'multi_shot on v5.6'),
  video(
    { prompt: 'x', model: 'seedance-2.0' },
    400,
    /seedance-2\.0[\s\S]*web app/,
    'web-only model seedance-2.0',
  ),
  video({ prompt: 'x', model: 'kling-v3' }, 400, /kling-v3[\s\S]*web app/, 'web-only model kling-v3'),
  video({ prompt: 'x', first_frame_path: 'garbage' }, 400, /first_frame_path/, 'first_frame_path garbage'),
  video(
    { prompt: 'x', first_frame_path: 'pixgate:video:123:a@x.com' },
    400,
    /first_frame_path[\s\S]*image/,
    'first_frame_path of a video',
  ),
  video(
    { prompt: 'x', first_frame_path: '{ffp}', email: 'a2@x.com' },
    400,
    /first_frame_path[\s\S]*a@x\.com/,
    'first_frame_path of another account than email',
  ),
  video(
    { prompt: 'x', first_frame_path: 'pixgate:image:123:nobody@x.com' },
    404,
    /Account nobody@x\.com not found/,
    'first_frame_path of an unknown account',
  ),
  video([], 400, /body must be a JSON object/, 'array body'),
  video([{ prompt: 'x' }], 400, /body must be a JSON object/, 'array of a valid body'),
  video('a red fox', 400, /body must be a JSON object/, 'string body'),
  video(42, 400, /body must be a JSON object/, 'number body'),
  videoRaw('null', 'application/json', 400, /body must be a JSON object/, 'null body'),
  videoRaw('', 'application/json', 400, /body must be a JSON object/, 'empty JSON body'),
  videoRaw('{"prompt": "x"', 'application/json', 400, /Malformed JSON/, 'truncated JSON'),
  videoRaw("{'prompt': 'x'}", 'application/json', 400, /Malformed JSON/, 'single-quoted JSON'),
  videoRaw('{"prompt":"x"}', 'text/plain', 400, /body must be a JSON object/, 'JSON sent as text/plain'),
  videoRaw(
    '--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n--b--',
    'multipart/form-data; boundary=b',
    415,
    /Content-Type multipart\/form-data[\s\S]*application\/json/,
    'multipart/form-data',
  ),
  videoRaw(
    '{"prompt":"x"}',
    'application/xml',
    415,
    /Content-Type application\/xml[\s\S]*application\/json/,
    'application/xml',
  ),
  videoRaw(
    '{"__proto__":{"polluted":1},"prompt":"x"}',
    'application/json',
    400,
    /unknown field "__proto__"/,
    '__proto__ key',
  ),
  videoRaw(
    JSON.stringify({ prompt: long(1024 * 1024 + 10) }),
    'application/json',
    413,
    /too large/,
    'body over 1 MB',
  ),
];

const image = (body: unknown, status: number, error: RegExp, name: string): Row => ({
  name: `images/create: ${name}`,
  method: 'POST',
  path: `${P}/images/create`,
  who: 'user',
  json: body,
  status,
  error,
});
// No Platform API operation behind them: 501 with the reason, whatever the body.
const imageRows: Row[] = [
  image(
    { prompt: 'x', model: 'dall-e-3' },
    501,
    /not available through the PixVerse Platform API/,
    'text-to-image is 501',
  ),
  image({}, 501, /text-to-image/, 'text-to-image is 501 without a body too'),
];

const music = (body: unknown, status: number, error: RegExp, name: string): Row => ({
  name: `music/create: ${name}`,
  method: 'POST',
  path: `${P}/music/create`,
  who: 'user',
  json: body,
  status,
  error,
});
const musicRows: Row[] = [
  music({ prompt: 'x' }, 501, /not available through the PixVerse Platform API/, 'music is 501'),
];

const get = (
  path: string,
  status: number,
  error: RegExp,
  name: string,
  method: Row['method'] = 'GET',
): Row => ({ name, method, path, who: 'user', status, error });
const readRows: Row[] = [
  get(`${P}/videos/garbage`, 400, /video_id "garbage"/, 'GET /videos/garbage'),
  get(
    `${P}/videos/user:{uid}-pixverse:a@x.com-image:123`,
    404,
    /not found/,
    'GET /videos/ with an unknown image id (image templates are read here too)',
  ),
  get(
    `${P}/videos/user:{uid}-pixverse:a@x.com-music:123`,
    400,
    /music id, not a video id/,
    'GET /videos/ with a music id',
  ),
  get(
    `${P}/videos/user:{uid}-pixverse:a@x.com-video:abc`,
    400,
    /video_id/,
    'GET /videos/ with a non-numeric tail',
  ),
  get(`${P}/videos/user%3Agarbage`, 400, /video_id/, 'GET /videos/ percent-encoded garbage'),
  get(`${P}/videos/%ZZ`, 400, /percent-encoding/, 'GET /videos/ invalid percent-encoding'),
  get(`${P}/videos/%E0%A4%A`, 400, /percent-encoding/, 'GET /videos/ truncated UTF-8 escape'),
  get(`${P}/videos/${long(1201, 'a')}`, 414, /1200/, 'GET /videos/ over-long id'),
  get(
    `${P}/videos/user:{uid}-pixverse:a@x.com-video:424242`,
    404,
    /Video .* not found/,
    'GET /videos/ unknown id',
  ),
  get(
    `${P}/videos/user:{other}-pixverse:a@x.com-video:424242`,
    403,
    /user:{other}/,
    "GET /videos/ another user's id",
  ),
  get(`${P}/images/garbage`, 400, /image_id "garbage"/, 'GET /images/garbage'),
  get(
    `${P}/images/user:{uid}-pixverse:a@x.com-video:123`,
    400,
    /video id, not a image id/,
    'GET /images/ with a video id',
  ),
  get(`${P}/images/user:{uid}-pixverse:a@x.com-image:424242`, 404, /not found/, 'GET /images/ unknown id'),
  get(`${P}/music/garbage`, 400, /audio_id "garbage"/, 'GET /music/garbage'),
  get(
    `${P}/music/user:{uid}-pixverse:a@x.com-image:123`,
    400,
    /image id, not a music id/,
    'GET /music/ with an image id',
  ),
  get(`${P}/music/user:{uid}-pixverse:a@x.com-music:424242`, 404, /not found/, 'GET /music/ unknown id'),
  get(`${P}/speech`, 501, /not available through the PixVerse Platform API/, 'GET /speech is 501'),
  get(
    `${P}/speech/user:{uid}-pixverse:a@x.com-music:1`,
    501,
    /not available through the PixVerse Platform API/,
    'GET /speech/{id} is 501',
  ),
  get(`${P}/videos?limit=0`, 400, /limit/, 'GET /videos limit 0'),
  get(`${P}/videos?limit=abc`, 400, /limit/, 'GET /videos limit not a number'),
  get(`${P}/images?offset=-1`, 400, /offset/, 'GET /images negative offset'),
  get(`${P}/music?page=2`, 400, /page/, 'GET /music unknown query field'),
  get(`${P}/videos/garbage`, 400, /video_id "garbage"/, 'DELETE /videos/garbage', 'DELETE'),
  get(
    `${P}/videos/user:{uid}-pixverse:a@x.com-image:123`,
    400,
    /image id, not a video id/,
    'DELETE /videos/ with an image id',
    'DELETE',
  ),
  get(
    `${P}/videos/user:{uid}-pixverse:a@x.com-video:424242`,
    404,
    /Video .* not found/,
    'DELETE /videos/ unknown id',
    'DELETE',
  ),
  get(
    `${P}/videos/user:{other}-pixverse:a@x.com-video:424242`,
    403,
    /user:{other}/,
    "DELETE /videos/ another user's id",
    'DELETE',
  ),
  get(
    `${P}/images/user:{uid}-pixverse:a@x.com-image:424242`,
    404,
    /Image .* not found/,
    'DELETE /images/ unknown id',
    'DELETE',
  ),
  get(`${P}/scheduler/garbage`, 400, /id "garbage"/, 'DELETE /scheduler/garbage', 'DELETE'),
  get(
    `${P}/scheduler/user:{uid}-pixverse:a@x.com-video:1?callback=maybe`,
    400,
    /callback/,
    'DELETE /scheduler/ callback not a boolean',
    'DELETE',
  ),
  get(`${P}/scheduler/%ZZ`, 400, /percent-encoding/, 'DELETE /scheduler/ invalid percent-encoding', 'DELETE'),
  get(
    `${P}/scheduler/user%3A{uid}-pixverse%3Agarbage`,
    400,
    /not a valid job id/,
    'DELETE /scheduler/ percent-encoded garbage',
    'DELETE',
  ),
  get(
    `${P}/scheduler/user:{uid}-pixverse:a@x.com-video:424242`,
    404,
    /^Unable to locate running user:{uid}-pixverse:a@x\.com-video:424242$/,
    'DELETE /scheduler/ unknown id',
    'DELETE',
  ),
  get(
    `${P}/scheduler/user:{other}-pixverse:a@x.com-video:424242`,
    403,
    /user:{other}/,
    "DELETE /scheduler/ another user's id",
    'DELETE',
  ),
  get(`${P}/nope`, 404, /not found/, 'unknown route under /v2/pixverse'),
];

const ROWS: Row[] = [
  ...authRows,
  ...adminRows,
  ...tenantRows,
  ...accountRows,
  ...fileRows,
  ...videoRows,
  ...imageRows,
  ...musicRows,
  ...readRows,
];

/** Every failure must be exactly useapi's envelope (extra keys only for known extensions). */
function assertEnvelope(res: Reply, status: number, context: string): void {
  // 501 is the one deliberate 5xx: a route with no Platform API operation behind it.
  assert.ok(
    res.status < 500 || (res.status === 501 && status === 501),
    `${context}: got ${res.status} ${JSON.stringify(res.body)}`,
  );
  assert.equal(res.status, status, `${context}: status ${res.status} body ${JSON.stringify(res.body)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `${context}: content-type`);
  const body = res.body as Record<string, unknown>;
  assert.ok(
    body !== null && typeof body === 'object' && !Array.isArray(body),
    `${context}: body ${JSON.stringify(body)}`,
  );
  assert.equal(
    typeof body['error'],
    'string',
    `${context}: error must be a string, got ${JSON.stringify(body)}`,
  );
  assert.ok((body['error'] as string).length > 0, `${context}: empty error`);
  assert.equal(body['code'], status, `${context}: code must equal the status, got ${JSON.stringify(body)}`);
  assert.doesNotMatch(body['error'] as string, /\n\s+at |node_modules/, `${context}: error leaks a stack`);
}

describe('bad input on every route', () => {
  let h: Harness;
  const vars: Record<string, string> = {};
  const tokens: Record<'user' | 'admin' | 'empty', string> = { user: '', admin: '', empty: '' };

  before(async () => {
    h = await startHarness();
    const tenant = await createTenant(h, 'bad-input');
    const empty = await createTenant(h, 'no-accounts');
    await addAccount(h, tenant.token, 'a@x.com', KEY_A, 8);
    await addAccount(h, tenant.token, 'a2@x.com', KEY_A2, 8);
    tokens.user = tenant.token;
    tokens.admin = h.gw.adminToken;
    tokens.empty = empty.token;
    const upload = await call(h.gw.url, 'POST', `${P}/files?email=a@x.com`, tenant.token, PNG, {
      'content-type': 'image/png',
    });
    assert.equal(upload.status, 200, JSON.stringify(upload.body));
    vars['uid'] = String(tenant.userId);
    vars['other'] = String(tenant.userId + 1000);
    vars['ffp'] = upload.body.result[0].path;
  });
  after(async () => {
    await h?.close();
  });

  const fill = (text: string) => text.replace(/\{(uid|other|ffp)\}/g, (_, name: string) => vars[name]!);

  it('covers every route of the brief with at least one bad-input row (besides auth)', () => {
    const nonAuth = [
      ...adminRows,
      ...tenantRows,
      ...accountRows,
      ...fileRows,
      ...videoRows,
      ...imageRows,
      ...musicRows,
      ...readRows,
    ];
    const shape = (method: string, path: string) =>
      `${method} ${path
        .split('?')[0]!
        .replace(/\/(users)\/[^/]+/, '/$1/:u')
        .replace(/\/tokens\/[^/]+/, '/tokens/:t')
        .replace(/\/(accounts|videos|images|music|scheduler)\/(?!create$|available$).+$/, '/$1/:x')}`;
    const covered = new Set(nonAuth.map((r) => shape(r.method, r.path)));
    for (const route of ROUTES) {
      if (
        route.method === 'GET' &&
        (route.path.endsWith('/scheduler') ||
          route.path.endsWith('/scheduler/available') ||
          route.path.endsWith('/v2/account') ||
          route.path === '/admin/users')
      )
        continue; // auth is their only failure
      assert.ok(covered.has(shape(route.method, route.path)), `no row for ${route.method} ${route.path}`);
    }
  });

  for (const row of ROWS) {
    it(row.name, async () => {
      const headers: Record<string, string> = {};
      let token: string | null = null;
      if (typeof row.who === 'object') headers['authorization'] = row.who.header;
      else if (row.who !== 'none') token = tokens[row.who];
      let body: unknown;
      if (row.raw !== undefined) {
        body = typeof row.raw === 'string' ? fill(row.raw) : row.raw;
        if (row.contentType) headers['content-type'] = row.contentType;
      } else if (row.json !== undefined) {
        body = JSON.parse(fill(JSON.stringify(row.json)));
        // call() only serialises objects; strings and numbers are sent as JSON text too.
        if (typeof body !== 'object' || body === null) body = JSON.stringify(body);
        headers['content-type'] = row.contentType ?? 'application/json';
      }
      const res = await call(h.gw.url, row.method, fill(row.path), token, body, headers);
      assertEnvelope(res, row.status, row.name);
      assert.match(
        res.body.error,
        new RegExp(fill(row.error.source), row.error.flags),
        `${row.name}: error text`,
      );
      if (row.error === UNAUTHORIZED) assert.deepEqual(res.body, { error: 'Unauthorized', code: 401 });
    });
  }

  it('rejected requests changed nothing: no job was started and the accounts are intact', async () => {
    const available = await call(h.gw.url, 'GET', `${P}/scheduler/available`, tokens.user);
    assert.equal(available.status, 200);
    assert.deepEqual(available.body.executing, []);
    assert.deepEqual(
      available.body.available.map((r: { email: string; maxJobs: number }) => [r.email, r.maxJobs]).sort(),
      [
        ['a2@x.com', 8],
        ['a@x.com', 8],
      ],
    );
    const stats = h.sim.stats();
    assert.equal(stats.totals.created, 0, 'no bad request may reach PixVerse as a create');
  });

  describe('property: random JSON never yields a 5xx or a broken envelope', () => {
    const anything = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(0, -0, 1e308, -1e308, 2 ** 31, 2 ** 53 + 1, 0.5, true, false, null, '', 'a@x.com'),
      fc.string({ unit: 'binary', maxLength: 40 }),
    );
    /** Mostly well-typed values per field (so requests reach the mapping and admission code), sometimes anything. */
    const typed = (values: fc.Arbitrary<unknown>) =>
      fc.oneof({ arbitrary: values, weight: 24 }, { arbitrary: anything, weight: 1 });
    const text = fc.string({ minLength: 1, maxLength: 30 });
    const common = {
      email: typed(fc.constantFrom('a@x.com', 'A@X.COM', 'nobody@x.com', 'a2@x.com')),
      replyUrl: typed(fc.constantFrom('https://example.com/h', 'http://127.0.0.1:9/x')),
      replyRef: typed(fc.string({ maxLength: 40 })),
      maxJobs: typed(fc.integer({ min: 0, max: 9 })),
    };
    const paths = fc.constantFrom(
      'pixgate:image:1:a@x.com',
      'pixgate:image:99999999999999999999999999999:a@x.com',
      'pixgate:video:1:a@x.com',
      'pixgate:image:1:nobody@x.com',
      'x',
    );
    const FIELDS: Record<string, Record<string, fc.Arbitrary<unknown>>> = {
      video: {
        prompt: typed(text),
        model: typed(
          fc.constantFrom(
            'v6',
            'v5.6',
            'v5.5',
            'v5',
            'v4.5',
            'v4',
            'v3.5',
            'c1',
            'pixverse-c1',
            'seedance-2.0',
            'v5-fast',
            'v7',
          ),
        ),
        first_frame_path: typed(paths),
        duration: typed(fc.integer({ min: 0, max: 16 })),
        quality: typed(fc.constantFrom('360p', '540p', '720p', '1080p', '4k')),
        aspect_ratio: typed(
          fc.constantFrom('16:9', '4:3', '1:1', '3:4', '9:16', '2:3', '3:2', '21:9', '5:4'),
        ),
        seed: typed(fc.integer({ min: -1, max: 2 ** 31 })),
        negative_prompt: typed(fc.string({ maxLength: 30 })),
        motion_mode: typed(fc.constantFrom('normal', 'fast', 'slow')),
        audio: typed(fc.boolean()),
        multi_shot: typed(fc.boolean()),
        ...common,
      },
      account: {
        email: typed(fc.constantFrom('fuzz@x.com', 'FUZZ@x.com', 'other@x.com', 'x')),
        apiKey: typed(fc.constantFrom('pk-fuzz-0123456789', 'sim-invalid-0123456789', 'short', '')),
        maxJobs: typed(fc.integer({ min: 0, max: 9 })),
        password: typed(fc.string({ maxLength: 12 })),
        token: typed(fc.string({ maxLength: 12 })),
      },
    };
    const bodyFor = (kind: string) => {
      const fields = FIELDS[kind]!;
      const keys = Object.keys(fields);
      return fc.oneof(
        { arbitrary: fc.record(fields, { requiredKeys: kind === 'account' ? [] : ['prompt'] }), weight: 5 },
        { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 1 },
        {
          arbitrary: fc.dictionary(
            fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 12 })),
            fc.jsonValue({ maxDepth: 2 }),
            { maxKeys: 6 },
          ),
          weight: 1,
        },
      );
    };
    const ROUTES_UNDER_TEST: [string, string][] = [
      [`${P}/videos/create`, 'video'],
      [`${P}/accounts/fuzz@x.com`, 'account'],
    ];

    for (const [path, kind] of ROUTES_UNDER_TEST) {
      it(`POST ${path}`, async () => {
        const fuzz = await createTenant(h, `fuzz ${path}`);
        await addAccount(h, fuzz.token, 'a@x.com', KEY_A, 8);
        await addAccount(h, fuzz.token, 'a2@x.com', KEY_A2, 2);
        const check = async (text: string) => {
          const res = await call(h.gw.url, 'POST', path, fuzz.token, text, {
            'content-type': 'application/json',
          });
          const context = `POST ${path} ${text.slice(0, 300)} → ${res.status} ${JSON.stringify(res.body)?.slice(0, 300)}`;
          assert.ok(res.status < 500, context);
          if (res.status >= 300) {
            assertEnvelope(res, res.status, context);
          } else {
            assert.ok([200, 201].includes(res.status), context);
            assert.equal(typeof res.body, 'object', context);
          }
        };
        await fc.assert(
          fc.asyncProperty(bodyFor(kind), (value) => check(JSON.stringify(value) ?? 'null')),
          { numRuns: 60 },
        );
        // Raw text in a JSON-typed request: almost always malformed JSON.
        await fc.assert(
          fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 60 }), (text) => check(text)),
          { numRuns: 15 },
        );
      });
    }
  });
});
