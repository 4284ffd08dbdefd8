export { registerClusterGauges, type ClusterGaugeOptions } from './cluster.ts';
export { callbackAttemptRecorder, leaseLossRecorder, watchScheduler, webhookOutcomeLabel } from './events.ts';
export { GatewayMetrics } from './metrics.ts';
export { meteredStore } from './store.ts';
export { MeteredUpstream } from './upstream.ts';
