export { createSqliteStore, openSqliteStore, type SqliteStore } from './store.ts';
export { MIGRATIONS, migrate, type Migration } from './migrations.ts';
export { chooseAccount, type AccountChoice } from '../fairness.ts';
export { BUSY_TIMEOUT_MS } from './database.ts';
