/**
 * Gateway child processes (`pixgate serve`) for the proof suites: SQLite on a data dir that
 * outlives each process (restart after kill -9 on the same data), or PostgreSQL on a schema.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'pixgate.mjs');

export const PROOF_FULL = process.env['PIXGATE_PROOF'] === 'full';

/** Fast timings so simulated jobs of a second or less are tracked closely. */
export const FAST_ENV: Record<string, string> = {
  PIXGATE_EXPECTED_DURATION: '400ms',
  PIXGATE_POLL_MIN_INTERVAL: '50ms',
  PIXGATE_IDLE_WAKE: '250ms',
  PIXGATE_LEASE: '2s',
  PIXGATE_CALLBACK_ALLOWLIST: '127.0.0.0/8',
  PIXGATE_CALLBACK_SCHEDULE: '0,200ms,500ms,1s,2s,2s,2s,2s,2s,2s',
};

export interface Child {
  url: string;
  child: ChildProcess;
  output: string[];
  exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ChildOptions {
  upstream: string;
  dataDir: string;
  adminToken: string;
  masterKey: string;
  databaseUrl?: string;
  schema?: string;
  env?: Record<string, string>;
}

export function secrets(): { adminToken: string; masterKey: string } {
  return {
    adminToken: `admin-${randomBytes(12).toString('hex')}`,
    masterKey: randomBytes(32).toString('hex'),
  };
}

export async function startChild(options: ChildOptions): Promise<Child> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    PIXGATE_ADMIN_TOKEN: options.adminToken,
    PIXGATE_MASTER_KEY: options.masterKey,
    LOG_LEVEL: 'warn',
    ...FAST_ENV,
    ...options.env,
  };
  delete env['DATABASE_URL'];
  if (options.databaseUrl) env['DATABASE_URL'] = options.databaseUrl;
  if (options.schema) env['PIXGATE_DATABASE_SCHEMA'] = options.schema;
  const child = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--upstream',
      options.upstream,
      '--data-dir',
      options.dataDir,
    ],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${output.join('')}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output.push(chunk.toString());
      const match = /running on (http:\/\/localhost:\d+)/.exec(output.join(''));
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!.replace('localhost', '127.0.0.1'));
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`gateway exited:\n${output.join('')}`));
    });
  });
  return {
    url,
    child,
    output,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
