/**
 * HTTP front of the simulator (node:http, no framework): routing, random front-door failures,
 * API-KEY and Ai-trace-id checks, bounded body reading, and a catch-all so no input can crash the
 * process.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { API_PREFIX } from './api.ts';
import { handleControl } from './control.ts';
import { Engine } from './engine.ts';
import { ERR, SimError, errorText } from './envelope.ts';
import { NoReply, RawReply, ResetReply, randomFrontFailure } from './faults.ts';
import { header, readBody, sendReply } from './http-io.ts';
import {
  resolveOptions,
  type ResolvedOptions,
  type RunningSimulator,
  type SimulatorOptions,
} from './options.ts';
import { findRoute } from './routes.ts';
import { MEDIA_PREFIX } from './media.ts';

const CONTROL_BODY_LIMIT = 64 * 1024;
const JSON_TYPE = 'application/json; charset=utf-8';
/** Upload bodies (multipart, up to 50 MB) are not copied into recorded requests. */
const MAX_RECORDED_BODY = 1024 * 1024;

interface Outcome {
  status: number;
  text: string;
  code: number | string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Leave the request unanswered (#sim:timeout). */
  hang?: boolean;
  /** A binary reply (media files) instead of `text`. */
  body?: Buffer;
  /** Reset the connection instead of answering (#sim:reset). */
  reset?: boolean;
}

async function dispatch(engine: Engine, options: ResolvedOptions, req: IncomingMessage): Promise<Outcome> {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://sim.invalid');
  } catch {
    url = new URL('http://sim.invalid/');
  }
  const path = url.pathname;
  const method = req.method ?? 'GET';

  if (path.startsWith(MEDIA_PREFIX)) {
    req.resume();
    return media(engine, method, path);
  }
  if (path.startsWith('/_sim/')) {
    const { body, overflow } = await readBody(req, CONTROL_BODY_LIMIT);
    const control = overflow ? null : handleControl(engine, method, path, body.toString('utf8'));
    if (control) return { ...control, code: control.status };
    return { status: 404, text: JSON.stringify({ error: 'not found' }), code: 404 };
  }

  const found = path.startsWith(`${API_PREFIX}/`) ? findRoute(method, path.slice(API_PREFIX.length)) : null;
  if (!found) {
    req.resume();
    return fail(new SimError(ERR.notFound, 'requested data not found: no such endpoint', 404));
  }
  // A rate limiter or proxy in front of the API answers before PixVerse sees the request.
  const front = randomFrontFailure(options, engine.faultRng);
  if (front) {
    req.resume();
    return raw(front);
  }
  // Auth before trace id: an unknown key is the more fundamental problem to report.
  const key = header(req, 'api-key');
  if (!engine.isValidKey(key)) {
    req.resume();
    return fail(new SimError(ERR.invalidAccount));
  }
  const traceId = header(req, 'ai-trace-id');
  if (!traceId) {
    req.resume();
    return fail(new SimError(ERR.emptyParam, 'empty parameter: Ai-trace-id'));
  }
  const { route, params } = found;
  const { body, overflow } = await readBody(req, route.bodyLimit);
  if (overflow) return fail(route.tooLarge);
  options.onRequest?.({
    method,
    path: path.slice(API_PREFIX.length),
    query: Object.fromEntries(url.searchParams),
    apiKey: key,
    traceId,
    contentType: header(req, 'content-type'),
    body: route.bodyLimit > MAX_RECORDED_BODY ? '' : body.toString('utf8'),
  });
  try {
    const text = await route.handle(engine, {
      account: engine.account(key),
      traceId,
      body,
      contentType: header(req, 'content-type'),
      query: url.searchParams,
      params,
    });
    return { status: 200, text, code: 0 };
  } catch (err) {
    if (err instanceof SimError) return fail(err);
    if (err instanceof RawReply) return raw(err);
    if (err instanceof NoReply) return { status: 0, text: '', code: 'no-reply', hang: true };
    if (err instanceof ResetReply) return { status: 0, text: '', code: 'reset', hang: true, reset: true };
    throw err;
  }
}

/** GET (or HEAD) of a completed job's result file; 404 for anything else. */
function media(engine: Engine, method: string, path: string): Outcome {
  const file = method === 'GET' || method === 'HEAD' ? engine.mediaFile(path, Date.now()) : null;
  if (!file) return { status: 404, text: JSON.stringify({ error: 'not found' }), code: 404 };
  return { status: 200, text: '', body: file.body, code: 200, contentType: file.contentType };
}

function fail(err: SimError): Outcome {
  return { status: err.httpStatus, text: errorText(err), code: err.code };
}

function raw(reply: RawReply): Outcome {
  return {
    status: reply.status,
    text: reply.text,
    code: reply.status,
    contentType: reply.contentType,
    headers: reply.headers,
  };
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const resolved = resolveOptions(options);
  const engine = new Engine(resolved);
  const log = resolved.logger;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    dispatch(engine, resolved, req)
      .catch((err: unknown): Outcome => {
        // A bug or a broken connection must cost one request, never the process.
        const message = err instanceof Error ? err.message : String(err);
        return fail(new SimError(ERR.unknown, `unknown error: ${message}`, 500));
      })
      .then((out) => {
        // An unanswered request stays open until the client gives up or close() drops it.
        if (out.reset) req.socket.resetAndDestroy();
        else if (!out.hang)
          sendReply(res, out.status, out.contentType ?? JSON_TYPE, out.body ?? out.text, out.headers);
        if (log) {
          const ms = (performance.now() - started).toFixed(1);
          log(`${req.method} ${req.url} -> ${out.hang ? 'no reply' : out.status} code=${out.code} ${ms}ms`);
        }
      })
      .catch(() => res.destroy());
  };

  const server = createServer(onRequest);
  // Malformed HTTP (bad request line, oversized headers): answer 400 and drop the socket.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(resolved.port, resolved.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host;
  // Listening on every interface: result URLs name loopback, which reaches it from this machine.
  const mediaHost = resolved.host === '0.0.0.0' ? '127.0.0.1' : resolved.host === '::' ? '[::1]' : hostForUrl;
  engine.mediaBase = `http://${mediaHost}:${port}`;
  log?.(`pixverse simulator listening on http://${hostForUrl}:${port} (seed ${resolved.seed})`);

  let closing: Promise<void> | null = null;
  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    stats: () => engine.stats(Date.now()),
    setKeyLimit: (key, limit) => engine.setLimit(key, limit),
    deleteJob: (id) => engine.deleteJob(id, Date.now()),
    createWebhook: (config) => engine.webhooks.create(config),
    listWebhooks: () => engine.webhooks.list(),
    deleteWebhook: (id) => engine.webhooks.remove(String(id)),
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        // First, so no delivery starts (or is retried) while the server drains.
        engine.close();
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive sockets (and requests left unanswered) would otherwise hold close() open.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
