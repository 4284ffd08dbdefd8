/**
 * Standalone simulator of PixVerse's Platform API (/openapi/v2), used by tests, the bench and
 * `pixgate simulator`. See server.ts for the HTTP side and engine.ts for job/concurrency state.
 */
export { startSimulator } from './server.ts';
export { parseDurationRange } from './options.ts';
export type { KeyStats, RunningSimulator, SimStats, SimulatorOptions } from './options.ts';
