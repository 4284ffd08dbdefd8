/**
 * Closed-loop HTTP load generator on undici: `connections` workers, each keeping one request in
 * flight on its own keep-alive connection of a Pool, for a warm-up and then a measured window.
 *
 * Only responses that complete inside the measured window count; their latency is completion
 * minus start. Bodies are read to the end (never dumped) so every byte crosses the socket.
 * CPU time of this process and of the server child over the window is reported too, which shows
 * whether the load generator or the server was the bottleneck.
 */
import { Pool } from 'undici';

export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface LoadSpec {
  origin: string;
  /**
   * Several servers behind a client-side round-robin: request i goes to origins[i % n] (each with
   * its own keep-alive pool). `origin` is ignored when this is set.
   */
  origins?: string[];
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** Builds request number `i` (headers/body may vary per request, e.g. trace ids). */
  request: (i: number) => LoadRequest;
  /** Maps a response to an outcome label; default: the status code. `body` is only read when `needsBody`. */
  classify?: (status: number, body: string) => string;
  needsBody?: boolean;
  /** Outcomes whose latency is recorded and whose count is the throughput; default: 2xx. */
  isSuccess?: (outcome: string, status: number) => boolean;
  /** CPU seconds of the server process (children.ts cpuSeconds). */
  serverCpu?: () => number | null;
  /** Called (and awaited) right before the measured window opens and right after it closes. */
  onWindowStart?: () => Promise<void>;
  onWindowEnd?: () => Promise<void>;
}

export interface LoadResult {
  seconds: number;
  /** Successful responses per second in the window. */
  rps: number;
  /** All responses per second in the window. */
  totalRps: number;
  successes: number;
  outcomes: Record<string, number>;
  errors: number;
  firstError: string | null;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  bytesPerResponse: number;
  /** CPU use during the window as a fraction of one core. */
  clientCpu: number;
  serverCpu: number | null;
  /** Sorted latencies (ms) of the successful responses, kept for merging rounds. */
  latencies: Float64Array;
  bytes: number;
  responses: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const origins = spec.origins && spec.origins.length > 0 ? spec.origins : [spec.origin];
  const pools = origins.map(
    (origin) =>
      new Pool(origin, {
        connections: spec.connections,
        pipelining: 1,
        keepAliveTimeout: 60_000,
        headersTimeout: 15_000,
        bodyTimeout: 15_000,
      }),
  );
  const classify = spec.classify ?? ((status: number) => String(status));
  const isSuccess = spec.isSuccess ?? ((_outcome: string, status: number) => status >= 200 && status < 300);

  let counter = 0;
  let recording = false;
  let stopped = false;
  const outcomes: Record<string, number> = {};
  let latencies = new Float64Array(1 << 16);
  let successes = 0;
  let responses = 0;
  let bytes = 0;
  let errors = 0;
  let firstError: string | null = null;

  const worker = async () => {
    while (!stopped) {
      const i = counter++;
      const req = spec.request(i);
      const at = i % pools.length;
      const started = performance.now();
      try {
        const res = await pools[at]!.request({
          origin: origins[at]!,
          method: req.method,
          path: req.path,
          headers: req.headers,
          body: req.body,
        });
        let size = 0;
        let text = '';
        if (spec.needsBody) {
          text = await res.body.text();
          size = Buffer.byteLength(text);
        } else {
          for await (const chunk of res.body) size += (chunk as Buffer).length;
        }
        if (!recording || stopped) continue;
        const outcome = classify(res.statusCode, text);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        responses++;
        bytes += size;
        if (isSuccess(outcome, res.statusCode)) {
          if (successes === latencies.length) {
            const grown = new Float64Array(latencies.length * 2);
            grown.set(latencies);
            latencies = grown;
          }
          latencies[successes++] = performance.now() - started;
        }
      } catch (err) {
        if (recording && !stopped) {
          errors++;
          firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        }
        // A refused or reset connection must not turn into a hot loop.
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };

  const workers = Array.from({ length: spec.connections }, worker);
  await new Promise((r) => setTimeout(r, spec.warmupMs));
  await spec.onWindowStart?.();
  const serverCpu0 = spec.serverCpu?.() ?? null;
  const clientCpu0 = process.cpuUsage();
  const t0 = performance.now();
  recording = true;
  await new Promise((r) => setTimeout(r, spec.durationMs));
  stopped = true;
  const seconds = (performance.now() - t0) / 1000;
  const clientCpu1 = process.cpuUsage(clientCpu0);
  const serverCpu1 = spec.serverCpu?.() ?? null;
  await spec.onWindowEnd?.();
  await Promise.all(workers);
  await Promise.all(pools.map((pool) => pool.close()));

  const sorted = latencies.slice(0, successes).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    seconds,
    rps: successes / seconds,
    totalRps: responses / seconds,
    successes,
    outcomes,
    errors,
    firstError,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    meanMs: successes ? sum / successes : NaN,
    bytesPerResponse: responses ? bytes / responses : 0,
    clientCpu: (clientCpu1.user + clientCpu1.system) / 1e6 / seconds,
    serverCpu: serverCpu0 !== null && serverCpu1 !== null ? (serverCpu1 - serverCpu0) / seconds : null,
    latencies: sorted,
    bytes,
    responses,
  };
}

/** Several measured windows of one server as if they were one window. */
export function mergeLoads(results: LoadResult[]): LoadResult {
  if (results.length === 1) return results[0]!;
  const seconds = results.reduce((s, r) => s + r.seconds, 0);
  const successes = results.reduce((s, r) => s + r.successes, 0);
  const responses = results.reduce((s, r) => s + r.responses, 0);
  const bytes = results.reduce((s, r) => s + r.bytes, 0);
  const outcomes: Record<string, number> = {};
  for (const r of results)
    for (const [k, v] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
  const latencies = new Float64Array(successes);
  let at = 0;
  for (const r of results) {
    latencies.set(r.latencies, at);
    at += r.latencies.length;
  }
  latencies.sort();
  let sum = 0;
  for (const value of latencies) sum += value;
  const weighted = (pick: (r: LoadResult) => number | null) =>
    results.some((r) => pick(r) === null)
      ? null
      : results.reduce((s, r) => s + pick(r)! * r.seconds, 0) / seconds;
  return {
    seconds,
    rps: successes / seconds,
    totalRps: responses / seconds,
    successes,
    outcomes,
    errors: results.reduce((s, r) => s + r.errors, 0),
    firstError: results.find((r) => r.firstError)?.firstError ?? null,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    meanMs: successes ? sum / successes : NaN,
    bytesPerResponse: responses ? bytes / responses : 0,
    clientCpu: weighted((r) => r.clientCpu)!,
    serverCpu: weighted((r) => r.serverCpu),
    latencies,
    bytes,
    responses,
  };
}
