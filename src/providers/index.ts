/** The providers this build knows, by the id written in job ids and in the `provider` column. */
import type { Provider } from '../scheduler/provider.ts';
import { pixverseProvider } from './pixverse/provider.ts';

export { pixverseProvider, PIXVERSE_PROVIDER_ID } from './pixverse/provider.ts';

export const PROVIDERS: ReadonlyMap<string, Provider> = new Map([[pixverseProvider.id, pixverseProvider]]);
