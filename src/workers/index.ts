export {
  ClaimLoop,
  type Claimed,
  type ClaimLoopOptions,
  type LeaseLoss,
  type LoopPhase,
  type LoopState,
} from './claimLoop.ts';
export { Lease } from './lease.ts';
export { Sleeper } from './sleeper.ts';
