// Per-unit importance and seed reliability on synthetic tables with known structure: a
// table where only one stage's choice matters (beyond cost) ranks that stage first; too
// few designs give the message; the ICC and the seed-mean reliability match the variances
// the table was drawn with; `report --importance` through the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSweepConfig } from '../src/config/sweep.js';
import { planSweep } from '../src/space/index.js';
import { createRng } from '../src/space/rng.js';
import { seedReliability, unitImportance } from '../src/report/importance.js';
import type { CandidateResult } from '../src/domain/candidate.js';
import { openStore } from '../src/store/index.js';
import { runSweep } from '../src/sweep/index.js';
import type { TrainRequest, TrainResult } from '../src/engine/types.js';
import type { LoadedDatasets } from '../src/data/index.js';
import { genomesByHash, syntheticTruth } from './helpers/synthetic-table.js';
import { runCli } from './helpers/cli.js';

const cfg = parseSweepConfig({
  name: 'imp',
  model: 'resnet20',
  dataset: { name: 'mnist' },
  baselines: false,
  recipe: { epochs: 1 },
  space: { variants: ['dw-gpw', 'dw-scc'], cg: [2, 4, 8], co: [0.5], tie: 'stage' },
  search: { kind: 'grid' },
});
const plan = planSweep(cfg);
const byHash = genomesByHash(plan.space, plan.access);

function candidates(truth: ReturnType<typeof syntheticTruth>, count?: number): CandidateResult[] {
  return plan.search.initial().slice(0, count).map((c) => {
    const g = byHash.get(c.hash)!;
    const seedAccuracies = [0, 1].map((s) => truth.seeded(g, s));
    return {
      hash: c.hash,
      label: c.label,
      baseline: false,
      variants: c.variants,
      accuracy: (seedAccuracies[0]! + seedAccuracies[1]!) / 2,
      accuracyStd: 0,
      seeds: [0, 1],
      seedAccuracies,
      epochs: 1,
      macs: c.macs,
      flops: c.flops,
      params: c.params,
    };
  });
}

test('where only stage 2 matters beyond cost, stage 2 is ranked first with most of the variance', () => {
  const truth = syntheticTruth(plan.space, { seed: 4, unitScale: [0, 0.05, 0], costSlope: 0.1, noise: 0.002 });
  const r = unitImportance(candidates(truth), 'stage');
  assert.ok(r.ok, !r.ok ? r.message : '');
  assert.equal(r.designs, 216);
  assert.equal(r.units.length, 3);
  assert.equal(r.units[0]!.name, 'stage2');
  assert.ok(r.units[0]!.share > 0.8, `stage2 explains ${r.units[0]!.share}`);
  for (const u of r.units.slice(1)) assert.ok(u.share < 0.1, `${u.name} explains ${u.share}`);
  assert.ok(r.costShare > 0.2, 'the cost trend is taken out first');
});

test('too few designs give the message with the number needed', () => {
  const truth = syntheticTruth(plan.space, { seed: 4 });
  // every 11th design: all three stages vary, 20 designs for 3 x 6 options
  const some = candidates(truth).filter((_, i) => i % 11 === 0);
  assert.equal(some.length, 20);
  const r = unitImportance(some, 'stage');
  assert.equal(r.ok, false);
  assert.equal(r.needed, 36, 'two per option of 3 units x 6 options');
  assert.match(!r.ok ? r.message : '', /needs at least 36 finished designs .* this sweep has 20/);
});

test('ICC and seed-mean reliability match the variances the table was drawn with (5% tolerance)', () => {
  const rng = createRng(1, 2);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const between = 0.02;
  const noise = 0.01;
  const cands = Array.from({ length: 3000 }, (_, i) => {
    const m = 0.8 + between * normal();
    const seedAccuracies = [m + noise * normal(), m + noise * normal()];
    return { ...candidates(syntheticTruth(plan.space), 1)[0]!, hash: String(i), seedAccuracies };
  });
  const r = seedReliability(cands)!;
  const icc = between ** 2 / (between ** 2 + noise ** 2); // 0.8
  const reliability = (2 * icc) / (1 + icc); // Spearman-Brown for 2 seeds: 0.889
  assert.ok(Math.abs(r.icc - icc) < 0.05 * icc, `icc ${r.icc} vs ${icc}`);
  assert.ok(Math.abs(r.reliability - reliability) < 0.05 * reliability, `reliability ${r.reliability} vs ${reliability}`);
  assert.ok(Math.abs(r.seedSd - noise) < 0.05 * noise);
  assert.equal(seedReliability(cands.slice(0, 2)), null, 'two designs are too few');
  // the bootstrap intervals: around the estimate, tight over 3,000 designs, wide over 24, and
  // the same on every call (a fixed generator seed)
  const [lo, hi] = r.reliabilityInterval;
  assert.ok(lo <= r.reliability && r.reliability <= hi && hi - lo < 0.03, `reliability interval ${lo}-${hi}`);
  assert.ok(r.iccInterval[0] <= r.icc && r.icc <= r.iccInterval[1]);
  const pilot = seedReliability(cands.slice(0, 24))!;
  const [plo, phi] = pilot.reliabilityInterval;
  assert.ok(plo <= pilot.reliability && pilot.reliability <= phi, `pilot interval ${plo}-${phi} around ${pilot.reliability}`);
  assert.ok(phi - plo > 4 * (hi - lo), `24 designs measure it more loosely than 3,000: ${plo}-${phi} against ${lo}-${hi}`);
  assert.deepEqual(seedReliability(cands.slice(0, 24)), pilot, 'deterministic');
});

test('report --importance: the message for too few designs, then the ranking as JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-imp-'));
  try {
    const db = join(dir, 'r.db');
    const truth = syntheticTruth(plan.space, { seed: 4, unitScale: [0.05, 0, 0], noise: 0.001 });
    const tiny = { name: 'x', count: 1, shape: [1, 32, 32] as [number, number, number], classes: 10, images: new Uint8Array(1024), labels: new Uint8Array(1), mean: [0.5], std: [0.25] };
    const train = async (req: TrainRequest): Promise<TrainResult> => {
      const acc = truth.seeded(byHash.get(plan.access.hash(req.spec))!, req.recipe.seed);
      return { status: 'done', device: 'cpu', threads: 1, params: 1, testAccuracy: acc, testLoss: 1, trainLoss: 1, trainAccuracy: acc, epochs: [], seconds: 0.01, imagesPerSecond: 1 };
    };
    const store = await openStore(db);
    const loadData = (): LoadedDatasets => ({ train: tiny, test: tiny });
    await runSweep({ store, config: { ...cfg, name: 'few', search: { kind: 'random', n: 12, seed: 0 } }, train, loadData });
    await runSweep({ store, config: { ...cfg, name: 'many', search: { kind: 'random', n: 60, seed: 0 } }, train, loadData });
    await store.close();
    const few = await runCli(['report', '--db', db, '--sweep', 'few', '--importance']);
    assert.equal(few.code, 0, few.err);
    assert.match(few.out, /^importance: sweep few: importance needs at least \d+ finished designs \(two per option of every unit: .*\); this sweep has 12\n$/);
    const many = await runCli(['report', '--db', db, '--sweep', 'many', '--importance', '--json']);
    assert.equal(many.code, 0, many.err);
    const j = JSON.parse(many.out);
    assert.equal(j.importance.ok, true);
    assert.equal(j.importance.units[0].name, 'stage1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
