// Design spaces on the real model zoo: exact size and constraint filtering against
// brute-force enumeration of built specs, grid and random sampling, NSGA-II determinism,
// baselines and successive-halving promotion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSweepConfig, type SweepConfig } from '../src/config/sweep.js';
import { countTotals } from '../src/cost/index.js';
import { buildModel, type VariantChoice } from '../src/models/index.js';
import type { Variant } from '../src/models/spec.js';
import {
  countFeasible,
  countFeasibleExact,
  decodeIndex,
  encodeGenome,
  enumerateGrid,
  genomeCost,
  genomeKey,
  genomeVariants,
  planSweep,
  promoteByRank,
  sampleRandom,
  type FinishedResult,
} from '../src/space/index.js';
import type { Candidate } from '../src/domain/candidate.js';

function config(over: Record<string, unknown> = {}): SweepConfig {
  return parseSweepConfig({
    name: 't',
    model: 'resnet20',
    dataset: { name: 'mnist' },
    space: { variants: ['std', 'dw-gpw', 'dw-scc'], cg: [2, 32], co: [0, 0.5, 0.75], tie: 'stage' },
    search: { kind: 'grid' },
    ...over,
  });
}

// the choices the config above allows, written out by hand
const CHOICES: VariantChoice[] = [
  { kind: 'std' },
  { kind: 'dw-gpw', cg: 2 },
  { kind: 'dw-gpw', cg: 32 },
  ...[2, 32].flatMap((cg) => [0, 0.5, 0.75].map((co) => ({ kind: 'dw-scc' as const, cg, co }))),
];
const STAGES = [1, 2, 3];

// every assignment of a choice per stage that builds, deduplicated by the layers it makes
function bruteForce(): Map<string, { variants: Variant[]; macs: number; params: number }> {
  const slots = buildModel('resnet20', { inChannels: 1, inputSize: 32, classes: 10 }).slots;
  const stageOf = slots.map((s) => Number(/^stage(\d+)/.exec(s.name)?.[1] ?? NaN));
  assert.ok(stageOf.every((s) => STAGES.includes(s)), 'resnet20 slot names carry their stage');
  const out = new Map<string, { variants: Variant[]; macs: number; params: number }>();
  for (let a = 0; a < CHOICES.length ** 3; a++) {
    const pick = [a % CHOICES.length, Math.floor(a / CHOICES.length) % CHOICES.length, Math.floor(a / CHOICES.length ** 2)];
    let spec;
    try {
      spec = buildModel('resnet20', { inChannels: 1, inputSize: 32, classes: 10, variants: stageOf.map((s) => CHOICES[pick[s - 1]]) });
    } catch {
      continue;
    }
    const key = spec.slots
      .map((s) => {
        const v = s.variant;
        return v.kind === 'dw-scc' ? `scc${v.cg}/${v.s}` : v.kind === 'dw-gpw' ? `gpw${v.cg}` : v.kind;
      })
      .join(',');
    if (!out.has(key)) {
      const t = countTotals(spec);
      out.set(key, { variants: spec.slots.map((s) => s.variant), macs: t.macs, params: t.params });
    }
  }
  return out;
}

const brute = bruteForce();
const layersKey = (vs: Variant[]) =>
  vs.map((v) => (v.kind === 'dw-scc' ? `scc${v.cg}/${v.s}` : v.kind === 'dw-gpw' ? `gpw${v.cg}` : v.kind)).join(',');

test('space size equals the number of distinct buildable designs, found by brute force', () => {
  const plan = planSweep(config());
  assert.equal(plan.size, BigInt(brute.size));
  // cg=32 cannot fill the 16-channel slots, and all overlaps coincide where D = 1
  assert.ok(plan.space.units[0].options.length < CHOICES.length);
});

test('the fast cost path equals the cost model on every point, and grid = feasible set', () => {
  const plan = planSweep(config());
  const all = [...enumerateGrid(plan.space)];
  assert.equal(all.length, brute.size);
  for (const g of all) {
    const b = brute.get(layersKey(genomeVariants(plan.space, g)));
    assert.ok(b, 'grid point is a buildable design');
    assert.deepEqual(genomeCost(plan.space, g), { macs: b.macs, params: b.params });
    assert.equal(encodeGenome(plan.space, decodeIndex(plan.space, encodeGenome(plan.space, g))), encodeGenome(plan.space, g));
  }
  const macs = [...brute.values()].map((b) => b.macs).sort((x, y) => x - y);
  const maxMacs = macs[Math.floor(macs.length / 3)];
  const maxParams = [...brute.values()].map((b) => b.params).sort((x, y) => x - y)[Math.floor((2 * brute.size) / 3)];
  const want = [...brute.values()].filter((b) => b.macs <= maxMacs && b.params <= maxParams);
  const constrained = planSweep(config({ constraints: { maxMacs, maxParams } }));
  assert.deepEqual(countFeasible(constrained.space), { count: BigInt(want.length), exact: true });
  const grid = constrained.search.initial();
  assert.equal(grid.length, want.length);
  assert.equal(new Set(grid.map((c) => c.hash)).size, grid.length);
  for (const c of grid) assert.ok(c.macs <= maxMacs && c.params <= maxParams);
  assert.throws(() => planSweep(config(), { maxCandidates: 5 }).search.initial(), /more than 5 candidates/);
});

test('huge spaces are sized exactly as bigints without enumerating', () => {
  const plan = planSweep(config({ model: 'resnet56', space: { variants: ['dw-scc'], cg: [1, 2, 4], s: [1, 2], tie: 'slot' } }));
  assert.equal(plan.space.units.length, plan.space.slots.length);
  // every slot of resnet56 has at least 16 input channels, so all 6 choices fit everywhere
  assert.equal(plan.size, 6n ** BigInt(plan.space.slots.length));
  assert.ok(plan.size > BigInt(Number.MAX_SAFE_INTEGER));
  const a = sampleRandom(plan.space, 50, 7);
  assert.equal(new Set(a.map(genomeKey)).size, 50);
  assert.deepEqual(sampleRandom(plan.space, 50, 7), a);
});

test('random search: distinct, feasible, seeded, and capped by the feasible count', () => {
  const maxMacs = [...brute.values()].map((b) => b.macs).sort((x, y) => x - y)[40];
  const cfg = (seed: number, n: number) =>
    config({ search: { kind: 'random', n, seed }, constraints: { maxMacs } });
  const a = planSweep(cfg(1, 10)).search.initial();
  const b = planSweep(cfg(1, 10)).search.initial();
  const c = planSweep(cfg(2, 10)).search.initial();
  assert.deepEqual(a.map((x) => x.hash), b.map((x) => x.hash));
  assert.notDeepEqual(a.map((x) => x.hash), c.map((x) => x.hash));
  assert.equal(new Set(a.map((x) => x.hash)).size, 10);
  for (const x of a) assert.ok(x.macs <= maxMacs);
  const feasibleCount = [...brute.values()].filter((x) => x.macs <= maxMacs).length;
  assert.equal(planSweep(cfg(3, 1000)).search.initial().length, feasibleCount);
});

// a made-up, deterministic accuracy: more MACs help, with a hash-dependent wobble
function fakeResult(c: Candidate): FinishedResult {
  const wobble = parseInt(c.hash.slice(0, 4), 16) / 65536;
  return { hash: c.hash, accuracy: 0.5 + 0.04 * Math.log10(c.macs) + 0.02 * wobble, macs: c.macs, params: c.params };
}

function runEvolution(seed: number, resumeAt?: number): string[][] {
  const cfg = config({
    space: { variants: ['dw-pw', 'dw-gpw', 'dw-scc'], cg: [1, 2, 4], co: [0, 0.25, 0.5, 0.75], tie: 'slot' },
    search: { kind: 'evolutionary', population: 8, generations: 3, seed },
  });
  let search = planSweep(cfg).search;
  const rounds: Candidate[][] = [search.initial()];
  const done: FinishedResult[] = rounds[0].map(fakeResult);
  for (let r = 1; ; r++) {
    if (r === resumeAt) search = planSweep(cfg).search; // a new process: replays rounds < r
    const batch = search.next(done, r);
    if (batch.length === 0) break;
    rounds.push(batch);
    done.push(...batch.map(fakeResult));
  }
  return rounds.map((b) => b.map((c) => c.hash));
}

test('NSGA-II is deterministic, never repeats a candidate, and replays after a restart', () => {
  const a = runEvolution(5);
  assert.equal(a.length, 4); // initial population + 3 generations
  for (const gen of a) assert.equal(gen.length, 8);
  assert.deepEqual(runEvolution(5), a);
  assert.deepEqual(runEvolution(5, 2), a);
  assert.notDeepEqual(runEvolution(6), a);
  const flat = a.flat();
  assert.equal(new Set(flat).size, flat.length);
});

test('baselines: std, dw-pw, dw-gpw, dw-gpw-shuffle and gc-shuffle at the valid cg values', () => {
  const plan = planSweep(config({ space: { variants: ['dw-scc'], cg: [1, 2, 32], s: [1] } }));
  assert.deepEqual(
    plan.baselines.map((b) => b.label),
    ['std', 'dw-pw', 'dw-gpw:cg=2', 'dw-gpw-shuffle:cg=2', 'gc-shuffle:g=2'],
  );
  assert.ok(plan.baselines.every((b) => b.baseline));
  assert.equal(plan.skippedBaselines.length, 3);
  assert.match(plan.skippedBaselines[0], /dw-gpw:cg=32.*16/);
  assert.match(plan.skippedBaselines[1], /dw-gpw-shuffle:cg=32.*16/);
  // the shuffle-matched baseline has dw-gpw's cost: the shuffle moves data, no MACs
  const [gpw, shuffled] = [plan.baselines[2]!, plan.baselines[3]!];
  assert.equal(shuffled.macs, gpw.macs);
  assert.equal(shuffled.params, gpw.params);
  assert.notEqual(shuffled.hash, gpw.hash);
  const std = plan.baselines[0];
  assert.equal(std.hash, planSweep(config()).baselines[0].hash);
  assert.equal(std.flops, 2 * std.macs);
  assert.deepEqual(planSweep(config({ baselines: false })).baselines, []);
});

test('a space of dw-gpw and dw-gpw-shuffle offers both at every cg, as distinct designs of equal cost', () => {
  const plan = planSweep(config({ space: { variants: ['dw-gpw', 'dw-gpw-shuffle'], cg: [2, 4], tie: 'all' }, baselines: false }));
  assert.equal(plan.size, 4n);
  const got = plan.search.initial();
  assert.deepEqual(got.map((c) => c.label).sort(), ['dw-gpw-shuffle:cg=2', 'dw-gpw-shuffle:cg=4', 'dw-gpw:cg=2', 'dw-gpw:cg=4']);
  const byLabel = new Map(got.map((c) => [c.label, c]));
  for (const cg of [2, 4]) {
    const [a, b] = [byLabel.get(`dw-gpw:cg=${cg}`)!, byLabel.get(`dw-gpw-shuffle:cg=${cg}`)!];
    assert.equal(a.macs, b.macs);
    assert.notEqual(a.hash, b.hash);
  }
});

test('successive halving promotes by Pareto rank, then spread, reproducibly', () => {
  const r = (hash: string, accuracy: number, macs: number) => ({ hash, accuracy, macs, params: 1 });
  const results = [
    r('a', 0.9, 100), // front
    r('b', 0.8, 50), // front
    r('c', 0.85, 120), // dominated by a
    r('d', 0.95, 300), // front
    r('e', 0.7, 60), // dominated by b
    r('f', 0.6, 200), // dominated
  ];
  assert.deepEqual(promoteByRank(results, 2, ['accuracy', 'macs']).sort(), ['a', 'b', 'd']);
  // with 1/3 kept, the two ends of the front (infinite crowding) win, higher accuracy first
  assert.deepEqual(promoteByRank(results, 3, ['accuracy', 'macs']), ['d', 'b']);
  assert.deepEqual(promoteByRank([...results].reverse(), 3, ['accuracy', 'macs']), ['d', 'b']);
  assert.deepEqual(promoteByRank(results.slice(0, 1), 3, ['accuracy', 'macs']), ['a']);
});

test('a grid too large to walk is refused before enumerating', () => {
  const plan = planSweep(
    config({ model: 'resnet56', space: { variants: ['dw-scc'], cg: [1, 2], s: [1, 2], tie: 'slot' }, constraints: { maxMacs: 1 } }),
    { maxCandidates: 1000 },
  );
  const t0 = Date.now();
  assert.throws(() => plan.search.initial(), /too many to enumerate/);
  assert.ok(Date.now() - t0 < 1000);
});

test('NSGA-II beats random search with the same budget on a toy objective', async () => {
  const { normalizedHypervolume, paretoFront } = await import('../src/pareto/index.js');
  const space = { variants: ['dw-scc', 'dw-pw', 'std', 'gc-shuffle'], cg: [1, 2, 4, 8], co: [0.25, 0.5, 0.75], tie: 'slot' };
  // per-slot quality: one cheap SCC setting is nearly as good as std, the rest are poor
  const q = (v: Variant, i: number) =>
    v.kind === 'std' ? 1 : v.kind === 'dw-pw' ? 0.7 : v.kind === 'dw-scc' && v.cg === 2 && v.co === 0.5 ? 0.95 : 0.4 * (1 + 0.1 * Math.sin(i));
  const score = (c: Candidate): FinishedResult => ({
    hash: c.hash,
    accuracy: 0.3 + (0.6 * c.variants.reduce((a, v, i) => a + q(v, i), 0)) / c.variants.length,
    macs: c.macs,
    params: c.params,
  });
  const hv = (rs: FinishedResult[]) => normalizedHypervolume(paretoFront(rs, ['accuracy', 'macs']), ['accuracy', 'macs'], { accuracy: 0, macs: 41e6 });
  for (const seed of [1, 2]) {
    const evo = planSweep(config({ space, search: { kind: 'evolutionary', population: 16, generations: 6, seed } })).search;
    const res = evo.initial().map(score);
    for (let r = 1; ; r++) {
      const b = evo.next(res, r);
      if (b.length === 0) break;
      res.push(...b.map(score));
    }
    const rnd = planSweep(config({ space, search: { kind: 'random', n: res.length, seed } })).search.initial().map(score);
    assert.equal(rnd.length, res.length);
    assert.ok(hv(res) > hv(rnd), `seed ${seed}: NSGA-II ${hv(res)} vs random ${hv(rnd)}`);
  }
});

test('meet-in-the-middle feasible count equals enumeration under every kind of constraint', () => {
  const spaces = [
    { variants: ['std', 'dw-pw'], tie: 'slot' },
    { variants: ['std', 'dw-pw', 'gc-shuffle', 'dw-scc'], cg: [1, 2, 4, 8], co: [0, 0.5, 0.75], tie: 'stage' },
  ];
  for (const sp of spaces) {
    const plan = planSweep(config({ space: sp }));
    const costs = [...enumerateGrid(plan.space)].map((g) => genomeCost(plan.space, g));
    const macs = costs.map((c) => c.macs).sort((a, b) => a - b);
    const params = costs.map((c) => c.params).sort((a, b) => a - b);
    const at = (xs: number[], f: number) => xs[Math.floor(f * (xs.length - 1))];
    const cases = [
      { maxMacs: at(macs, 0.3) },
      { minMacs: at(macs, 0.5) },
      { maxParams: at(params, 0.6) },
      { minMacs: at(macs, 0.2), maxMacs: at(macs, 0.7), maxParams: at(params, 0.5) },
      { minMacs: macs[0], maxMacs: macs[0] }, // boundaries are inclusive
    ];
    for (const constraints of cases) {
      const constrained = planSweep(config({ space: sp, constraints }));
      const want = costs.filter(
        (c) =>
          (constraints.maxMacs === undefined || c.macs <= constraints.maxMacs) &&
          (constraints.minMacs === undefined || c.macs >= constraints.minMacs) &&
          (constraints.maxParams === undefined || c.params <= constraints.maxParams),
      ).length;
      assert.equal(countFeasibleExact(constrained.space), BigInt(want), JSON.stringify(constraints));
    }
  }
  // beyond enumeration but within meet in the middle, countFeasible stays exact
  const big = planSweep(config({ space: { variants: ['std', 'dw-pw', 'dw-scc'], cg: [2], s: [1], tie: 'slot' }, constraints: { maxMacs: 20e6 } }));
  assert.ok(big.size > 2_000_000n);
  assert.equal(countFeasible(big.space).exact, true);
});
