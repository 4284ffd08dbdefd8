export { createSqliteStore, openSqliteStore, type SqliteStore } from './store.ts';
export { MIGRATIONS } from './migrations.ts';
export type { Migration } from '../migration.ts';
export { migrate } from './migrate.ts';
export { chooseAccount, type AccountChoice } from '../fairness.ts';
export { BUSY_TIMEOUT_MS } from './database.ts';
