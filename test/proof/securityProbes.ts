/**
 * Helpers of the security proof suite: raw-socket clients that misbehave on purpose (slow headers,
 * slow bodies, oversized bodies announced but never sent), the route list from the OpenAPI
 * document, and greps over files for secrets.
 */
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';

export interface Route {
  method: string;
  path: string;
}

/** Every documented route, from the gateway's own OpenAPI document. */
export async function documentedRoutes(base: string): Promise<Route[]> {
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { security?: unknown[] }>>;
  };
  // Operations documented with `security: []` take no token on purpose (probes, the PixVerse
  // webhook); the matrix is over the ones that do.
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([, op]) => !(Array.isArray(op.security) && op.security.length === 0))
      .map(([method]) => ({ method: method.toUpperCase(), path })),
  );
}

/** Resolves when the server closes the socket (or it errors), with the ms it stayed open. */
export function closedAfter(socket: Socket, started: number): Promise<number> {
  return new Promise((resolve) => {
    const done = () => resolve(Date.now() - started);
    socket.once('close', done);
    socket.once('error', () => undefined);
  });
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * A client that sends complete headers announcing a body, then one byte every `dripMs`: before the
 * request timeout existed such a connection was never closed.
 */
export async function slowBodyClient(
  port: number,
  path: string,
  headers: Record<string, string>,
  dripMs: number,
): Promise<{ socket: Socket; closed: Promise<number> }> {
  const socket = await open(port);
  const started = Date.now();
  const closed = closedAfter(socket, started);
  // Announced length under every route's body limit: the server must wait for the body, not refuse it.
  const lines = Object.entries({
    host: '127.0.0.1',
    'content-type': 'application/json',
    'content-length': '4000',
    ...headers,
  }).map(([k, v]) => `${k}: ${v}`);
  socket.write(`POST ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n{`);
  const timer = setInterval(() => socket.writable && socket.write(' '), dripMs);
  void closed.then(() => clearInterval(timer));
  return { socket, closed };
}

/** A client that never finishes its headers (one header line every `dripMs`). */
export async function slowHeaderClient(
  port: number,
  dripMs: number,
): Promise<{ socket: Socket; closed: Promise<number> }> {
  const socket = await open(port);
  const started = Date.now();
  const closed = closedAfter(socket, started);
  socket.write('GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n');
  let n = 0;
  const timer = setInterval(() => socket.writable && socket.write(`x-drip-${n++}: 1\r\n`), dripMs);
  void closed.then(() => clearInterval(timer));
  return { socket, closed };
}

/**
 * Sends only the headers of a request announcing `contentLength` bytes and returns the status the
 * server answers without the body (null if it waits for the body until `waitMs`).
 */
export async function answerWithoutBody(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  contentLength: number,
  waitMs = 3_000,
): Promise<number | null> {
  const socket = await open(port);
  const lines = Object.entries({
    host: '127.0.0.1',
    'content-length': String(contentLength),
    ...headers,
  }).map(([k, v]) => `${k}: ${v}`);
  socket.write(`${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => finish(null), waitMs);
    const finish = (status: number | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(status);
    };
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (match) finish(Number(match[1]));
    });
    socket.on('error', () => finish(null));
    socket.on('close', () => finish(null));
  });
}

/** PixVerse's webhook signature (see providers/pixverse/upstream/webhook.ts): sorted form pairs. */
export function signPixverse(
  secret: string,
  timestamp: string,
  nonce: string,
  body: Record<string, string | number>,
): string {
  const pairs = Object.keys(body)
    .sort()
    .map((k) => [k, String(body[k])] as [string, string]);
  return createHmac('sha256', secret)
    .update(`${timestamp}\n${nonce}\n${new URLSearchParams(pairs).toString()}`)
    .digest('base64');
}

/** Every regular file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** The secrets (by label) whose text occurs in the file. */
export function secretsIn(path: string, secrets: Record<string, string>): string[] {
  const text = readFileSync(path).toString('latin1');
  return Object.entries(secrets)
    .filter(([, secret]) => secret.length >= 8 && text.includes(secret))
    .map(([label]) => label);
}

export function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}
