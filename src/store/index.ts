// The store's front door: open the database a sweep, worker, report or export works on.
// A store is named by a URL: `sqlite:PATH` (the embedded default, one machine) or
// `postgres://user:password@host:port/db` (one database shared by workers on many
// machines). `--store URL` wins, then `--db PATH` (SQLite shorthand), then
// $DSXPLORE_STORE, then $DSXPLORE_DB, then results/dsxplore.db under the current directory.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { SqliteStore } from './sqlite.js';
import type { SweepStore } from './store.js';

export const DEFAULT_DB_PATH = join('results', 'dsxplore.db');

/** The default database path, or $DSXPLORE_DB when set. */
export function defaultDbPath(): string {
  return process.env.DSXPLORE_DB || DEFAULT_DB_PATH;
}

export type StoreLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** Parse `sqlite:PATH` or `postgres://...` (`postgresql://` too); anything else is refused. */
export function parseStoreUrl(url: string): StoreLocation {
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', url };
  if (url.startsWith('sqlite:')) {
    const path = url.startsWith('sqlite://') ? url.slice('sqlite://'.length) : url.slice('sqlite:'.length);
    if (!path) throw new UsageError('--store sqlite:PATH needs a path, e.g. sqlite:results/dsxplore.db');
    return { kind: 'sqlite', path };
  }
  throw new UsageError(
    `--store: '${url}' is not a store URL; allowed: sqlite:PATH (e.g. sqlite:results/dsxplore.db) or ` +
      `postgres://user:password@host:5432/dbname`,
  );
}

/** The store URL that flags and environment select (see the top of this file). */
export function storeUrl(flags: { store?: string; db?: string } = {}): string {
  if (flags.store !== undefined && flags.db !== undefined) {
    throw new UsageError('give either --store URL or --db PATH, not both (--db PATH means --store sqlite:PATH)');
  }
  if (flags.store !== undefined) return flags.store;
  if (flags.db !== undefined) return `sqlite:${flags.db}`;
  if (process.env.DSXPLORE_STORE) return process.env.DSXPLORE_STORE;
  return `sqlite:${defaultDbPath()}`;
}

/** Open (creating and migrating when needed) the SQLite database at `path`. */
export function openStore(path: string = defaultDbPath()): SqliteStore {
  return new SqliteStore(path);
}

/** Open (creating and migrating when needed) the store a URL names. */
export async function openStoreUrl(url: string, opts: { migrate?: boolean } = {}): Promise<SweepStore> {
  const loc = parseStoreUrl(url);
  if (loc.kind === 'sqlite') return new SqliteStore(loc.path);
  const { PgStore } = await import('./postgres.js');
  return PgStore.open(loc.url, opts);
}

/** Open an existing store for reports and exports; a missing SQLite file is the user's to
 * fix (no empty database is created as a side effect of reading). Accepts a URL or, for
 * compatibility, a bare SQLite path. `readOnly` (the dashboard): SQLite opened read-only
 * with no migration, PostgreSQL sessions in read-only transactions with no migration, so
 * the store cannot be written through this handle. */
export async function openStoreForReading(
  urlOrPath: string = `sqlite:${defaultDbPath()}`,
  opts: { readOnly?: boolean } = {},
): Promise<SweepStore> {
  const loc: StoreLocation =
    /^sqlite:|:\/\//.test(urlOrPath) ? parseStoreUrl(urlOrPath) : { kind: 'sqlite', path: urlOrPath };
  if (loc.kind === 'postgres') {
    const { PgStore } = await import('./postgres.js');
    return opts.readOnly ? PgStore.open(loc.url, { migrate: false, readOnly: true }) : PgStore.open(loc.url);
  }
  if (loc.path !== ':memory:' && !existsSync(loc.path)) {
    throw new UsageError(
      `no results database at ${loc.path}; run a sweep first (dsxplore sweep --config FILE) or pass --db PATH / --store URL`,
    );
  }
  return new SqliteStore(loc.path, { readonly: opts.readOnly });
}

export { SqliteStore, migrate } from './sqlite.js';
export { redactUrl } from './url.js';
export { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations.js';
export * from './store.js';
export type { SweepRow, TrialRow, TrialState, StoreReader, MaybePromise, StateCounts } from './types.js';
