/**
 * Wake-ups between instances through LISTEN/NOTIFY.
 *
 * The store sends `pg_notify` inside the transaction that changes capacity, so the event is
 * delivered exactly when (and only if) the change commits. Events are hints: listeners re-read the
 * store, and the scheduler keeps a short poll as a backstop, so a lost event (listener restarting,
 * LISTEN unavailable behind a transaction-pooling proxy) only costs latency, never correctness.
 *
 * Cost: PostgreSQL serialises the commits of transactions that issued NOTIFY (one global queue
 * lock at commit). Pixgate notifies once per slot change, queue entry or new callback delivery —
 * at the rate of client requests and job completions, far below where that lock matters; do not
 * add NOTIFYs to per-poll paths.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

export const CHANNEL_KINDS = ['slots', 'jobs', 'queue', 'deliveries'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** PostgreSQL truncates identifiers to 63 bytes; NOTIFY rejects longer channel names outright. */
const MAX_CHANNEL = 63;

/**
 * `pixgate_<schema>_slots`: a slot was freed (or capacity was added), a queued job may start.
 * `pixgate_<schema>_jobs`: a job became running, or its poll was expedited (a provider webhook said it
 *   ended), a tracker may want to poll it.
 * `pixgate_<schema>_queue`: a job entered the queue (enqueue or requeue), a dispatcher may start it.
 * `pixgate_<schema>_deliveries`: a callback delivery became pending (inserted, unblocked by the
 *   settling of an earlier one of its job, or redelivered), a deliverer may send it.
 * Payloads are JSON objects with an `event` name; every `slots` and `queue` event carries the
 * tenant's `userId`, so a listener can wake just that tenant's dispatcher.
 */
export function channelName(schema: string | null | undefined, kind: ChannelKind): string {
  const base = schema || 'public';
  const name = `pixgate_${base}_${kind}`;
  if (name.length <= MAX_CHANNEL) return name;
  const digest = createHash('sha256').update(base).digest('hex').slice(0, 10);
  return `pixgate_${base.slice(0, MAX_CHANNEL - 8 - 11 - kind.length - 1)}_${digest}_${kind}`;
}

/** Channels one store notifies on, resolved once from its schema. */
export type Channels = Record<ChannelKind, string>;

export function channelsFor(schema: string | null | undefined): Channels {
  return {
    slots: channelName(schema, 'slots'),
    jobs: channelName(schema, 'jobs'),
    queue: channelName(schema, 'queue'),
    deliveries: channelName(schema, 'deliveries'),
  };
}

export interface ChangeListener {
  /** True while the LISTEN connection is up; events may be missed while it is false. */
  readonly listening: boolean;
  close(): Promise<void>;
}

export interface ListenOptions {
  /** Told about connection problems (for logs); listening keeps retrying in the background. */
  onError?: (err: Error) => void;
  /** Delay before the first reconnect; doubles up to 30 s. */
  retryMs?: number;
  /** Channels to listen on (default: all of CHANNEL_KINDS). */
  kinds?: readonly ChannelKind[];
}

/**
 * Listens on the schema's channels (all four unless `opts.kinds` narrows them) on a dedicated
 * connection (LISTEN state is per session, so it cannot use a pooled client). Never throws: if the server is unreachable or
 * LISTEN fails, it reports through `onError`, resolves with `listening: false`, and keeps
 * reconnecting until closed.
 */
export async function listenForChanges(
  url: string,
  schema: string | null | undefined,
  onEvent: (channel: string, payload: string) => void,
  opts: ListenOptions = {},
): Promise<ChangeListener> {
  const channels = (opts.kinds ?? CHANNEL_KINDS).map((kind) => channelName(schema, kind));
  const firstDelay = opts.retryMs ?? 1000;
  let delay = firstDelay;
  let client: pg.Client | null = null;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  let listening = false;

  const report = (err: unknown): void => {
    if (!opts.onError) return;
    try {
      opts.onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // a failing logger must not break listening
    }
  };

  const scheduleReconnect = (): void => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void connect();
    }, delay);
    timer.unref();
    delay = Math.min(delay * 2, 30_000);
  };

  const drop = (target: pg.Client, err: unknown): void => {
    if (client !== target) return; // already replaced
    client = null;
    listening = false;
    if (err) report(err);
    void target.end().catch(() => {});
    scheduleReconnect();
  };

  const connect = async (): Promise<void> => {
    if (closed) return;
    const next = new pg.Client({
      connectionString: url,
      application_name: 'pixgate-listen',
      connectionTimeoutMillis: 10_000,
    });
    client = next;
    next.on('error', (err) => drop(next, err));
    next.on('end', () => drop(next, closed ? null : new Error('LISTEN connection ended')));
    next.on('notification', (msg) => {
      try {
        onEvent(msg.channel, msg.payload ?? '');
      } catch (err) {
        report(err);
      }
    });
    try {
      await next.connect();
      for (const channel of channels) await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      if (closed || client !== next) {
        await next.end().catch(() => {});
        return;
      }
      listening = true;
      delay = firstDelay;
    } catch (err) {
      drop(next, err);
    }
  };

  await connect();

  return {
    get listening() {
      return listening;
    },
    async close() {
      closed = true;
      listening = false;
      if (timer) clearTimeout(timer);
      timer = null;
      const current = client;
      client = null;
      if (current) await current.end().catch(() => {});
    },
  };
}
