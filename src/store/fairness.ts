/**
 * The scheduling rules the stores apply (account choice, fit classes, queue order, stride
 * arithmetic) live in the dialect-free policy, domain/policy/; this module only hands them to the
 * store's files under their familiar names.
 */
export {
  candidateIndex,
  chooseAccount,
  fitClasses,
  fitsClasses,
  type AccountChoice,
  type FitClass,
} from '../domain/policy/accountChoice.ts';
export {
  assertQueueRank,
  assertTokenWeight,
  compareQueued,
  joinPass,
  NO_TOKEN_KEY,
  passStride,
  QUEUE_ORDER_SQL,
  tokenIdOfKey,
  tokenKey,
  type QueueOrderKey,
} from '../domain/policy/queueOrder.ts';
