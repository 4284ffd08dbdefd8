/**
 * One server-sent-events response. Snapshots are whole states, so a page that reads slower than
 * they come gets only the latest one once its socket drains, never a growing backlog.
 */
import type { ServerResponse } from 'node:http';
import type { StreamClient } from './hub.ts';

const HEARTBEAT_MS = 15_000;

export class SseStream implements StreamClient {
  private pending: string | null = null;
  private readonly heartbeat: NodeJS.Timeout;
  private ended = false;

  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store, no-transform',
      connection: 'keep-alive',
      // Proxies such as nginx buffer responses unless told not to.
      'x-accel-buffering': 'no',
    });
    // The page reconnects itself with a fresh ticket; this only spaces its retries.
    res.write('retry: 3000\n\n');
    res.on('drain', () => {
      const next = this.pending;
      this.pending = null;
      if (next !== null) this.write(next);
    });
    this.heartbeat = setInterval(() => this.write(': ping\n\n'), HEARTBEAT_MS).unref();
    res.on('close', () => this.stop());
  }

  send(event: string, data: string): void {
    this.write(`event: ${event}\ndata: ${data}\n\n`);
  }

  onClose(listener: () => void): void {
    this.res.on('close', listener);
  }

  end(): void {
    this.stop();
    this.res.end();
  }

  private write(chunk: string): void {
    if (this.ended) return;
    if (this.res.writableNeedDrain) {
      if (!chunk.startsWith(':')) this.pending = chunk;
      return;
    }
    this.res.write(chunk);
  }

  private stop(): void {
    this.ended = true;
    clearInterval(this.heartbeat);
  }
}
