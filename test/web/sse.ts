/** A test client for the dashboard's server-sent-events stream (what the page's EventSource reads). */
export interface Snapshot {
  at: number;
  tenant: { userId: number };
  accounts: { email: string; executing: number; maxJobs: number }[];
  running: { id: string }[];
  queue: { total: number; items: { position: number }[] };
  failures: { id: string; state: string }[];
}

/** Reads a server-sent-events response, collecting `snapshot` events as they arrive. */
export class StreamReader {
  readonly snapshots: Snapshot[] = [];
  readonly events: string[] = [];
  private readonly abort = new AbortController();
  status = 0;
  done: Promise<void> = Promise.resolve();

  async open(url: string): Promise<this> {
    const res = await fetch(url, { signal: this.abort.signal });
    this.status = res.status;
    if (!res.ok || !res.body) return this;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    this.done = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += decoder.decode(value, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (!event || data === undefined) continue;
            this.events.push(event);
            if (event === 'snapshot') this.snapshots.push(JSON.parse(data) as Snapshot);
          }
        }
      } catch {
        // aborted
      }
    })();
    return this;
  }

  get last(): Snapshot | undefined {
    return this.snapshots[this.snapshots.length - 1];
  }

  close(): void {
    this.abort.abort();
  }
}
