/** Runs the real `pixgate` binary as a child process (asynchronously: the gateway under test lives in this process). */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'pixgate.mjs');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 60_000,
): Promise<CliResult> {
  const childEnv: Record<string, string | undefined> = { ...process.env };
  // The caller's environment must not leak a gateway or token into the test.
  for (const key of ['PIXGATE_URL', 'PIXGATE_TOKEN', 'PIXGATE_ADMIN_TOKEN', 'PIXVERSE_API_KEY'])
    delete childEnv[key];
  Object.assign(childEnv, env);
  const child = spawn(process.execPath, [BIN, ...args], {
    env: childEnv as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`pixgate ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
