export { SqliteStore, openSqliteStore } from './store.ts';
export { MIGRATIONS, migrate, type Migration } from './migrations.ts';
export { chooseAccount, type AccountChoice } from './admission.ts';
export { BUSY_TIMEOUT_MS } from './database.ts';
