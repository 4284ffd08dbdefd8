/** PixVerse Platform API adapter: the Upstream implementation plus its pure parsing helpers. */
export {
  PixverseClient,
  createPixverseClient,
  mediaKind,
  API_PREFIX,
  type PixverseClientOptions,
} from './client.ts';
export { classifyErrCode, classifyHttpStatus, CODE_HINTS } from './classify.ts';
export { readEnvelope, parseEnvelope, unwrapEnvelope, envelopeError, type Envelope } from './envelope.ts';
export { parseLossless, stringifyLossless, isIdKey, isJsonObject, type JsonObject } from './json.ts';
export { mapPixverseStatus, toStatusResult, PIXVERSE_STATUS } from './status.ts';
export {
  OPERATIONS,
  RESULT_PATHS,
  ID_FIELDS,
  CATALOGS,
  type OperationSpec,
  type CatalogSpec,
} from './operations.ts';
export {
  parseSubmit,
  parseCatalog,
  parseBalance,
  parseImageUpload,
  parseMediaUpload,
  idOf,
  numberOf,
} from './parse.ts';
export { readWebhook, WEBHOOK_TOLERANCE_MS } from './webhook.ts';
