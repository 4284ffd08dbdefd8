/**
 * File modes of what Pixgate keeps on disk. Before, the data dir was created 0755 and the SQLite
 * files 0644, so any local user could read tenant data and secrets from them.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';

/** Creates the data dir 0700, and tightens one left by an older version (it is ours alone). */
export function secureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * The database file 0600 before SQLite opens it: SQLite creates its -wal and -shm files with the
 * database file's permissions, so they follow. Files from an older version are tightened too.
 */
export function secureDatabaseFile(path: string): void {
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    if (existsSync(file)) chmodSync(file, 0o600);
  }
}
