/** One numbered schema change; both dialects number the same change alike (test/store/migrations.test.ts). */
export interface Migration {
  version: number;
  name: string;
  /** Empty when the dialect needs no statement for this change (the version is still recorded). */
  sql: string;
}
