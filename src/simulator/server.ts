/**
 * HTTP front of the simulator (node:http, no framework): routing, API-KEY and Ai-trace-id checks,
 * bounded body reading, and a catch-all so no input can crash the process.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { API_PREFIX, findRoute } from './api.ts';
import { handleControl } from './control.ts';
import { Engine } from './engine.ts';
import { ERR, SimError, errorText } from './envelope.ts';
import { header, readBody, sendJson } from './http-io.ts';
import { resolveOptions, type RunningSimulator, type SimulatorOptions } from './options.ts';

const CONTROL_BODY_LIMIT = 64 * 1024;

interface Outcome {
  status: number;
  text: string;
  code: number | string;
}

async function dispatch(engine: Engine, req: IncomingMessage): Promise<Outcome> {
  let path: string;
  try {
    path = new URL(req.url ?? '/', 'http://sim.invalid').pathname;
  } catch {
    path = '';
  }
  const method = req.method ?? 'GET';

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
  try {
    const text = await route.handle(engine, {
      account: engine.account(key),
      traceId,
      body,
      contentType: header(req, 'content-type'),
      params,
    });
    return { status: 200, text, code: 0 };
  } catch (err) {
    if (err instanceof SimError) return fail(err);
    throw err;
  }
}

function fail(err: SimError): Outcome {
  return { status: err.httpStatus, text: errorText(err), code: err.code };
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const resolved = resolveOptions(options);
  const engine = new Engine(resolved);
  const log = resolved.logger;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    dispatch(engine, req)
      .catch((err: unknown): Outcome => {
        // A bug or a broken connection must cost one request, never the process.
        const message = err instanceof Error ? err.message : String(err);
        return fail(new SimError(ERR.unknown, `unknown error: ${message}`, 500));
      })
      .then((out) => {
        sendJson(res, out.status, out.text);
        if (log) {
          const ms = (performance.now() - started).toFixed(1);
          log(`${req.method} ${req.url} -> ${out.status} code=${out.code} ${ms}ms`);
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
  log?.(`pixverse simulator listening on http://${hostForUrl}:${port} (seed ${resolved.seed})`);

  let closing: Promise<void> | null = null;
  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    stats: () => engine.stats(Date.now()),
    setKeyLimit: (key, limit) => engine.setLimit(key, limit),
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive sockets would otherwise hold close() open until they time out.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
