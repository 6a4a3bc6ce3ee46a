// The tabular benchmark as one CSV row per finished trial, for readers without dsxplore:
// design hash and label, each unit's option, seed, epochs, accuracy (and after each epoch),
// MACs, params and the measured latency.
//
//   node --import tsx scripts/table-csv.ts --db results/table-resnet20/dsxplore.db --sweep table-resnet20 > table.csv
import { parseArgs } from 'node:util';
import { formatVariant } from '../src/models/notation.js';
import { openStoreForReading } from '../src/store/index.js';

const { values } = parseArgs({ options: { db: { type: 'string' }, sweep: { type: 'string' } } });
if (!values.db || !values.sweep) {
  console.error('usage: scripts/table-csv.ts --db FILE --sweep NAME');
  process.exit(2);
}
const store = await openStoreForReading(values.db);
try {
  const trials = (await store.trials(values.sweep)).filter((t) => t.state === 'done' || t.state === 'diverged');
  const slots = trials[0]?.variants.length ?? 0;
  const maxEpochs = Math.max(0, ...trials.map((t) => t.epochs));
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const head = ['hash', 'label', 'baseline', 'seed', 'epochs', 'state', 'accuracy', ...Array.from({ length: maxEpochs }, (_, i) => `accuracy_epoch_${i + 1}`), 'macs', 'params', 'latency_ms', ...Array.from({ length: slots }, (_, i) => `slot_${i}`)];
  const lines = [head.join(',')];
  for (const t of trials.sort((a, b) => a.candidateHash.localeCompare(b.candidateHash) || a.seed - b.seed || a.epochs - b.epochs)) {
    const curve = await store.epochMetrics(t.id);
    lines.push(
      [
        t.candidateHash,
        q(t.label),
        String(t.baseline),
        String(t.seed),
        String(t.epochs),
        t.state,
        t.accuracy === null ? '' : String(t.accuracy),
        ...Array.from({ length: maxEpochs }, (_, i) => String(curve.find((m) => m.epoch === i + 1)?.testAccuracy ?? '')),
        String(t.macs),
        String(t.params),
        t.latencyMs === null || t.latencyMs === undefined ? '' : String(t.latencyMs),
        ...t.variants.map((v) => q(formatVariant(v))),
      ].join(','),
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await store.close();
}
