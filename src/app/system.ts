/** Readiness and provider webhook intake: the two services with no tenant behind them. */
import type { WebhookOutcome } from '../scheduler/webhookIntake.ts';
import type { EngineParts } from './engine.ts';

export class SystemService {
  constructor(private readonly engine: EngineParts) {}

  /** Migrations this code knows that the store has not applied (a query, so it also proves the store answers). */
  pendingMigrations(): Promise<number> {
    return this.engine.store.pendingMigrations();
  }
}

export class ProviderWebhooks {
  /** How far a delivery's timestamp may be from the gateway clock (the provider's window). */
  readonly toleranceMs: number;

  constructor(private readonly engine: EngineParts) {
    this.toleranceMs = engine.scheduler.ctx.provider.webhook?.toleranceMs ?? 0;
  }

  /** A provider's webhook delivery: checked against the job's account secret, then acted on. */
  receive(header: (name: string) => string | undefined, rawBody: string): Promise<WebhookOutcome> {
    return this.engine.scheduler.upstreamWebhook(header, rawBody);
  }
}
