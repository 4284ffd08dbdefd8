/** PostgreSQL store for several gateway instances sharing one database. */
export { createPostgresStore, openPostgresStore, type PostgresStore } from './postgresStore.ts';
export { listenForChanges, channelName, channelsFor, CHANNEL_KINDS } from './notify.ts';
export type { ChangeListener, ChannelKind, Channels, ListenOptions } from './notify.ts';
export type { PoolOptions as PostgresStoreOptions } from './pool.ts';
export { MIGRATIONS } from './migrations.ts';
