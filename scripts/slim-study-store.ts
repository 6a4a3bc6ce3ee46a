// Make a finished study's SQLite store small enough to commit: keep the trained weights of
// the Pareto front's trials only (the config's keepWeights "front" policy, applied after the
// fact: the committed study configs keep every trial's weights while they run) and VACUUM
// the file. Everything a report, the dashboard or scripts/rerun-front.ts reads stays.
//
//   node --import tsx scripts/slim-study-store.ts --db results/study-resnet20/dsxplore.db --sweep study-resnet20
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { parseSweepConfig } from '../src/config/sweep.js';
import { openStore } from '../src/store/index.js';
import { keepFrontWeights } from '../src/sweep/weights.js';

const { values } = parseArgs({ options: { db: { type: 'string' }, sweep: { type: 'string' } } });
if (!values.db || !values.sweep) {
  console.error('usage: scripts/slim-study-store.ts --db FILE --sweep NAME');
  process.exit(2);
}
const before = statSync(values.db).size;
const store = await openStore(values.db);
let dropped: number;
try {
  const row = await store.getSweep(values.sweep);
  if (!row) throw new Error(`no sweep '${values.sweep}' in ${values.db}`);
  dropped = await keepFrontWeights(store, parseSweepConfig(row.config, `the config of sweep '${values.sweep}'`));
} finally {
  await store.close();
}
// The file stays in WAL mode, as every dsxplore open leaves it, so that reading the
// committed store later does not rewrite its header.
const db = new Database(values.db);
db.exec('VACUUM');
db.pragma('wal_checkpoint(TRUNCATE)');
db.close();
const mb = (n: number) => (n / 1e6).toFixed(1);
console.log(`${values.db}: dropped the weights of ${dropped} trial(s) off the front; ${mb(before)} MB -> ${mb(statSync(values.db).size)} MB`);
