/** The `pixgate` command. */
import { Command } from 'commander';
import type { ConfigFlags } from '../config.ts';
import type { SimulatorFlags } from './simulator.ts';
import { registerClientCommands } from './commands/index.ts';

const program = new Command('pixgate').description('Self-hosted gateway for PixVerse generation jobs');
const collect = (value: string, previous: string[]) => [...previous, value];
// The server side is loaded only by the commands that run it: the client commands then start
// without loading Fastify, the stores and the scheduler.
const serveCommand = async (flags: ConfigFlags) => (await import('./serve.ts')).serveCommand(flags);
const simulatorCommand = async (flags: SimulatorFlags) =>
  (await import('./simulator.ts')).simulatorCommand(flags);

program
  .command('serve')
  .description('run the gateway (built-in simulator and demo data when no --upstream is given)')
  .option('--port <port>', 'HTTP port (env PORT)')
  .option('--host <host>', 'listen address (env HOST)')
  .option('--data-dir <dir>', 'where the SQLite file and generated secrets live (env PIXGATE_DATA_DIR)')
  .option('--database-url <url>', 'postgres://… to share one PostgreSQL between instances (env DATABASE_URL)')
  .option('--database-schema <name>', 'PostgreSQL schema for the tables (env PIXGATE_DATABASE_SCHEMA)')
  .option(
    '--upstream <url>',
    'PixVerse Platform API base URL, e.g. https://app-api.pixverse.ai (env PIXGATE_UPSTREAM_URL)',
  )
  .option('--job-timeout <duration>', 'running jobs older than this become timed_out (default 15m)')
  .option('--expected-duration <duration>', 'fixed expected job duration for poll timing (default: learned)')
  .option('--simulator-duration <range>', 'job durations of the built-in simulator (default 5s..20s)')
  .option('--log-level <level>', 'pino log level (default info)')
  .option('--config <file>', 'JSON config file')
  .action(serveCommand);

program
  .command('simulator')
  .description('run the PixVerse Platform API simulator')
  .option('--port <port>', 'HTTP port', '8090')
  .option('--host <host>', 'listen address', '127.0.0.1')
  .option('--max-concurrent <n>', 'default concurrent generations per API key', '5')
  .option('--key-limit <key=n>', 'concurrency limit for one API key (repeatable)', collect, [])
  .option(
    '--duration <range>',
    'job duration, fixed or a uniform range such as 20s..90s (default: per-quality lognormal)',
  )
  .option(
    '--time-scale <factor>',
    'speed of the per-quality lognormal durations, e.g. 0.01 makes a 60 s job take 0.6 s',
    '1',
  )
  .option('--fail-rate <p>', 'probability that a job fails', '0')
  .option('--moderate-rate <p>', 'probability that a job is moderated', '0')
  .option('--rate-limit-rate <p>', 'probability that a call gets HTTP 429', '0')
  .option('--overload-rate <p>', 'probability that a create gets ErrCode 500069', '0')
  .option('--transient-rate <p>', 'probability that a call gets HTTP 502', '0')
  .option('--stuck-release <duration>', 'when a stuck job frees its slot (default 10 min × time scale)')
  .option('--big-ids', 'use ids beyond 2^53')
  .option('--seed <n>', 'random seed')
  .action(simulatorCommand);

registerClientCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`pixgate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
