/** `pixgate simulator`: the PixVerse Platform API simulator as a standalone server. */
import { parseDuration } from '../domain/time.ts';
import { parseDurationRange, startSimulator } from '../providers/pixverse/simulator/index.ts';

export interface SimulatorFlags {
  port: string;
  host: string;
  maxConcurrent: string;
  keyLimit: string[];
  duration?: string;
  timeScale: string;
  failRate: string;
  moderateRate: string;
  rateLimitRate: string;
  overloadRate: string;
  transientRate: string;
  stuckRelease?: string;
  bigIds?: boolean;
  seed?: string;
}

function number(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`${flag} must be a number, got "${text}"`);
  return value;
}

export async function simulatorCommand(flags: SimulatorFlags): Promise<void> {
  const keyLimits: Record<string, number> = {};
  for (const pair of flags.keyLimit) {
    const at = pair.lastIndexOf('=');
    if (at <= 0) throw new Error(`--key-limit takes KEY=N, got "${pair}"`);
    keyLimits[pair.slice(0, at)] = number(pair.slice(at + 1), '--key-limit');
  }
  const simulator = await startSimulator({
    host: flags.host,
    port: number(flags.port, '--port'),
    maxConcurrent: number(flags.maxConcurrent, '--max-concurrent'),
    keyLimits,
    ...(flags.duration ? { durationMs: parseDurationRange(flags.duration) } : {}),
    timeScale: number(flags.timeScale, '--time-scale'),
    failRate: number(flags.failRate, '--fail-rate'),
    moderateRate: number(flags.moderateRate, '--moderate-rate'),
    rateLimitRate: number(flags.rateLimitRate, '--rate-limit-rate'),
    overloadRate: number(flags.overloadRate, '--overload-rate'),
    transientRate: number(flags.transientRate, '--transient-rate'),
    ...(flags.stuckRelease ? { stuckReleaseMs: parseDuration(flags.stuckRelease) } : {}),
    bigIds: flags.bigIds ?? false,
    ...(flags.seed ? { seed: number(flags.seed, '--seed') } : {}),
  });
  process.stdout.write(
    `PixVerse Platform API simulator on ${simulator.url} (stats: ${simulator.url}/_sim/stats)\n`,
  );
  const stop = async () => {
    await simulator.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}
