// `dsxplore store migrate`: bring a store's schema up to this build's version (SQLite or
// PostgreSQL). Opening a store for writing migrates it too; this command does it on
// purpose, before workers start, and says what it did.
import type { Command } from 'commander';
import { addFlagsAndRun, jsonFlag, parseFlags, STORE_FLAGS } from '../config/flags.js';
import { openStoreUrl, storeUrl, SCHEMA_VERSION } from '../store/index.js';

export async function migrateCommand(opts: { store?: string; db?: string; json?: boolean }): Promise<number> {
  const url = storeUrl(opts);
  // open without migrating, to tell "was at N" from "is at M"
  const before = await (async () => {
    const s = await openStoreUrl(url, { migrate: false });
    try {
      return await s.schemaVersion();
    } finally {
      await s.close();
    }
  })();
  const store = await openStoreUrl(url);
  try {
    const after = await store.schemaVersion();
    const from = before ?? after;
    const msg =
      from === after
        ? `${store.location}: schema is at version ${after} (this dsxplore's newest is ${SCHEMA_VERSION}); nothing to do`
        : `${store.location}: schema migrated from version ${from} to ${after}`;
    process.stdout.write(opts.json ? `${JSON.stringify({ store: store.location, from, to: after, newest: SCHEMA_VERSION })}\n` : `${msg}\n`);
    return after;
  } finally {
    await store.close();
  }
}

const MIGRATE_FLAGS = {
  store: STORE_FLAGS.store.withHelp('sqlite:PATH or postgres://user:password@host:5432/db (default: $DSXPLORE_STORE, else --db)'),
  db: STORE_FLAGS.db.withHelp('SQLite shorthand for --store sqlite:PATH'),
  json: jsonFlag('print one JSON object'),
};

export function registerStore(program: Command): void {
  const store = program.command('store').description('manage a results store (SQLite file or PostgreSQL database)');
  const migrate = store.command('migrate').description('create the tables or upgrade the schema of a store to this dsxplore version');
  addFlagsAndRun(migrate, MIGRATE_FLAGS, (raw) => migrateCommand(parseFlags(MIGRATE_FLAGS, raw)));
}
