/** Shared helpers for the simulator tests: a started simulator per test and a tiny API client. */
import { randomUUID } from 'node:crypto';
import { parse } from 'lossless-json';
import type { TestContext } from 'node:test';
import {
  startSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../src/providers/pixverse/simulator/index.ts';

/**
 * A webhook every test simulator has registered, as an account's console would: a create naming an
 * unregistered webhook_id is refused, and the tables of valid requests send this one. Nothing
 * listens at its URL; a test that needs deliveries registers its own receiver.
 */
export const FIXTURE_WEBHOOK = {
  webhook_id: 'wh-1',
  url: 'http://127.0.0.1:9/unused',
  secret: 'fixture-secret',
};

/** Starts a simulator that is closed when the test ends (pass or fail). */
export async function sim(t: TestContext, options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const running = await startSimulator({ seed: 42, webhooks: [FIXTURE_WEBHOOK], ...options });
  t.after(() => running.close());
  return running;
}

export interface Answer {
  status: number;
  text: string;
  /** Parsed body; integers of 12+ digits (ids) are kept as decimal strings, others are numbers. */
  body: any;
  code: number;
  resp: any;
}

export function losslessBody(text: string): any {
  return parse(text, null, (digits) => (/^\d{12,}$/.test(digits) ? digits : Number(digits)));
}

export interface CallOptions {
  method?: string;
  key?: string | null;
  trace?: string | null;
  json?: unknown;
  /** Raw JSON text, for sending ids as integers beyond 2^53 or malformed bodies. */
  raw?: string;
  /** A body whose 12+ digit strings (ids) are written as bare JSON integers. */
  ids?: unknown;
  form?: FormData;
}

export async function call(s: RunningSimulator, path: string, opts: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  const key = opts.key === undefined ? 'key-a' : opts.key;
  const trace = opts.trace === undefined ? randomUUID() : opts.trace;
  if (key !== null) headers['API-KEY'] = key;
  if (trace !== null) headers['Ai-trace-id'] = trace;
  let body: string | FormData | undefined;
  if (opts.form) body = opts.form;
  else if (opts.raw !== undefined || opts.json !== undefined || opts.ids !== undefined) {
    headers['content-type'] = 'application/json';
    body = opts.raw ?? (opts.ids !== undefined ? idJson(opts.ids) : JSON.stringify(opts.json));
  }
  const method = opts.method ?? (body === undefined ? 'GET' : 'POST');
  const res = await fetch(`${s.url}/openapi/v2${path}`, { method, headers, body });
  const text = await res.text();
  const parsed = losslessBody(text);
  return {
    status: res.status,
    text,
    body: parsed,
    code: parsed.ErrCode ?? parsed.err_code,
    resp: parsed.Resp ?? parsed.resp,
  };
}

export const TEXT_VIDEO = {
  prompt: 'a red fox in snow',
  model: 'v5',
  duration: 5,
  quality: '540p',
  aspect_ratio: '16:9',
};

export function textVideo(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...TEXT_VIDEO, ...overrides };
}

export async function createVideo(
  s: RunningSimulator,
  overrides: Record<string, unknown> = {},
  opts: CallOptions = {},
): Promise<Answer> {
  return call(s, '/video/text/generate', { json: textVideo(overrides), ...opts });
}

export async function stats(s: RunningSimulator): Promise<any> {
  const res = await fetch(`${s.url}/_sim/stats`);
  return res.json();
}

export async function balance(s: RunningSimulator, key = 'key-a'): Promise<{ monthly: number; pkg: number }> {
  const a = await call(s, '/account/balance', { key });
  return { monthly: a.resp.credit_monthly, pkg: a.resp.credit_package };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls a result until its status leaves 5 (or the deadline passes). */
export async function waitFinal(
  s: RunningSimulator,
  kind: 'video' | 'image' | 'music',
  id: string,
  opts: CallOptions = {},
  deadlineMs = 10_000,
): Promise<Answer> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const a = await call(s, `/${kind}/result/${id}`, opts);
    if (a.code !== 0 || a.resp.status !== 5 || Date.now() > until) return a;
    await sleep(20);
  }
}

/**
 * Timing guard for "still in progress" assertions: they only hold if the answer arrived before the
 * job could have ended. On a heavily loaded machine the window may pass, and the check is skipped
 * rather than flaking (the final-state assertions still run).
 */
export function withinWindow(since: number, windowMs: number): boolean {
  return Date.now() - since < windowMs;
}

/** Polls /_sim/stats until `ready` holds (or the deadline passes), returning the last stats. */
export async function statsWhen(
  s: RunningSimulator,
  ready: (st: any) => boolean,
  deadlineMs = 10_000,
): Promise<any> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const st = await stats(s);
    if (ready(st) || Date.now() > until) return st;
    await sleep(20);
  }
}

/** A tiny valid PNG header (enough for the simulator's magic-byte sniffing). */
export const PNG_BYTES = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

export function pngForm(
  field = 'image',
  type = 'image/png',
  bytes: Uint8Array = PNG_BYTES,
  name = 'pic.png',
): FormData {
  const form = new FormData();
  form.append(field, new Blob([new Uint8Array(bytes)], { type }), name);
  return form;
}

/** JSON text with every 12+ digit string written as a bare integer (how PixVerse ids travel). */
export function idJson(value: unknown): string {
  return JSON.stringify(value).replace(/"(\d{12,})"/g, '$1');
}

export async function uploadImage(s: RunningSimulator, key = 'key-a'): Promise<string> {
  const a = await call(s, '/image/upload', { form: pngForm(), key });
  if (a.code !== 0) throw new Error(`image upload failed: ${a.text}`);
  return String(a.resp.img_id);
}

export async function uploadMedia(
  s: RunningSimulator,
  kind: 'video' | 'audio',
  key = 'key-a',
): Promise<string> {
  const form = new FormData();
  form.append(
    'file_url',
    kind === 'video' ? 'https://example.com/clip.mp4' : 'https://example.com/voice.mp3',
  );
  const a = await call(s, '/media/upload', { form, key });
  if (a.code !== 0) throw new Error(`media upload failed: ${a.text}`);
  return String(a.resp.media_id);
}

/** A text-to-video that has completed (status 1), for the editing endpoints. */
export async function completedVideo(
  s: RunningSimulator,
  overrides: Record<string, unknown> = {},
  key = 'key-a',
): Promise<string> {
  const prompt = `${String(overrides.prompt ?? 'source clip')} #sim:duration=1`;
  const a = await createVideo(s, { ...overrides, prompt }, { key });
  if (a.code !== 0) throw new Error(`create failed: ${a.text}`);
  const done = await waitFinal(s, 'video', a.resp.video_id, { key });
  if (done.resp.status !== 1) throw new Error(`source did not complete: ${done.text}`);
  return String(a.resp.video_id);
}

export async function deleteJob(
  s: RunningSimulator,
  id: string,
  kind: 'videos' | 'images' | 'music' = 'videos',
): Promise<number> {
  const res = await fetch(`${s.url}/_sim/${kind}/${id}/delete`, { method: 'POST' });
  await res.text();
  return res.status;
}
