// The store's front door: open the database a sweep, report or export works on.
// `openStore()` without a path opens results/dsxplore.db under the current directory,
// creating the directory; the returned object is both the StoreReader the report side
// reads and the SweepStore the runner writes through.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { SqliteStore } from './sqlite.js';

export const DEFAULT_DB_PATH = join('results', 'dsxplore.db');

/** The default database path, or $DSXPLORE_DB when set. */
export function defaultDbPath(): string {
  return process.env.DSXPLORE_DB || DEFAULT_DB_PATH;
}

/** Open (creating and migrating when needed) the database at `path`. */
export function openStore(path: string = defaultDbPath()): SqliteStore {
  return new SqliteStore(path);
}

/** Open an existing database for reports and exports; a missing file is the user's to fix
 * (no empty database is created as a side effect of reading). */
export function openStoreForReading(path: string = defaultDbPath()): SqliteStore {
  if (path !== ':memory:' && !existsSync(path)) {
    throw new UsageError(
      `no results database at ${path}; run a sweep first (dsxplore sweep --config FILE) or pass --db PATH`,
    );
  }
  return new SqliteStore(path);
}

export { SqliteStore, migrate } from './sqlite.js';
export { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations.js';
export * from './store.js';
export type { SweepRow, TrialRow, TrialState, StoreReader } from './types.js';
