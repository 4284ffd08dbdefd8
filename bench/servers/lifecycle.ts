/**
 * The child side of bench/lib/children.ts: announce readiness with one JSON line on stdout, and
 * shut down when the parent closes our stdin (which also happens when the parent dies) or on
 * SIGTERM/SIGINT. A clean process.exit lets `--cpu-prof` write its profile.
 */
export function announce(info: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ pid: process.pid, ...info })}\n`);
}

export function onShutdown(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    // Bounded: a close that hangs must not keep the child alive.
    setTimeout(() => {
      process.stderr.write(`bench child: close after ${why} took too long, exiting\n`);
      process.exit(1);
    }, 8_000).unref();
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(
          `bench child: close failed: ${err instanceof Error ? err.stack : String(err)}\n`,
        );
        process.exit(1);
      },
    );
  };
  process.stdin.on('end', () => stop('stdin closed'));
  process.stdin.on('error', () => stop('stdin error'));
  process.stdin.resume();
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** `--name value` pairs from argv (the bench's own children take only simple flags). */
export function flags(argv: string[] = process.argv.slice(2)): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out.set(arg.slice(2), 'true');
    else {
      out.set(arg.slice(2), next);
      i++;
    }
  }
  return out;
}

export function required(map: Map<string, string>, name: string): string {
  const value = map.get(name);
  if (value === undefined) throw new Error(`--${name} is required`);
  return value;
}
