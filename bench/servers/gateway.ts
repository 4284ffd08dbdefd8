/**
 * Bench child: the real gateway (startGateway, SQLite in --data-dir) pointed at --upstream.
 *   --upstream URL --data-dir DIR [--job-timeout 2h] [--expected-duration 100ms] [--log-level warn]
 *   [--poll-min-interval 20ms]  lower the poll policy's minimum interval (default policy: 1 s),
 *                               so slots of sub-second simulated jobs can turn over quickly
 *
 * Configuration is built from these flags only (never the environment), so a DATABASE_URL in the
 * shell cannot switch the bench to PostgreSQL. Logs go to stderr; stdout carries the ready line.
 */
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import { parseDuration } from '../../src/domain/time.ts';
import { startGateway } from '../../src/gateway.ts';
import type { SchedulerTuning } from '../../src/scheduler/context.ts';
import { DEFAULT_TUNING } from '../../src/scheduler/scheduler.ts';
import { announce, flags, onShutdown, required } from './lifecycle.ts';

const args = flags();
const config = loadConfig(
  {
    host: '127.0.0.1',
    port: 0,
    dataDir: required(args, 'data-dir'),
    upstream: required(args, 'upstream'),
    jobTimeout: args.get('job-timeout') ?? '2h',
    ...(args.has('expected-duration') ? { expectedDuration: args.get('expected-duration')! } : {}),
    logLevel: args.get('log-level') ?? 'warn',
  },
  {},
);
const tuning: Partial<SchedulerTuning> = {};
const pollMin = args.get('poll-min-interval');
if (pollMin) {
  const minIntervalMs = parseDuration(pollMin);
  tuning.poll = { ...DEFAULT_TUNING.poll, minIntervalMs };
  // The tracker's backstop sleep must not be the thing that delays short polls.
  tuning.idleWakeMs = Math.max(minIntervalMs, 100);
}
const logger = pino({ level: config.logLevel }, pino.destination(2));
const gateway = await startGateway({ config, upstreamUrl: config.upstreamUrl!, logger, tuning });
onShutdown(() => gateway.close());
announce({ url: gateway.url, adminToken: gateway.adminToken });
