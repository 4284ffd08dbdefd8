/**
 * Preloaded into a gateway child (`NODE_OPTIONS=--expose-gc --import <this file>`) by the load
 * proof. On SIGUSR2 it runs a full garbage collection and appends the process's memory figures
 * as one JSON line to $PIXGATE_GC_PROBE_OUT. Measuring RSS right after a full GC compares like
 * with like: without it a sample taken just before V8's next major GC counts garbage as growth.
 */
import { appendFileSync } from 'node:fs';

const out = process.env.PIXGATE_GC_PROBE_OUT;
const gc = globalThis.gc;
if (out && typeof gc === 'function') {
  process.on('SIGUSR2', () => {
    // Twice: the first pass can leave objects whose finalizers free more on the second.
    gc();
    gc();
    const m = process.memoryUsage();
    const line = {
      at: Date.now(),
      rssKb: m.rss >> 10,
      heapUsedKb: m.heapUsed >> 10,
      externalKb: m.external >> 10,
    };
    appendFileSync(out, `${JSON.stringify(line)}\n`);
  });
}
