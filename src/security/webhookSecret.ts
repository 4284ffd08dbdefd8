/** Standard Webhooks signing secrets: "whsec_" + base64 of 24 random bytes. */
import { randomBytes } from 'node:crypto';

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}
