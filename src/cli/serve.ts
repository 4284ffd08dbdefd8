/** `pixgate serve`: the gateway; with no upstream configured it embeds the simulator and a demo tenant. */
import pino from 'pino';
import { loadConfig, type ConfigFlags } from '../config.ts';
import { startGateway } from '../gateway.ts';
import {
  parseDurationRange,
  startSimulator,
  type RunningSimulator,
} from '../providers/pixverse/simulator/index.ts';
import { DEMO_KEY_LIMITS, ensureDemoTenant, wireDemoWebhooks } from './demo.ts';

export async function serveCommand(flags: ConfigFlags): Promise<void> {
  const config = loadConfig(flags);
  const log = pino({ level: config.logLevel });
  let simulator: RunningSimulator | null = null;
  let upstreamUrl = config.upstreamUrl;
  if (!upstreamUrl) {
    const durationMs = parseDurationRange(config.simulatorDuration);
    simulator = await startSimulator({ durationMs, keyLimits: DEMO_KEY_LIMITS });
    upstreamUrl = simulator.url;
    // The demo knows how long its simulated jobs take, so polls can be timed exactly.
    config.expectedDurationMs ??= Math.round((durationMs.min + durationMs.max) / 2);
  }
  const gateway = await startGateway({
    config,
    upstreamUrl,
    logger: log,
    // Never the token itself: stdout ends up in container logs, readable by whoever reads those.
    onAdminTokenCreated: (_token, path) => {
      if (path)
        process.stdout.write(`\nA new admin token was saved in ${path} (mode 0600); read it from there.\n`);
    },
  });
  const base = `http://localhost:${gateway.app.server.address() && typeof gateway.app.server.address() === 'object' ? (gateway.app.server.address() as { port: number }).port : config.port}`;
  if (simulator) {
    const token = await ensureDemoTenant(gateway.services, config.dataDir);
    const sim = simulator;
    await wireDemoWebhooks(
      gateway.services,
      token,
      loopbackUrl(gateway.app.server.address(), config.port),
      (hook) => sim.createWebhook(hook),
    );
    process.stdout.write(
      [
        '',
        `Pixgate is running on ${base} with the built-in PixVerse simulator (${simulator.url}).`,
        `Demo token: ${token}`,
        'Try:',
        `  curl -s -X POST ${base}/v2/pixverse/videos/create -H "Authorization: Bearer ${token}" -H "Content-Type: application/json" -d '{"prompt":"a red fox running through snow"}'`,
        `  curl -s ${base}/v2/pixverse/scheduler/available -H "Authorization: Bearer ${token}"`,
        `  curl -s ${base}/v2/pixverse/videos/<video_id> -H "Authorization: Bearer ${token}"`,
        '  curl -o video.mp4 "<url from that answer once video_status_name is COMPLETED>"   # the simulator serves the file',
        'For real PixVerse accounts run: npx pixgate serve --upstream https://app-api.pixverse.ai',
        '',
      ].join('\n'),
    );
  } else {
    process.stdout.write(`\nPixgate is running on ${base}, upstream ${upstreamUrl}.\n`);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    // A second signal means the operator will not wait: exit now (leases expire on their own).
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without waiting for shutdown');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, deadlineMs: config.limits.shutdownTimeoutMs }, 'shutting down');
    // A client holding a request open (or a stuck store call) must not keep the process alive forever.
    const deadline = setTimeout(() => {
      log.error({ deadlineMs: config.limits.shutdownTimeoutMs }, 'shutdown deadline passed; exiting');
      process.exit(1);
    }, config.limits.shutdownTimeoutMs);
    deadline.unref();
    await gateway.close();
    await simulator?.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** Where the built-in simulator reaches this gateway: loopback, on the port it listens on. */
function loopbackUrl(
  address: ReturnType<import('node:net').Server['address']>,
  fallbackPort: number,
): string {
  const port = address && typeof address === 'object' ? address.port : fallbackPort;
  const ipv6Only = address && typeof address === 'object' && address.address === '::1';
  return ipv6Only ? `http://[::1]:${port}` : `http://127.0.0.1:${port}`;
}
