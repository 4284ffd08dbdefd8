/** Memory of a child process from Linux /proc (null elsewhere). */
import { readFileSync } from 'node:fs';

export interface Memory {
  /** Resident set size now (VmRSS), bytes. */
  rss: number;
  /** Peak resident set size (VmHWM), bytes. */
  peak: number;
}

export function memoryOf(pid: number): Memory | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    const rss = kb('VmRSS');
    return Number.isFinite(rss) ? { rss, peak: kb('VmHWM') } : null;
  } catch {
    return null;
  }
}

/** Median RSS of `samples` readings `everyMs` apart (RSS jitters with allocation and GC). */
export async function medianRss(pid: number, samples = 5, everyMs = 200): Promise<number | null> {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, everyMs));
    const m = memoryOf(pid);
    if (m) values.push(m.rss);
  }
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)]!;
}

export const mb = (bytes: number) => bytes / (1024 * 1024);
