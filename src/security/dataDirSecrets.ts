/**
 * Secrets that default to files in the data dir (mode 0600): the master key and the admin
 * token. Generated on first start so a fresh install is secure without configuration.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LoadedSecret {
  value: string;
  /** True when this call generated and saved it (the caller prints it once). */
  generated: boolean;
  path: string | null;
}

export function loadOrCreateSecret(
  dataDir: string,
  fileName: string,
  fromEnv: string | undefined,
  make: () => string,
): LoadedSecret {
  if (fromEnv && fromEnv.trim() !== '') return { value: fromEnv.trim(), generated: false, path: null };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, fileName);
  if (existsSync(path)) return { value: readFileSync(path, 'utf8').trim(), generated: false, path };
  const value = make();
  // 'wx' fails if another process created the file between the check and the write;
  // then that process's value wins and we read it.
  try {
    writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
  } catch {
    return { value: readFileSync(path, 'utf8').trim(), generated: false, path };
  }
  chmodSync(path, 0o600);
  return { value, generated: true, path };
}

export function newMasterKeyText(): string {
  return randomBytes(32).toString('hex');
}

export function newAdminToken(): string {
  return `admin-${randomBytes(24).toString('base64url')}`;
}
