/** Time formatting used by the scheduler views. */

/** "MM:SS" since `startedMs`; minutes are not capped at 59 (useapi keeps MM:SS). */
export function elapsed(startedMs: number, nowMs: number): string {
  const total = Math.max(0, Math.floor((nowMs - startedMs) / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return `${minutes < 10 ? '0' : ''}${minutes}:${seconds < 10 ? '0' : ''}${seconds}`;
}

/** ISO-8601 UTC with milliseconds, e.g. 2024-09-25T01:55:16.128Z. */
export function isoUtc(ms: number): string {
  return new Date(ms).toISOString();
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "250ms", "20s", "15m", "2h", "1d" or a bare number of milliseconds. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) throw new Error(`invalid duration "${text}" (use e.g. 500ms, 20s, 15m, 2h)`);
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!);
}

/** Human text for a duration: "90 s", "15 min", "2 h". */
export function formatDuration(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}
