/**
 * The Store conformance suite: one set of behaviours every dialect must show, exercised only
 * through the Store contract (no SQL). Not a test file itself — sqlite.test.ts and
 * postgres.test.ts call runStoreConformance() with a factory that yields a fresh store per test.
 */
import { describe } from 'node:test';
import { runRecordsConformance } from './conformance-records.ts';
import { runTenantsConformance } from './conformance/tenants.ts';
import { runAccountsConformance } from './conformance/accounts.ts';
import { runJobsConformance } from './conformance/jobs.ts';
import { runHeldSlotsConformance } from './conformance/heldSlots.ts';
import { runQueueConformance } from './conformance/queue.ts';
import { runQueueOrderConformance } from './conformance/queueOrder.ts';
import { runOutboxConformance } from './conformance/outbox.ts';
import type { StoreHandle } from './conformance/harness.ts';

export type { StoreHandle } from './conformance/harness.ts';

/** The whole suite, role by role, on fresh stores from `makeStore`. */
export function runStoreConformance(name: string, makeStore: () => Promise<StoreHandle>): void {
  describe(`Store conformance: ${name}`, () => {
    runRecordsConformance(makeStore);
    runTenantsConformance(makeStore);
    runAccountsConformance(makeStore);
    runJobsConformance(makeStore);
    runHeldSlotsConformance(makeStore);
    runQueueConformance(makeStore);
    runQueueOrderConformance(makeStore);
    runOutboxConformance(makeStore);
  });
}
