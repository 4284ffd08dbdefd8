/**
 * The gateway's Prometheus metrics, all prefixed `pixgate_`, in a registry of their own (one per
 * gateway, so several gateways in one process never share series).
 *
 * Two kinds of series:
 * - per instance (counters, histograms): what this process did — jobs it started and finished,
 *   upstream calls, polls, webhooks, callback attempts, HTTP and store latency. Prometheus tells
 *   the instances apart by its `instance` label; sum them for the cluster.
 * - `pixgate_cluster_*` gauges, read from the shared store at scrape time (cluster.ts): the same
 *   value on every instance, so aggregate them with max(), never sum().
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds; from a fast status read to a 15-minute video. */
const RUN_BUCKETS = [1, 5, 15, 30, 60, 120, 180, 300, 600, 900, 1800];
const WAIT_BUCKETS = [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];
const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1];
/** Callback age at its last attempt: the retry schedule spans about three days. */
const AGE_BUCKETS = [1, 5, 60, 300, 1800, 7200, 18000, 36000, 86400, 259200];

export class GatewayMetrics {
  readonly registry = new Registry();

  readonly jobsStarted: Counter<'type' | 'account'>;
  readonly jobsFinished: Counter<'type' | 'state' | 'account'>;
  readonly queueWait: Histogram<'type'>;
  readonly runTime: Histogram<'type' | 'state'>;
  readonly upstreamRequests: Counter<'operation'>;
  readonly upstreamErrors: Counter<'operation' | 'class'>;
  readonly upstreamDuration: Histogram<'operation'>;
  readonly polls: Counter<'type' | 'result'>;
  readonly webhooks: Counter<'outcome'>;
  readonly callbackAttempts: Counter<'outcome'>;
  readonly callbackAge: Histogram<'outcome'>;
  readonly leaseLost: Counter<'worker'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly storeDuration: Histogram<'operation'>;
  readonly info: Gauge<'instance_id' | 'store'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'pixgate_' });
    this.info = new Gauge({
      name: 'pixgate_instance_info',
      help: 'This gateway instance (value 1)',
      labelNames: ['instance_id', 'store'],
      registers,
    });
    this.jobsStarted = new Counter({
      name: 'pixgate_jobs_started_total',
      help: 'Jobs this instance submitted that PixVerse accepted, by type and account',
      labelNames: ['type', 'account'],
      registers,
    });
    this.jobsFinished = new Counter({
      name: 'pixgate_jobs_finished_total',
      help: 'Jobs this instance moved to a final state (completed, failed, moderated, cancelled, timed_out), by type and account',
      labelNames: ['type', 'state', 'account'],
      registers,
    });
    this.queueWait = new Histogram({
      name: 'pixgate_queue_wait_seconds',
      help: 'Time queued jobs waited for a slot (queued to slot reserved)',
      labelNames: ['type'],
      buckets: WAIT_BUCKETS,
      registers,
    });
    this.runTime = new Histogram({
      name: 'pixgate_job_run_seconds',
      help: 'Time from slot reserved to final state, by type and final state',
      labelNames: ['type', 'state'],
      buckets: RUN_BUCKETS,
      registers,
    });
    this.upstreamRequests = new Counter({
      name: 'pixgate_upstream_requests_total',
      help: 'Calls to PixVerse by operation (submit, status, upload, balance, catalog)',
      labelNames: ['operation'],
      registers,
    });
    this.upstreamErrors = new Counter({
      name: 'pixgate_upstream_errors_total',
      help: 'Failed calls to PixVerse by operation and error class (rate_limit, concurrency_limit, transient, …)',
      labelNames: ['operation', 'class'],
      registers,
    });
    this.upstreamDuration = new Histogram({
      name: 'pixgate_upstream_request_duration_seconds',
      help: 'Duration of calls to PixVerse by operation',
      labelNames: ['operation'],
      buckets: CALL_BUCKETS,
      registers,
    });
    this.polls = new Counter({
      name: 'pixgate_polls_total',
      help: 'Job status reads (polls) by job type and what they found (pending, completed, failed, moderated, deleted, error)',
      labelNames: ['type', 'result'],
      registers,
    });
    this.webhooks = new Counter({
      name: 'pixgate_webhooks_received_total',
      help: 'PixVerse webhook deliveries received, by outcome (expedited, already_final, or why refused)',
      labelNames: ['outcome'],
      registers,
    });
    this.callbackAttempts = new Counter({
      name: 'pixgate_callback_attempts_total',
      help: 'Callback delivery attempts by outcome (delivered, retry, dead, lease_lost)',
      labelNames: ['outcome'],
      registers,
    });
    this.callbackAge = new Histogram({
      name: 'pixgate_callback_age_seconds',
      help: 'Age of a callback delivery (since its job event) when it was delivered or dead-lettered',
      labelNames: ['outcome'],
      buckets: AGE_BUCKETS,
      registers,
    });
    this.leaseLost = new Counter({
      name: 'pixgate_lease_lost_total',
      help: 'Claimed work this instance found no longer its own (lease taken over after a stall, or the job ended elsewhere), by worker (tracker, dispatcher, reconciler, deliverer)',
      labelNames: ['worker'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'pixgate_http_request_duration_seconds',
      help: 'HTTP request latency by method, route pattern and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: CALL_BUCKETS,
      registers,
    });
    this.storeDuration = new Histogram({
      name: 'pixgate_store_operation_duration_seconds',
      help: 'Store operations (each one transaction or statement) by operation',
      labelNames: ['operation'],
      buckets: STORE_BUCKETS,
      registers,
    });
  }

  /** Prometheus text exposition of every series. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
