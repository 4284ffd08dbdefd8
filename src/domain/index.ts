export * from './job.ts';
export * from './account.ts';
export * from './capacity.ts';
export * from './time.ts';
export * from './ids.ts';
export * from './status.ts';
export * from './errors.ts';
