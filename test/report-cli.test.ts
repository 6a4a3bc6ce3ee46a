// `dsxplore report` and `dsxplore pareto export|plot` end to end on a real SQLite store
// filled through the store's own API with made-up accuracies (no training).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSweepConfig } from '../src/config/sweep.js';
import { planSweep } from '../src/space/index.js';
import { openStore } from '../src/store/index.js';
import { parseCsv } from '../src/report/export.js';
import { runCli } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'dsx-report-'));
const db = join(dir, 'r.db');

async function fill(name: string, accuracyOf: (macs: number, i: number) => number): Promise<void> {
  const config = parseSweepConfig({
    name,
    model: 'resnet20',
    dataset: { name: 'synthetic' },
    space: { variants: ['dw-scc'], cg: [1, 2, 4], co: [0.25, 0.5], tie: 'stage' },
    search: { kind: 'random', n: 12, seed: 3 },
  });
  const plan = planSweep(config);
  const cands = [...plan.baselines, ...plan.search.initial()];
  const store = await openStore(db);
  try {
    await store.createSweep({ name, config, configHash: name });
    await store.enqueue(
      name,
      cands.map((candidate) => ({ candidate, rung: 0, round: 0, epochs: 1, seed: 0, recipeHash: `r-${name}` })),
    );
    for (let i = 0; ; i++) {
      const claimed = await store.claimNext(name, 'w');
      if (!claimed) break;
      if (i === 2) {
        await store.failTrial(claimed.trial.id, 'w', 'boom');
        continue;
      }
      await store.finishTrial(claimed.trial.id, 'w', {
        state: 'done',
        accuracy: accuracyOf(claimed.trial.macs, i),
        testLoss: 0.1,
        trainLoss: 0.1,
        trainAccuracy: 0.9,
        seconds: 1,
        imagesPerSecond: 100,
        device: 'cpu',
        provenance: {},
      });
    }
  } finally {
    store.close();
  }
}

test('report, export and plot read the most recent sweep by default', async () => {
  await fill('first', () => 0.5);
  await fill('second', (macs, i) => 0.7 + 0.03 * Math.log10(macs) + 0.001 * (i % 5));

  const rep = await runCli(['report', '--db', db, '--json']);
  assert.equal(rep.code, 0, rep.err);
  const j = JSON.parse(rep.out);
  assert.equal(j.sweep, 'second');
  assert.equal(j.counts.failed, 1);
  assert.equal(j.counts.done, j.trials - 1);
  assert.ok(j.front.length >= 1 && j.hypervolume > 0);
  assert.ok(j.baselines.some((b: { baseline: { label: string } }) => b.baseline.label === 'std'));

  const text = await runCli(['report', '--db', db, '--sweep', 'first']);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /sweep first/);
  assert.match(text.out, /Pareto front/);

  const csvFile = join(dir, 'front.csv');
  const ex = await runCli(['pareto', 'export', '--db', db, '--format', 'csv', '--out', csvFile]);
  assert.equal(ex.code, 0, ex.err);
  const [header, ...rows] = parseCsv(readFileSync(csvFile, 'utf8'));
  assert.equal(rows.length, j.front.length);
  assert.deepEqual(rows.map((r) => r[header.indexOf('hash')]).sort(), j.front.map((f: { hash: string }) => f.hash).sort());
  assert.ok(header.includes('slot_0'));

  const js = await runCli(['pareto', 'export', '--db', db, '--format', 'json', '--objectives', 'accuracy,macs,params']);
  assert.equal(js.code, 0, js.err);
  assert.ok(JSON.parse(js.out).length >= rows.length);

  const svgFile = join(dir, 'front.svg');
  const pl = await runCli(['pareto', 'plot', '--db', db, '--out', svgFile]);
  assert.equal(pl.code, 0, pl.err);
  assert.match(readFileSync(svgFile, 'utf8'), /<path class="front"/);
});

test('bad flags and names exit 2 with the allowed values', async () => {
  const a = await runCli(['report', '--db', db, '--sweep', 'nope']);
  assert.equal(a.code, 2);
  assert.match(a.err, /no sweep named "nope".*first, second/);
  const b = await runCli(['pareto', 'export', '--db', db, '--objectives', 'accuracy,energy']);
  assert.equal(b.code, 2);
  assert.match(b.err, /allowed values: accuracy, macs, params, latency/);
  const c = await runCli(['pareto', 'export', '--db', db, '--format', 'xml']);
  assert.equal(c.code, 2);
  const d = await runCli(['report', '--db', join(dir, 'missing.db')]);
  assert.equal(d.code, 2);
  assert.match(d.err, /no results database/);
});
