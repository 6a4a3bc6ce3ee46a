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
import { candidate, outcome, trial } from './helpers/store-fixtures.js';
import type { Variant } from '../src/models/spec.js';

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

// Overlap's and mixing's effects per cg, on a store whose answers are known by construction:
// every design has two seeds, and the seed ranges are disjoint or overlapping on purpose.
test('report, report --json and the findings page separate overlap from mixing, with verdicts each way', async () => {
  const name = 'effects';
  const scc = (cg: number, co: number): Variant[] => [16, 32].map((cin) => ({ kind: 'dw-scc', cg, co, s: Math.max(1, cin / cg - Math.round(co * (cin / cg))) }));
  const same = (v: Variant): Variant[] => [v, v];
  const designs: [string, Variant[], number, boolean, [number, number]][] = [
    // cg = 2: overlap helps, the shuffle hurts
    ['dw-scc:cg=2,co=0', scc(2, 0), 2000, false, [0.8, 0.81]],
    ['dw-scc:cg=2,co=0.5', scc(2, 0.5), 2000, false, [0.85, 0.86]],
    ['dw-gpw:cg=2', same({ kind: 'dw-gpw', cg: 2 }), 2000, true, [0.84, 0.85]],
    ['dw-gpw-shuffle:cg=2', same({ kind: 'dw-gpw-shuffle', cg: 2 }), 2000, true, [0.8, 0.81]],
    // cg = 4: the best co > 0 (co = 0.25) is within noise of co = 0; the shuffle helps
    ['dw-scc:cg=4,co=0', scc(4, 0), 1000, false, [0.8, 0.82]],
    ['dw-scc:cg=4,co=0.25', scc(4, 0.25), 1000, false, [0.81, 0.83]],
    ['dw-scc:cg=4,co=0.5', scc(4, 0.5), 1000, false, [0.75, 0.76]],
    ['dw-gpw:cg=4', same({ kind: 'dw-gpw', cg: 4 }), 1000, true, [0.7, 0.71]],
    ['dw-gpw-shuffle:cg=4', same({ kind: 'dw-gpw-shuffle', cg: 4 }), 1000, true, [0.78, 0.79]],
    // cg = 8: overlap hurts; no dw-gpw-shuffle, so mixing is not compared
    ['dw-scc:cg=8,co=0', scc(8, 0), 500, false, [0.8, 0.81]],
    ['dw-scc:cg=8,co=0.5', scc(8, 0.5), 500, false, [0.7, 0.71]],
    ['dw-gpw:cg=8', same({ kind: 'dw-gpw', cg: 8 }), 500, true, [0.7, 0.72]],
    // not uniform: one slot overlaps, the other does not; it must not be taken for either side
    ['mixed', [scc(2, 0)[0]!, scc(2, 0.5)[1]!], 2000, false, [0.99, 0.99]],
  ];
  const accuracyOf = new Map<string, [number, number]>();
  const store = await openStore(db);
  try {
    await store.createSweep({ name, config: { model: 'resnet20', dataset: { name: 'synthetic' }, seeds: [0, 1] }, configHash: name });
    const cands = designs.map(([label, variants, macs, baseline, accs]) => {
      const c = { ...candidate(label, macs, baseline), variants };
      accuracyOf.set(c.hash, accs);
      return c;
    });
    await store.enqueue(name, cands.flatMap((c) => [trial(c, { seed: 0 }), trial(c, { seed: 1 })]));
    for (;;) {
      const claimed = await store.claimNext(name, 'w');
      if (!claimed) break;
      const acc = accuracyOf.get(claimed.trial.candidateHash)![claimed.trial.seed]!;
      await store.finishTrial(claimed.trial.id, 'w', outcome(acc, { seed: claimed.trial.seed }));
    }
  } finally {
    store.close();
  }

  const rep = await runCli(['report', '--db', db, '--sweep', name, '--json']);
  assert.equal(rep.code, 0, rep.err);
  const byCg = JSON.parse(rep.out).effects.byCg as { cg: number; overlap: Record<string, any>; mixing: Record<string, any> }[];
  const got = byCg.map((e) => [e.cg, e.overlap.treatment?.label ?? null, e.overlap.verdict, e.mixing.verdict]);
  assert.deepEqual(got, [
    [2, 'dw-scc:cg=2,co=0.5', 'better', 'worse'],
    [4, 'dw-scc:cg=4,co=0.25', 'within-noise', 'better'],
    [8, 'dw-scc:cg=8,co=0.5', 'worse', null],
  ]);
  assert.equal(byCg[0]!.overlap.reference.label, 'dw-scc:cg=2,co=0');
  assert.deepEqual(byCg[0]!.overlap.reference.range, [0.8, 0.81]);
  assert.ok(Math.abs(byCg[0]!.overlap.diff - 0.05) < 1e-9);
  assert.equal(byCg[1]!.mixing.reference.label, 'dw-gpw:cg=4');
  assert.match(byCg[2]!.mixing.missing, /dw-gpw-shuffle:cg=8 not trained/);

  const text = await runCli(['report', '--db', db, '--sweep', name]);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /What overlap and channel mixing each buy/);
  assert.match(text.out, /overlap helps, beyond the seeds' spread/);
  assert.match(text.out, /the shuffle hurts, beyond the seeds' spread/);

  const page = join(dir, 'effects', 'README.md');
  const md = await runCli(['report', '--db', db, '--sweep', name, '--format', 'markdown', '--out', page]);
  assert.equal(md.code, 0, md.err);
  const body = readFileSync(page, 'utf8');
  assert.match(body, /## Overlap and channel mixing, separated/);
  assert.match(body, /\| 4 \| overlap \(best co > 0 against co = 0\) \| dw-scc:cg=4,co=0\.25 \| 82\.00% \(2 seeds: 81\.00–83\.00\) \| dw-scc:cg=4,co=0 \| 81\.00% \(2 seeds: 80\.00–82\.00\) \| \+1\.00 pt \| within noise \|/);
  assert.match(body, /cg = 8\. Overlap: \*\*dw-scc:cg=8,co=0\.5\*\*.*overlap hurts.*Mixing: dw-gpw-shuffle:cg=8 not trained/);
});
