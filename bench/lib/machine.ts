/**
 * How busy the machine is besides the bench: load average and Linux CPU pressure (PSI: the share
 * of time runnable tasks waited for a CPU). On a shared 2-core box other processes often decide
 * latencies; these figures say when.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

/** /proc/pressure/cpu "some avg10" in percent, or null where PSI is unavailable. */
export function cpuPressure(): number | null {
  try {
    const match = /^some avg10=([\d.]+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

export function machineLine(): string {
  const psi = cpuPressure();
  return `${cpus().length} cores, load average ${loadavg()
    .map((n) => n.toFixed(1))
    .join(
      ' ',
    )}${psi === null ? '' : `, CPU pressure ${psi.toFixed(0)}% (tasks waiting for a CPU, 10 s avg)`}`;
}
