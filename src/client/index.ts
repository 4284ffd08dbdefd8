/** The typed Pixgate client for library users: `import { PixgateClient } from 'pixgate/client'`. */
export {
  PixgateClient,
  jobTypeOf,
  type ClientOptions,
  type CreateOptions,
  type WaitOptions,
} from './client.ts';
export { PixgateError, PixgateUnreachableError, JobFailedError, WaitTimeoutError } from './errors.ts';
export { jobStatus, type JobStatus } from './jobStatus.ts';
export { download, type DownloadOptions } from './download.ts';
export type * from './types.ts';
