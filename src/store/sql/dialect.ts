/**
 * The few things SQLite and PostgreSQL spell differently, in one small object (pg-boss
 * `dialect.ts` style) so every statement is written once. Anything not here — parameters (`$n`),
 * RETURNING, ON CONFLICT … DO UPDATE with `excluded`, TRUE/FALSE, CAST(… AS BIGINT) — is the same
 * text in both.
 */
export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /** `col` is one of the values of array parameter `param` (see `array`). */
  inArray(col: string, param: string): string;
  /** The value to bind for an `inArray` parameter. */
  array(values: readonly (string | number)[] | null): unknown;
  /** Larger / smaller of two non-null values (SQLite's scalar MAX/MIN, PostgreSQL GREATEST/LEAST). */
  greatest(a: string, b: string): string;
  least(a: string, b: string): string;
  /** A boolean parameter (better-sqlite3 binds no booleans). */
  bool(value: boolean): unknown;
  /** ORDER BY of text in byte order: SQLite's default; PostgreSQL's default collation is the locale's. */
  bytewise(col: string): string;
  /**
   * Suffix of a SELECT that reads a row the transaction goes on to change. PostgreSQL locks it
   * (READ COMMITTED would otherwise let another transaction change it in between); SQLite's
   * `BEGIN IMMEDIATE` already holds the database's write lock, so it needs nothing.
   */
  readonly forUpdate: string;
  /** Whether other instances listen for changes (a NOTIFY costs a round trip; skip work for none). */
  readonly notifies: boolean;
}

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  // json_each over a JSON array: one prepared statement serves any number of values.
  inArray: (col, param) => `${col} IN (SELECT value FROM json_each(${param}))`,
  array: (values) => (values === null ? null : JSON.stringify(values)),
  greatest: (a, b) => `MAX(${a}, ${b})`,
  least: (a, b) => `MIN(${a}, ${b})`,
  bool: (value) => (value ? 1 : 0),
  bytewise: (col) => col,
  forUpdate: '',
  notifies: false,
};

export const postgresDialect: Dialect = {
  name: 'postgres',
  inArray: (col, param) => `${col} = ANY(${param})`,
  array: (values) => values,
  greatest: (a, b) => `GREATEST(${a}, ${b})`,
  least: (a, b) => `LEAST(${a}, ${b})`,
  bool: (value) => value,
  bytewise: (col) => `${col} COLLATE "C"`,
  forUpdate: ' FOR UPDATE',
  notifies: true,
};
