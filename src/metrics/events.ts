/** Per-instance job, webhook and callback series, fed by the events the engine already emits. */
import type { AttemptKind } from '../callbacks/deliverer.ts';
import type { Job } from '../domain/job.ts';
import type { SchedulerEvents } from '../scheduler/events.ts';
import type { WebhookOutcome } from '../scheduler/events.ts';
import type { Delivery } from '../store/store.ts';
import type { GatewayMetrics } from './metrics.ts';

const REFUSED: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  404: 'unknown_job',
  409: 'not_yet_running',
};

export function webhookOutcomeLabel(outcome: WebhookOutcome): string {
  return outcome.ok ? outcome.action : (REFUSED[outcome.status] ?? `refused_${outcome.status}`);
}

export function watchScheduler(events: SchedulerEvents, metrics: GatewayMetrics): void {
  events.on('running', (job: Job) => {
    metrics.jobsStarted.inc({ type: job.type, account: job.email ?? '' });
    if (job.queuedAt !== null && job.startedAt !== null)
      metrics.queueWait.observe({ type: job.type }, Math.max(0, job.startedAt - job.queuedAt) / 1000);
  });
  events.on('final', (job: Job) => {
    metrics.jobsFinished.inc({ type: job.type, state: job.state, account: job.email ?? '' });
    if (job.startedAt !== null && job.finishedAt !== null) {
      metrics.runTime.observe(
        { type: job.type, state: job.state },
        Math.max(0, job.finishedAt - job.startedAt) / 1000,
      );
    }
  });
  events.on('webhook', (outcome) => metrics.webhooks.inc({ outcome: webhookOutcomeLabel(outcome) }));
  events.on('leaseLost', (loss) => metrics.leaseLost.inc({ worker: loss.worker }));
}

/** For CallbackDelivererOptions.onLeaseLost (the scheduler's workers report through its events). */
export function leaseLossRecorder(metrics: GatewayMetrics): (loss: { worker: string }) => void {
  return (loss) => metrics.leaseLost.inc({ worker: loss.worker });
}

/** For CallbackDelivererOptions.onAttempt. */
export function callbackAttemptRecorder(
  metrics: GatewayMetrics,
): (outcome: AttemptKind, delivery: Delivery, now: number) => void {
  return (outcome, delivery, now) => {
    metrics.callbackAttempts.inc({ outcome });
    if (outcome === 'delivered' || outcome === 'dead')
      metrics.callbackAge.observe({ outcome }, Math.max(0, now - delivery.createdAt) / 1000);
  };
}
