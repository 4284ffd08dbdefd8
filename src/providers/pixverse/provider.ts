/** PixVerse's Platform API as a provider of the engine: its client, id tail, run times and webhook scheme. */
import type { Provider } from '../../scheduler/provider.ts';
import { createPixverseClient } from './upstream/client.ts';
import { WEBHOOK_TOLERANCE_MS } from './upstream/webhook.ts';
import { defaultRunMs, reportedRunMs, runClass } from './runTimes.ts';

/** PixVerse video ids are int64, written in decimal; leading zeros name the same video. */
const ID_TAIL = /^\d{1,30}$/;

export const PIXVERSE_PROVIDER_ID = 'pixverse';

export const pixverseProvider: Provider = {
  id: PIXVERSE_PROVIDER_ID,
  displayName: 'PixVerse',
  connect: (options) => createPixverseClient(options),
  parseIdTail: (tail) => (ID_TAIL.test(tail) ? tail.replace(/^0+(?=\d)/, '') : null),
  runClass,
  defaultRunMs,
  reportedRunMs,
  webhook: {
    toleranceMs: WEBHOOK_TOLERANCE_MS,
    // The signed headers: the same three and body again are the same delivery.
    deliveryHeaders: ['webhook-timestamp', 'webhook-nonce', 'webhook-signature'],
    refusals: {
      unsigned: 'Webhook-Timestamp, Webhook-Nonce and Webhook-Signature headers are required',
      stale: `Webhook-Timestamp is more than ${WEBHOOK_TOLERANCE_MS / 1000} s away from the gateway clock`,
      bad_signature: 'Webhook-Signature does not match the account webhook secret',
    },
  },
};
