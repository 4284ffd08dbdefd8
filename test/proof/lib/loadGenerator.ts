/**
 * The load suite's traffic, run as its own process so that the generator, the gateway and the
 * simulator do not share one event loop. Open loop at a fixed rate: request i is due at
 * start + i/rate whatever happened to earlier ones, and its latency counts from when it was due,
 * so a generator that falls behind cannot hide a slow gateway (no coordinated omission). How late
 * sends left (send lag) and how many requests were in flight tell which side was the bottleneck.
 *
 * Input: one JSON argument (LoadPlan). Output: one JSON line (LoadResult) on stdout.
 */
import { Pool } from 'undici';
import { percentile } from './run.ts';

/**
 * One keep-alive pool to the gateway: a fresh fetch per request costs the generator more CPU than
 * the gateway spends answering it, and on a loaded machine the generator fell behind first.
 */
let pool: Pool;

async function call(
  method: 'GET' | 'POST',
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: unknown; retryAfter: boolean }> {
  const res = await pool.request({
    method,
    path,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.statusCode, body: parsed, retryAfter: res.headers['retry-after'] !== undefined };
}

export interface LoadPlan {
  url: string;
  token: string;
  replyUrl: string;
  rate: number;
  seconds: number;
}

export interface LoadResult {
  sent: number;
  achievedRps: number;
  p50Ms: number;
  p99Ms: number;
  sendLagP99Ms: number;
  sendLagMaxMs: number;
  maxInFlight: number;
  designed429: number;
  errors: string[];
  ids: string[];
  refs: string[];
}

async function run(plan: LoadPlan): Promise<LoadResult> {
  pool = new Pool(plan.url, { connections: 256, pipelining: 1 });
  const latencies: number[] = [];
  const lags: number[] = [];
  const errors: string[] = [];
  const ids: string[] = [];
  const refs: string[] = [];
  let designed429 = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const pending = new Set<Promise<void>>();
  const one = async (i: number, due: number) => {
    const kind = i % 10;
    let res: Awaited<ReturnType<typeof call>> | undefined;
    if (kind < 3) {
      const ref = `load-${i}`;
      res = await call('POST', '/v2/pixverse/videos/create', plan.token, {
        prompt: `load ${ref} #sim:duration=300`,
        replyUrl: plan.replyUrl,
        replyRef: ref,
      });
      if (res.status === 200) {
        ids.push((res.body as { video_id: string }).video_id);
        refs.push(ref);
      }
    } else if (kind < 7 && ids.length > 0) {
      res = await call(
        'GET',
        `/v2/pixverse/videos/${encodeURIComponent(ids[Math.floor(Math.random() * ids.length)]!)}`,
        plan.token,
      );
    } else {
      res = await call('GET', '/v2/pixverse/scheduler/available', plan.token);
    }
    latencies.push(performance.now() - due);
    if (res.status === 429 && res.retryAfter) designed429++;
    else if (res.status !== 200) errors.push(`${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
  };
  const total = plan.seconds * plan.rate;
  const begin = performance.now();
  for (let i = 0; i < total; i++) {
    const due = begin + (i * 1000) / plan.rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    lags.push(Math.max(0, performance.now() - due));
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const p: Promise<void> = one(i, due)
      .catch((err: Error) => void errors.push(err.message))
      .finally(() => {
        inFlight--;
        pending.delete(p);
      });
    pending.add(p);
  }
  const sendingS = (performance.now() - begin) / 1000;
  await Promise.all(pending);
  await pool.close();
  const sorted = [...latencies].sort((a, b) => a - b);
  const lagSorted = [...lags].sort((a, b) => a - b);
  return {
    sent: total,
    // Sends per second over the sending window: the rate the gateway was actually offered.
    achievedRps: total / Math.max(sendingS, plan.seconds - 1 / plan.rate),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    sendLagP99Ms: percentile(lagSorted, 99),
    sendLagMaxMs: lagSorted[lagSorted.length - 1] ?? 0,
    maxInFlight,
    designed429,
    errors,
    ids,
    refs,
  };
}

const plan = JSON.parse(process.argv[2] ?? '{}') as LoadPlan;
process.stdout.write(`${JSON.stringify(await run(plan))}\n`);
