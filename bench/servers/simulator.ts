/**
 * Bench child: the PixVerse simulator on an ephemeral loopback port.
 *   --max-concurrent N       default per-key limit
 *   --key-limit PREFIX=N     limit for keys PREFIX0..PREFIX(count-1) (with --key-count)
 *   --key-count N
 *   --duration 50ms..150ms   job duration range
 */
import { parseDurationRange, startSimulator } from '../../src/simulator/index.ts';
import { announce, flags, onShutdown } from './lifecycle.ts';

const args = flags();
const keyLimits: Record<string, number> = {};
const keyLimit = args.get('key-limit');
if (keyLimit) {
  const at = keyLimit.lastIndexOf('=');
  const prefix = keyLimit.slice(0, at);
  const limit = Number(keyLimit.slice(at + 1));
  const count = Number(args.get('key-count') ?? '0');
  for (let i = 0; i < count; i++) keyLimits[`${prefix}${i}`] = limit;
}
const sim = await startSimulator({
  host: '127.0.0.1',
  port: 0,
  maxConcurrent: Number(args.get('max-concurrent') ?? '5'),
  keyLimits,
  durationMs: parseDurationRange(args.get('duration') ?? '50ms..150ms'),
  seed: Number(args.get('seed') ?? '7'),
});
onShutdown(() => sim.close());
announce({ url: sim.url });
