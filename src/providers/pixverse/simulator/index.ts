/**
 * Standalone simulator of PixVerse's Platform API (/openapi/v2), used by tests, the bench and
 * `pixgate simulator`. See server.ts for the HTTP side, routes.ts for the endpoints, engine.ts for
 * job/concurrency state, markers.ts and faults.ts for forced outcomes and failures, webhooks.ts for
 * the webhooks of text/img generations.
 */
export { startSimulator } from './server.ts';
export { parseDurationRange } from './options.ts';
export type {
  KeyStats,
  RunningSimulator,
  SeenRequest,
  SimStats,
  SimulatorOptions,
  Webhook,
  WebhookConfig,
  WebhookEvent,
  WebhookStats,
} from './options.ts';
export { WEBHOOK_RETRY_MS, webhookSignature, webhookSignedForm, type WebhookPayload } from './webhooks.ts';
export { SPEAKERS, RESTYLES, TEMPLATES, type Template } from './presets.ts';
export { DEFAULT_LATENCY, modelDurationMs, type Latency } from './latency.ts';
