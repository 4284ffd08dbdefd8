export { createSqliteStore, openSqliteStore, type SqliteStore } from './store.ts';
export { MIGRATIONS, type Migration } from './migrations.ts';
export { migrate } from './migrate.ts';
export { chooseAccount, type AccountChoice } from '../fairness.ts';
export { BUSY_TIMEOUT_MS } from './database.ts';
