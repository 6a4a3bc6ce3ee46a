// Run as a child process: open a store of the kind named by argv[2] ('sqlite' or 'postgres',
// the latter at a port where nothing listens) and print which database drivers got loaded.
import { createRequire } from 'node:module';
import { openStore, openStoreUrl } from '../../src/store/index.js';

if (process.argv[2] === 'postgres') await openStoreUrl('postgres://dsx@127.0.0.1:1/none').catch(() => {});
else await (await openStore(':memory:')).close();
const loaded = Object.keys(createRequire(import.meta.url).cache);
const drivers = ['better-sqlite3', 'pg'].filter((d) => loaded.some((k) => k.includes(`/node_modules/${d}/`)));
process.stdout.write(JSON.stringify(drivers));
