/** Where the client commands connect: --url/--token, else PIXGATE_URL/PIXGATE_TOKEN. */
import { InvalidArgumentError, type Command } from 'commander';
import { PixgateClient } from '../../client/client.ts';
import { parseDuration } from '../../domain/time.ts';
import { UsageError } from './exit.ts';

export const DEFAULT_URL = 'http://localhost:8080';

export interface ConnectionFlags {
  url?: string;
  token?: string;
}

export function withConnection(command: Command, admin = false): Command {
  return command
    .option('--url <url>', `gateway base URL (env PIXGATE_URL, default ${DEFAULT_URL})`)
    .option(
      '--token <token>',
      admin ? 'admin token (env PIXGATE_ADMIN_TOKEN, then PIXGATE_TOKEN)' : 'API token (env PIXGATE_TOKEN)',
    );
}

export function clientFor(
  flags: ConnectionFlags,
  admin = false,
  env: NodeJS.ProcessEnv = process.env,
): PixgateClient {
  const url = flags.url ?? env['PIXGATE_URL'] ?? DEFAULT_URL;
  const token = flags.token ?? (admin ? env['PIXGATE_ADMIN_TOKEN'] : undefined) ?? env['PIXGATE_TOKEN'];
  if (!token)
    throw new UsageError(
      admin
        ? 'an admin token is needed: --token or PIXGATE_ADMIN_TOKEN'
        : 'a token is needed: --token or PIXGATE_TOKEN',
    );
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--url "${url}" is not a URL`);
  }
  return new PixgateClient({ url, token });
}

/** Parses a whole number option, naming the option when it is not one. */
export function integer(name: string, min = 0): (text: string) => number {
  return (text: string) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return value;
  };
}

/** Parses a duration option ("500ms", "2s", "15m"), naming the option when it is not one. */
export function duration(name: string): (text: string) => number {
  return (text: string) => {
    try {
      return parseDuration(text);
    } catch {
      throw new InvalidArgumentError(`${name} must be a duration such as 500ms, 2s or 15m`);
    }
  };
}
