/**
 * Application services: the orchestration between the HTTP API, the dashboard and the CLI on one
 * side and the engine (store, scheduler, provider client) on the other.
 */
import { AccountService } from './accounts.ts';
import { CallbackLogService } from './callbackLog.ts';
import { DashboardReads } from './dashboard.ts';
import type { EngineParts } from './engine.ts';
import { JobService } from './jobs.ts';
import { ProviderReads } from './providerReads.ts';
import { ProviderWebhooks, SystemService } from './system.ts';
import { TenantService } from './tenants.ts';

export type { EngineParts } from './engine.ts';
export { storeRefusal } from './failures.ts';
export {
  AccountService,
  CallbackLogService,
  DashboardReads,
  JobService,
  ProviderReads,
  ProviderWebhooks,
  SystemService,
  TenantService,
};

export interface Services {
  accounts: AccountService;
  tenants: TenantService;
  jobs: JobService;
  callbacks: CallbackLogService;
  provider: ProviderReads;
  dashboard: DashboardReads;
  webhooks: ProviderWebhooks;
  system: SystemService;
  now: () => number;
}

export function createServices(engine: EngineParts): Services {
  return {
    accounts: new AccountService(engine),
    tenants: new TenantService(engine),
    jobs: new JobService(engine),
    callbacks: new CallbackLogService(engine),
    provider: new ProviderReads(engine),
    dashboard: new DashboardReads(engine),
    webhooks: new ProviderWebhooks(engine),
    system: new SystemService(engine),
    now: engine.now,
  };
}
