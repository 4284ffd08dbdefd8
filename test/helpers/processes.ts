/**
 * Gateway instances as real child processes (`pixgate serve`), for scale-out tests that
 * need several processes on one PostgreSQL and a real `kill -9`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { randomBytes } from 'node:crypto';

export const TEST_DATABASE_URL =
  process.env['PIXGATE_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
// The TypeScript sources through tsx, like the rest of the suite (not a possibly stale dist/ build).
const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

export interface Instance {
  url: string;
  child: ChildProcess;
  output: string[];
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface InstanceOptions {
  upstream: string;
  schema: string;
  adminToken: string;
  masterKey: string;
  env?: Record<string, string>;
  /** Reuse this data dir (kept after exit) instead of a fresh one: a restart on the same SQLite file. */
  dataDir?: string;
}

export async function startInstance(options: InstanceOptions): Promise<Instance> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'pixgate-inst-'));
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      MAIN,
      'serve',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--upstream',
      options.upstream,
      '--data-dir',
      dataDir,
    ],
    {
      env: {
        ...process.env,
        DATABASE_URL: TEST_DATABASE_URL,
        PIXGATE_DATABASE_SCHEMA: options.schema,
        PIXGATE_ADMIN_TOKEN: options.adminToken,
        PIXGATE_MASTER_KEY: options.masterKey,
        LOG_LEVEL: 'warn',
        // These tests burst thousands of creates from one token to load the scheduler; the per-token
        // rate limit has its own tests (test/proof/security.test.ts), so it is off here by default.
        PIXGATE_RATE_LIMIT: '0',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    // Generous: a child compiles the TypeScript sources on start, slow on a loaded shared machine.
    const timer = setTimeout(() => {
      // Not left running: a late start would keep the test process (and its run) alive forever.
      child.kill('SIGKILL');
      reject(new Error(`instance did not start:\n${output.join('')}`));
    }, 90_000);
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      const match = /running on (http:\/\/localhost:\d+)/.exec(output.join(''));
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!.replace('localhost', '127.0.0.1'));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`instance exited with ${code}:\n${output.join('')}`));
    });
  });
  return {
    url,
    child,
    output,
    exited: exited.finally(() => options.dataDir ?? rmSync(dataDir, { recursive: true, force: true })),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** A fresh schema name; dropped by `dropSchema` unless the test failed. */
export function freshSchema(): string {
  return `pixgate_scale_${randomBytes(5).toString('hex')}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}
