/**
 * Bench child: the PixVerse simulator on an ephemeral loopback port.
 *   --max-concurrent N       default per-key limit
 *   --key-limit PREFIX=N     limit for keys PREFIX0..PREFIX(count-1) (with --key-count)
 *   --key-count N
 *   --duration 50ms..150ms   uniform job duration range (default when --time-scale is not given)
 *   --time-scale F           model-based lognormal durations (per quality) × F instead of --duration
 *   --trace                  record every API create and result poll (see below)
 *
 * With --trace, each /openapi/v2 response is recorded as it is sent: time (this process's clock,
 * sub-millisecond), API key, kind (create / refused create / poll), the job id, the polled status,
 * the `job-<n>` label of the create's prompt, and an instance tag. A gateway instance whose
 * upstream URL is `<sim>/gw-<tag>` is told apart by that path prefix (stripped before the
 * simulator sees the request). `GET /_bench/trace` returns the records, `POST /_bench/trace/clear`
 * drops them. The simulator itself is unchanged: the recording wraps its request listener.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import { announce, flags, onShutdown } from './lifecycle.ts';

const args = flags();

/** Columnar trace, cheap to append and to serialise. */
interface Trace {
  t: number[];
  /** 'c' accepted create, 'x' refused create, 'p' result poll, 'o' anything else */
  kind: string[];
  key: string[];
  tag: string[];
  id: string[];
  /** poll: the job's status; create: ErrCode */
  status: number[];
  /** job-<n> label of the create's prompt, -1 when none */
  job: number[];
}

const trace: Trace = { t: [], kind: [], key: [], tag: [], id: [], status: [], job: [] };
/** Webhook attempts by outcome ("ok", "HTTP 409", "no answer"), since the last clear. */
const webhookOutcomes: Record<string, number> = {};
const labels = new Map<string, number>();
const now = () => performance.timeOrigin + performance.now();

function clearTrace(): void {
  for (const column of Object.values(trace) as unknown[][]) column.length = 0;
  labels.clear();
  for (const key of Object.keys(webhookOutcomes)) delete webhookOutcomes[key];
}

function record(req: IncomingMessage, res: ServerResponse, tag: string, text: string): void {
  const path = req.url ?? '';
  const key = String(req.headers['api-key'] ?? '');
  let kind = 'o';
  let id = '';
  let status = -1;
  let job = -1;
  const code = /"ErrCode":\s*(-?\d+)/.exec(text);
  if (req.method === 'POST' && path.endsWith('/generate')) {
    const trace = String(req.headers['ai-trace-id'] ?? '');
    job = labels.get(trace) ?? -1;
    labels.delete(trace);
    const created = /"(?:video|image|audio)_id":\s*(\d+)/.exec(text);
    kind = res.statusCode === 200 && code?.[1] === '0' && created ? 'c' : 'x';
    id = created?.[1] ?? '';
    status = code ? Number(code[1]) : res.statusCode;
  } else if (req.method === 'GET' && path.includes('/result/')) {
    kind = 'p';
    id = path.slice(path.lastIndexOf('/') + 1).split('?')[0]!;
    const s = /"status":\s*(\d+)/.exec(text);
    status = s ? Number(s[1]) : -res.statusCode;
  }
  trace.t.push(now());
  trace.kind.push(kind);
  trace.key.push(key);
  trace.tag.push(tag);
  trace.id.push(id);
  trace.status.push(status);
  trace.job.push(job);
}

function wrap(listener: http.RequestListener): http.RequestListener {
  return (req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/_bench/')) {
      req.resume();
      if (url === '/_bench/trace' && req.method === 'GET') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ ...trace, webhookOutcomes }));
      } else if (url === '/_bench/trace/clear' && req.method === 'POST') {
        clearTrace();
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      } else res.writeHead(404).end();
      return;
    }
    let tag = '';
    const prefixed = /^\/gw-([A-Za-z0-9]+)(\/.*)$/.exec(url);
    if (prefixed) {
      tag = prefixed[1]!;
      req.url = prefixed[2]!;
    }
    if (req.url!.startsWith('/openapi/v2/')) {
      const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
      res.end = ((...a: unknown[]) => {
        const chunk = a[0];
        record(
          req,
          res,
          tag,
          typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : '',
        );
        return end(...a);
      }) as ServerResponse['end'];
    }
    listener(req, res);
  };
}

if (args.has('trace')) {
  // The simulator imports createServer from node:http; swap in a wrapping one before it loads.
  const original = http.createServer;
  (http as { createServer: unknown }).createServer = (...a: unknown[]) => {
    const at = a.findIndex((x) => typeof x === 'function');
    if (at >= 0) a[at] = wrap(a[at] as http.RequestListener);
    return (original as (...b: unknown[]) => http.Server)(...a);
  };
  syncBuiltinESMExports();
}

const { parseDurationRange, startSimulator } = await import(
  '../../src/providers/pixverse/simulator/index.ts'
);

const keyLimits: Record<string, number> = {};
const keyLimit = args.get('key-limit');
if (keyLimit) {
  const at = keyLimit.lastIndexOf('=');
  const prefix = keyLimit.slice(0, at);
  const limit = Number(keyLimit.slice(at + 1));
  const count = Number(args.get('key-count') ?? '0');
  for (let i = 0; i < count; i++) keyLimits[`${prefix}${i}`] = limit;
}
const timeScale = args.has('time-scale') ? Number(args.get('time-scale')) : null;
const sim = await startSimulator({
  host: '127.0.0.1',
  port: 0,
  maxConcurrent: Number(args.get('max-concurrent') ?? '5'),
  keyLimits,
  ...(timeScale !== null && !args.has('duration')
    ? { timeScale }
    : { durationMs: parseDurationRange(args.get('duration') ?? '50ms..150ms') }),
  seed: Number(args.get('seed') ?? '7'),
  ...(args.has('trace')
    ? {
        onRequest: (r: { traceId: string; body: string }) => {
          const label = /\bjob-(\d+)\b/.exec(r.body);
          if (label) labels.set(r.traceId, Number(label[1]));
        },
        onWebhook: (e: { ok: boolean; httpStatus: number | null }) => {
          const outcome = e.ok ? 'ok' : e.httpStatus === null ? 'no answer' : `HTTP ${e.httpStatus}`;
          webhookOutcomes[outcome] = (webhookOutcomes[outcome] ?? 0) + 1;
        },
      }
    : {}),
});
onShutdown(() => sim.close());
announce({ url: sim.url, tracing: args.has('trace') });
