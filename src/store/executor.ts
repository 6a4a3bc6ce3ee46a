// What the SQL store needs from a database: a small executor (one row, all rows, a change,
// a script, a transaction) and a dialect (how the two databases differ). Queries are written
// once, with `?` placeholders; the PostgreSQL executor numbers them ($1, $2, ...).

export interface RunResult {
  /** rows inserted, updated or deleted */
  changes: number;
}

export interface Executor {
  one<R>(sql: string, params?: readonly unknown[]): Promise<R | undefined>;
  all<R>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** all rows, each an array of its columns in the order selected: no object (and no
   * column name) per row, for queries that read thousands of rows */
  rows<R extends readonly unknown[]>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  run(sql: string, params?: readonly unknown[]): Promise<RunResult>;
  /** several statements without parameters (DDL) */
  script(sql: string): Promise<void>;
  /** `fn` in one transaction: committed when it resolves, rolled back when it throws.
   * Inside, use the executor `fn` is given. */
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Column types of the schema, per dialect. */
export interface SqlTypes {
  /** an auto-numbered integer primary key */
  id: string;
  /** 64-bit integers (MACs, seeds, millisecond clocks) */
  bigint: string;
  /** 64-bit floats */
  real: string;
  /** binary data (trained weights) */
  blob: string;
}

export interface Dialect {
  name: 'sqlite' | 'postgres';
  types: SqlTypes;
  /** appended to a SELECT that reads a row about to change: lock it until commit */
  forUpdate: string;
  /** appended to a SELECT of rows to take: lock them, skipping rows others hold */
  skipLocked: string;
  /** a query giving one row `{ ok }`, truthy when the table `?` exists */
  tableExists: string;
  /** run first in the migration transaction: serializes processes migrating at once */
  migrationLock?: string;
}

/** `?` placeholders numbered for PostgreSQL ($1, $2, ...); our SQL has no `?` in literals. */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
