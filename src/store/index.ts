// The store's front door: open the database a sweep, worker, report or export works on.
// A store is named by a URL: `sqlite:PATH` (the embedded default, one machine) or
// `postgres://user:password@host:port/db` (one database shared by workers on many
// machines). `--store URL` wins, then `--db PATH` (SQLite shorthand), then
// $DSXPLORE_STORE, then $DSXPLORE_DB, then results/dsxplore.db under the current directory.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { SqlStore } from './sql-store.js';
import { checkSchema, migrate } from './migrations.js';
import { redactUrl } from './url.js';
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

export interface OpenOptions {
  /** apply missing migrations (default true; never with readOnly) */
  migrate?: boolean;
  /** read only: SQLite opened readonly (the file must exist), PostgreSQL with
   * default_transaction_read_only=on; no migration, and the schema must be this build's */
  readOnly?: boolean;
}

/** Open (creating and migrating when needed) the SQLite database at `path`. */
export async function openStore(path: string = defaultDbPath(), opts: OpenOptions = {}): Promise<SqlStore> {
  return openLocation({ kind: 'sqlite', path }, opts);
}

/** Open (creating and migrating when needed) the store a URL names. */
export async function openStoreUrl(url: string, opts: OpenOptions = {}): Promise<SqlStore> {
  return openLocation(parseStoreUrl(url), opts);
}

/** How long a worker keeps trying to reach a PostgreSQL server it lost: $DSXPLORE_RECONNECT_TIMEOUT seconds (300). */
export function reconnectTimeoutMs(): number {
  const v = process.env.DSXPLORE_RECONNECT_TIMEOUT;
  if (v === undefined || v === '') return 300_000;
  const parsed = z.coerce.number().positive().safeParse(v);
  if (!parsed.success) throw new UsageError(`$DSXPLORE_RECONNECT_TIMEOUT must be a number of seconds > 0, not '${v}'`);
  return parsed.data * 1000;
}

async function openLocation(loc: StoreLocation, opts: OpenOptions): Promise<SqlStore> {
  let store: SqlStore;
  if (loc.kind === 'sqlite') {
    // imported here so that a PostgreSQL worker never loads better-sqlite3
    const { openSqliteExecutor, SQLITE } = await import('./sqlite.js');
    const { executor, location } = openSqliteExecutor(loc.path, { readOnly: opts.readOnly });
    store = new SqlStore(executor, SQLITE, location, false);
  } else {
    const { PgExecutor, POSTGRES } = await import('./postgres.js');
    const executor = await PgExecutor.open(loc.url, {
      readOnly: opts.readOnly,
      reconnect: { giveUpAfterMs: reconnectTimeoutMs() },
    });
    store = new SqlStore(executor, POSTGRES, executor.location, true);
  }
  try {
    if (opts.readOnly) {
      const flag = loc.kind === 'sqlite' ? `--db ${loc.path}` : `--store ${redactUrl(loc.url)}`;
      await checkSchema(store.executor, store.dialect, store.location, flag);
    } else if (opts.migrate !== false) {
      await migrate(store.executor, store.dialect, store.location);
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/** Open an existing store read-only, for reports, exports, replays and the dashboard:
 * nothing is written (a sweep may be writing the same WAL database meanwhile, and a store
 * committed beside a study stays as committed), so an older schema is refused with the
 * `dsxplore store migrate` line to run, and a missing SQLite file is the user's to fix.
 * Accepts a URL or, for compatibility, a bare SQLite path. */
export async function openStoreForReading(urlOrPath: string = `sqlite:${defaultDbPath()}`): Promise<SweepStore> {
  const loc: StoreLocation =
    /^sqlite:|:\/\//.test(urlOrPath) ? parseStoreUrl(urlOrPath) : { kind: 'sqlite', path: urlOrPath };
  if (loc.kind === 'sqlite' && loc.path !== ':memory:' && !existsSync(loc.path)) {
    throw new UsageError(
      `no results database at ${loc.path}; run a sweep first (dsxplore sweep --config FILE) or pass --db PATH / --store URL`,
    );
  }
  return openLocation(loc, { readOnly: true });
}

export { SqlStore } from './sql-store.js';
export { StoreError } from './errors.js';
export type { Executor, Dialect } from './executor.js';
export { redactUrl } from './url.js';
export { resolveSweep, SweepNotFound, type ResolveOptions } from './resolve.js';
export { MIGRATIONS, SCHEMA_VERSION, migrate, migrationSql, type Migration } from './migrations.js';
export * from './store.js';
export type { StoreReader, MaybePromise, StoredWeights } from './types.js';
