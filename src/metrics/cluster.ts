/**
 * `pixgate_cluster_*` gauges: the shared store's view (every tenant, every instance's jobs), read
 * once per scrape window however many gauges and scrapers ask. Several instances scraped every 15 s
 * cost one snapshot each per window: a handful of index-only aggregates (store snapshot()).
 */
import { Gauge } from 'prom-client';
import type { Store, StoreSnapshot } from '../store/store.ts';
import type { GatewayMetrics } from './metrics.ts';

export interface ClusterGaugeOptions {
  store: Store;
  now: () => number;
  /** A snapshot younger than this is reused (default 5 s). */
  maxAgeMs?: number;
  onError?: (err: unknown) => void;
}

export function registerClusterGauges(metrics: GatewayMetrics, options: ClusterGaugeOptions): void {
  const maxAgeMs = options.maxAgeMs ?? 5_000;
  let cached: { at: number; value: StoreSnapshot | null } | null = null;
  let loading: Promise<StoreSnapshot | null> | null = null;
  const load = async (): Promise<StoreSnapshot | null> => {
    if (cached && options.now() - cached.at < maxAgeMs) return cached.value;
    loading ??= options.store
      .snapshot()
      .catch((err: unknown) => {
        options.onError?.(err);
        return null;
      })
      .then((value) => {
        cached = { at: options.now(), value };
        loading = null;
        return value;
      });
    return loading;
  };
  const registers = [metrics.registry];
  /** Every collect starts from zero series, so an account or state that went away disappears. */
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: L[],
    fill: (g: Gauge<L>, s: StoreSnapshot) => void,
  ) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        const snapshot = await load();
        this.reset();
        if (snapshot) fill(this, snapshot);
      },
    });

  new Gauge({
    name: 'pixgate_cluster_store_up',
    help: 'Whether the last cluster snapshot could be read from the store (1) or not (0)',
    registers,
    async collect() {
      this.set((await load()) ? 1 : 0);
    },
  });
  gauge(
    'pixgate_cluster_jobs',
    'Jobs not yet final across the cluster, by state (queued, submitting, running), type, tenant and account',
    ['state', 'type', 'tenant', 'account'],
    (g, s) => {
      for (const j of s.liveJobs)
        g.inc({ state: j.state, type: j.type, tenant: String(j.userId), account: j.email ?? '' }, j.count);
    },
  );
  gauge('pixgate_cluster_queue_depth', 'Jobs waiting in the queue, by tenant', ['tenant'], (g, s) => {
    for (const j of s.liveJobs) if (j.state === 'queued') g.inc({ tenant: String(j.userId) }, j.count);
  });
  gauge(
    'pixgate_cluster_account_slots_used',
    'Slots held (submitting or running jobs) per account',
    ['tenant', 'account'],
    (g, s) => {
      for (const a of s.accounts) g.set({ tenant: String(a.userId), account: a.email }, a.executing);
    },
  );
  gauge(
    'pixgate_cluster_account_slots_total',
    'Slots per account (maxJobs)',
    ['tenant', 'account'],
    (g, s) => {
      for (const a of s.accounts) g.set({ tenant: String(a.userId), account: a.email }, a.maxJobs);
    },
  );
  gauge(
    'pixgate_cluster_account_state',
    'Account health (1 for its current state: ok, cooldown or error)',
    ['tenant', 'account', 'state'],
    (g, s) => {
      for (const a of s.accounts) g.set({ tenant: String(a.userId), account: a.email, state: a.state }, 1);
    },
  );
  gauge(
    'pixgate_cluster_callback_deliveries',
    'Callback deliveries waiting to be delivered (pending) or given up (dead)',
    ['state'],
    (g, s) => {
      g.set({ state: 'pending' }, s.deliveries.pending);
      g.set({ state: 'dead' }, s.deliveries.dead);
    },
  );
  gauge(
    'pixgate_cluster_callback_oldest_pending_age_seconds',
    'Age of the oldest callback delivery still pending (0 when none)',
    [],
    (g, s) => {
      const oldest = s.deliveries.oldestPendingCreatedAt;
      g.set(oldest === null ? 0 : Math.max(0, (options.now() - oldest) / 1000));
    },
  );
}
