// The model-based sampler (search kind "model") on the real model zoo and a synthetic
// accuracy table: constraints hold exactly, batches never repeat a design, the same seed
// and results give the same batches (also when a resumed sweep asks for a late round
// first), it runs under successive halving with several lanes, and it reaches 95% of the
// table's true-front hypervolume in fewer evaluations than random search.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSweepConfig, type SweepConfig } from '../src/config/sweep.js';
import { countTotals } from '../src/cost/index.js';
import type { Candidate } from '../src/domain/candidate.js';
import { enumerateGrid, genomeKey, planSweep, type FinishedResult } from '../src/space/index.js';
import { openStore } from '../src/store/index.js';
import { runSweep } from '../src/sweep/index.js';
import type { TrainRequest, TrainResult } from '../src/engine/types.js';
import type { LoadedDatasets } from '../src/data/index.js';
import { evaluationsToReach, genomesByHash, simulate, syntheticTruth } from './helpers/synthetic-table.js';

const SPACE = { variants: ['dw-gpw', 'dw-scc'], cg: [2, 4, 8], co: [0.5], tie: 'stage' };

function config(search: Record<string, unknown>, extra: Record<string, unknown> = {}): SweepConfig {
  return parseSweepConfig({ name: 'm', model: 'resnet20', dataset: { name: 'mnist' }, baselines: false, space: SPACE, search, ...extra });
}

const grid = planSweep(config({ kind: 'grid' }));
const byHash = genomesByHash(grid.space, grid.access);
const everyDesign = [...enumerateGrid(grid.space)];
const truth = syntheticTruth(grid.space, { seed: 3, unitScale: [0.06, 0.06, 0.06] });

function results(cands: readonly Candidate[], seed = 0): FinishedResult[] {
  return cands.map((c) => ({ hash: c.hash, accuracy: truth.seeded(byHash.get(c.hash)!, seed), macs: c.macs, params: c.params }));
}

test('every proposed design meets the constraints, at its exact analytic cost', () => {
  const macs = everyDesign.map((g) => grid.space.base.macs + g.reduce((s, o, u) => s + grid.space.units[u]!.options[o]!.macs, 0)).sort((a, b) => a - b);
  const maxMacs = macs[Math.floor(macs.length / 2)]!;
  const minMacs = macs[Math.floor(macs.length / 8)]!;
  const feasible = macs.filter((m) => m >= minMacs && m <= maxMacs).length;
  const plan = planSweep(config({ kind: 'model', n: feasible + 10, seed: 2, batch: 6 }, { constraints: { maxMacs, minMacs } }));
  const seen: Candidate[] = [];
  let batch = plan.search.initial();
  for (let r = 1; batch.length > 0; r++) {
    seen.push(...batch);
    batch = plan.search.next(results(seen), r);
  }
  assert.equal(seen.length, feasible, 'it proposes every feasible design once, then stops');
  for (const c of seen) {
    assert.ok(c.macs <= maxMacs && c.macs >= minMacs, `${c.label}: ${c.macs} MACs outside [${minMacs}, ${maxMacs}]`);
    assert.equal(c.macs, countTotals(c.spec).macs, 'the cost is the full count of the built spec');
  }
});

test('batches hold the configured number of distinct designs, never one proposed before', () => {
  const plan = planSweep(config({ kind: 'model', n: 40, seed: 5, batch: 5, initial: 10 }));
  assert.equal(plan.search.rounds, 1 + 6);
  const all: Candidate[] = [];
  let batch = plan.search.initial();
  assert.equal(batch.length, 10);
  for (let r = 1; r < plan.search.rounds; r++) {
    all.push(...batch);
    batch = plan.search.next(results(all), r);
    assert.equal(batch.length, 5, `round ${r}`);
  }
  all.push(...batch);
  assert.equal(new Set(all.map((c) => c.hash)).size, 40, 'no design twice');
  assert.deepEqual(plan.search.next(results(all), plan.search.rounds), []);
});

test('the same seed and results give the same batches, also when round 4 is asked first (a resume)', () => {
  const run = () => {
    const plan = planSweep(config({ kind: 'model', n: 30, seed: 11 }));
    const rounds: string[][] = [];
    const all: Candidate[] = [];
    let batch = plan.search.initial();
    for (let r = 1; r <= 4; r++) {
      rounds.push(batch.map((c) => c.hash));
      all.push(...batch);
      batch = plan.search.next(results(all), r);
    }
    rounds.push(batch.map((c) => c.hash));
    return { rounds, all: [...all, ...batch] };
  };
  const a = run();
  const b = run();
  assert.deepEqual(a.rounds, b.rounds);
  const resumed = planSweep(config({ kind: 'model', n: 30, seed: 11 }));
  // a resumed sweep holds every earlier round's results and asks for round 4 directly
  const earlier = a.all.filter((c) => !a.rounds[4]!.includes(c.hash));
  assert.deepEqual(resumed.search.next(results(earlier), 4).map((c) => c.hash), a.rounds[4]);
  const other = planSweep(config({ kind: 'model', n: 30, seed: 12 })).search.initial().map((c) => c.hash);
  assert.notDeepEqual(other, a.rounds[0], 'another seed, another first round');
});

test('under successive halving with two lanes it learns from the rungs and queues no design twice', async () => {
  const fake = async (req: TrainRequest): Promise<TrainResult> => {
    const hash = grid.access.hash(req.spec);
    const acc = truth.seeded(byHash.get(hash)!, req.recipe.seed) - 0.1 / req.recipe.epochs;
    return { status: 'done', device: 'cpu', threads: 1, params: 1, testAccuracy: acc, testLoss: 1, trainLoss: 1, trainAccuracy: acc, epochs: [], seconds: 0.01, imagesPerSecond: 1 };
  };
  const tiny = { name: 'x', count: 1, shape: [1, 32, 32] as [number, number, number], classes: 10, images: new Uint8Array(1024), labels: new Uint8Array(1), mean: [0.5], std: [0.25] };
  const store = await openStore(':memory:');
  const cfg = config({ kind: 'model', n: 24, seed: 1, batch: 6 }, { multiFidelity: { rungs: [1, 3], eta: 3 } });
  const s = await runSweep({ store, config: cfg, jobs: 2, train: fake, loadData: (): LoadedDatasets => ({ train: tiny, test: tiny }) });
  const trials = await store.trials('m');
  const rung0 = trials.filter((t) => t.rung === 0);
  assert.equal(rung0.length, 24, 'n designs at the first rung');
  assert.equal(new Set(rung0.map((t) => t.candidateHash)).size, 24, 'each once');
  assert.ok(trials.some((t) => t.rung === 1 && t.epochs === 3));
  assert.equal(s.counts.failed, 0);
  await store.close();
});

test('it reaches 95% of the true-front hypervolume in fewer evaluations than random search (median of 5 seeds)', () => {
  const median = (kind: string) => {
    const need = [0, 1, 2, 3, 4].map((seed) => {
      const plan = planSweep(config({ kind, n: 60, seed }));
      return evaluationsToReach(simulate(plan.search, truth, byHash, seed), truth, everyDesign, grid.space, 0.95);
    });
    need.sort((a, b) => a - b);
    return need[2]!;
  };
  const model = median('model');
  const random = median('random');
  assert.ok(model < random, `model needed ${model} evaluations, random ${random}`);
  assert.ok(new Set(everyDesign.map(genomeKey)).size === everyDesign.length);
});
