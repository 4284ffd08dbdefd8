/**
 * Progress of a job being waited for, on stderr so stdout keeps only the result. On a terminal:
 * one redrawn line with a spinner, the state, elapsed time and queue position. Otherwise
 * (logs, CI, pipes): one plain line per change of state or position, nothing in between.
 */
import type { JobStatus } from '../../client/jobStatus.ts';
import { elapsedSince } from './output.ts';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class Progress {
  private readonly started = new Date().toISOString();
  private last: JobStatus | null = null;
  private lastKey = '';
  private frame = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly tty: boolean = Boolean(process.stderr.isTTY),
  ) {
    if (this.tty) {
      // The spinner and clock move between status reads too.
      this.timer = setInterval(() => this.draw(), 100);
      this.timer.unref();
    }
  }

  update(status: JobStatus): void {
    this.last = status;
    if (this.tty) {
      this.draw();
      return;
    }
    const key = `${status.state}|${status.queuePosition ?? ''}`;
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.stream.write(`[${elapsedSince(this.started)}] ${describe(status)}\n`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.tty) this.stream.write('\r\x1b[2K');
  }

  private draw(): void {
    if (!this.last) return;
    this.frame = (this.frame + 1) % FRAMES.length;
    // A pseudo-terminal may report 0 columns.
    const width = this.stream.columns || 80;
    const text = `${FRAMES[this.frame]} ${elapsedSince(this.started)}  ${describe(this.last)}`;
    this.stream.write(`\r\x1b[2K${text.slice(0, Math.max(10, width - 1))}`);
  }
}

function describe(status: JobStatus): string {
  const words = [status.state];
  if (status.queuePosition !== null) words.push(`position ${status.queuePosition}`);
  if (status.queueEta) words.push(`est. start ${status.queueEta.slice(11, 19)}`);
  if (status.email && status.state !== 'queued') words.push(`on ${status.email}`);
  if (status.final && status.error) words.push(`- ${status.error}`);
  return words.join(' ');
}
