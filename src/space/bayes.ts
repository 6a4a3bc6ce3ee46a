// The model-based sampler (search kind "model"): a seeded random first round, then rounds
// of `batch` designs chosen by expected hypervolume improvement (EHVI) over the current
// front. Only accuracy is unknown: it is modelled by a bootstrap ensemble of kernel ridge
// fits (surrogate.ts); MACs and params come from the analytic cost of the space, exactly,
// and latency, where it is an objective, from the measured latencies of evaluated designs
// (a log-latency fit over the same kernel for the rest: latency is a deterministic,
// nearly additive function of the units' choices). Constraints are applied exactly: the
// candidate pool holds feasible designs only.
//
// EHVI is a Monte Carlo mean over the ensemble's members: each member's accuracy for a
// design, with the design's exact cost, gives a hypervolume improvement over the front;
// their mean is the design's score. A batch is chosen greedily: after each pick, the
// design's mean prediction joins the front as a fantasy, so the next pick covers another
// part of the front and no design is proposed twice (earlier rounds' designs are excluded
// too). Each round is a pure function of the seed and the results of earlier rounds, so a
// resumed sweep and every worker derive the same batches, and the store queues each round
// once (src/sweep/schedule.ts).
import type { SweepConfig } from '../config/sweep.js';
import { hypervolume } from '../pareto/hypervolume.js';
import { paretoIndices, type Vec } from '../pareto/sort.js';
import { createRng } from './rng.js';
import { enumerateGrid, sampleRandom } from './sample.js';
import { feasible, genomeCost, genomeKey, type Genome, type Space } from './space.js';
import { Ensemble, type Design, type Observation } from './surrogate.js';

export type ModelSearchConfig = Extract<SweepConfig['search'], { kind: 'model' }>;

/** What the sampler learns from a finished candidate. */
export interface ModelResult {
  genome: Genome;
  accuracy: number;
  /** epochs of the rung the result comes from */
  epochs?: number;
  latency?: number | null;
}

/** The defaults of the optional keys, from the space and the budget. Under successive
 * halving (`eta`) a round's batch is eta times larger, so that about four designs of each
 * round reach the last rung. */
export function modelDefaults(sc: ModelSearchConfig, space: Space, eta?: number): { initial: number; batch: number; ensemble: number; pool: number } {
  const batch = sc.batch ?? (eta ? Math.ceil(4 * eta) : 4);
  const initial = Math.min(sc.n, sc.initial ?? Math.max(batch, 2 * space.units.length + 2));
  return { initial, batch, ensemble: sc.ensemble ?? 16, pool: sc.pool ?? 4000 };
}

export function modelRounds(sc: ModelSearchConfig, space: Space, eta?: number): number {
  const d = modelDefaults(sc, space, eta);
  return 1 + Math.ceil(Math.max(0, sc.n - d.initial) / d.batch);
}

/** Designs of round `round` >= 1 (its size: `count`), given the results of the designs
 * proposed before it; `seen` holds every genome key proposed so far and is extended. */
export function proposeBatch(
  space: Space,
  sc: ModelSearchConfig,
  objectives: SweepConfig['objectives'],
  results: readonly ModelResult[],
  seen: Set<string>,
  round: number,
  count: number,
  topEpochs: number | undefined,
  feasibleList: () => Genome[] | undefined,
): Genome[] {
  const d = modelDefaults(sc, space);
  if (count <= 0) return [];
  const pool = candidatePool(space, sc.seed, round, d.pool, seen, results, feasibleList);
  if (pool.length === 0) return [];
  const usable = results.filter((r) => Number.isFinite(r.accuracy));
  if (usable.length < 2) return pick(pool, count, seen);

  const maxEpochs = topEpochs ?? Math.max(...usable.map((r) => r.epochs ?? 1));
  const design = (g: Genome, epochs: number): Design => {
    const c = genomeCost(space, g);
    return { genome: g, logMacs: Math.log(c.macs), logParams: Math.log(c.params), logEpochs: Math.log(epochs) };
  };
  const data: Observation[] = usable.map((r) => ({ ...design(r.genome, r.epochs ?? maxEpochs), accuracy: r.accuracy }));
  const model = Ensemble.fit(data, space.units.length, d.ensemble, sc.seed, round);

  // costs: exact MACs/params; latency measured where known, else from a fit of log latency
  const costs = objectives.filter((o) => o !== 'accuracy');
  const latencyFit = costs.includes('latency') ? latencyModel(space, usable, design) : undefined;
  const costOf = (g: Genome, measured?: number | null): number[] => {
    const c = genomeCost(space, g);
    return costs.map((o) => (o === 'macs' ? c.macs : o === 'params' ? c.params : (measured ?? latencyFit!(g))));
  };
  const ref = referenceCosts(space, costs, [...pool, ...usable.map((r) => r.genome)], costOf);
  const vec = (acc: number, cost: number[]): Vec => [-acc, ...cost.map((c, i) => c / ref[i])];
  const refVec: Vec = [0, ...costs.map(() => 1)];

  // the front: results at the last rung as measured, lower rungs as the model's mean there
  const front: Vec[] = usable.map((r) => {
    const atTop = (r.epochs ?? maxEpochs) >= maxEpochs;
    const acc = atTop ? r.accuracy : mean(model.predict(design(r.genome, maxEpochs)));
    return vec(acc, costOf(r.genome, r.latency));
  });
  const scored = pool.map((g) => ({ g, cost: costOf(g), preds: model.predict(design(g, maxEpochs)) }));
  const out: Genome[] = [];
  let current = paretoIndices(front).map((i) => front[i]);
  while (out.length < count && scored.length > 0) {
    const base = hypervolume(current, refVec);
    let best = -1;
    let bestScore = -Infinity;
    let bestMean = -Infinity;
    for (let i = 0; i < scored.length; i++) {
      const s = scored[i];
      let ehvi = 0;
      for (const a of s.preds) ehvi += hypervolume([...current, vec(a, s.cost)], refVec) - base;
      ehvi /= s.preds.length;
      const m = mean(s.preds);
      // ties (no member improves the front) go to the higher predicted accuracy per cost
      if (ehvi > bestScore + 1e-15 || (Math.abs(ehvi - bestScore) <= 1e-15 && m > bestMean)) {
        best = i;
        bestScore = ehvi;
        bestMean = m;
      }
    }
    const chosen = scored.splice(best, 1)[0];
    out.push(chosen.g);
    seen.add(genomeKey(chosen.g));
    // the pick joins the front at its mean prediction (a fantasy) for the rest of the batch
    const all = [...current, vec(bestMean, chosen.cost)];
    current = paretoIndices(all).map((i) => all[i]);
  }
  return out;
}

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

function pick(pool: Genome[], count: number, seen: Set<string>): Genome[] {
  const out = pool.slice(0, count);
  for (const g of out) seen.add(genomeKey(g));
  return out;
}

/** Feasible designs not yet proposed, in a seeded order: all of them when the space's
 * feasible designs fit in `max`, else a seeded sample plus every one-unit change of the
 * results so far (where the front is likely to improve). */
function candidatePool(
  space: Space,
  seed: number,
  round: number,
  max: number,
  seen: ReadonlySet<string>,
  results: readonly ModelResult[],
  feasibleList: () => Genome[] | undefined,
): Genome[] {
  const rng = createRng(seed, 13, round);
  const all = feasibleList();
  let pool: Genome[];
  if (all) pool = all.filter((g) => !seen.has(genomeKey(g)));
  else {
    const keys = new Set(seen);
    pool = [];
    for (const r of results) {
      for (let u = 0; u < space.units.length; u++) {
        for (let o = 0; o < space.units[u].options.length; o++) {
          const g = [...r.genome];
          g[u] = o;
          const k = genomeKey(g);
          if (keys.has(k) || !feasible(space, g)) continue;
          keys.add(k);
          pool.push(g);
        }
      }
    }
    pool.push(...sampleRandom(space, Math.max(0, max - pool.length), (seed * 31 + round) >>> 0, keys));
  }
  for (let i = pool.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, Math.max(max, 1));
}

/** Every feasible design when the space is small enough to list, else undefined. */
export function listFeasible(space: Space, max: number): Genome[] | undefined {
  if (space.size > BigInt(Math.max(max, 200_000))) return undefined;
  const out: Genome[] = [];
  for (const g of enumerateGrid(space)) {
    out.push(g);
    if (out.length > max * 50) return undefined;
  }
  return out;
}

/** Reference cost per cost objective: the largest in the space (MACs, params: the most
 * expensive option of every unit) or among the designs at hand (latency). */
function referenceCosts(space: Space, costs: readonly string[], designs: readonly Genome[], costOf: (g: Genome) => number[]): number[] {
  const maxG = space.units.map((u) => u.options.reduce((b, o, i) => (o.macs > u.options[b].macs ? i : b), 0));
  const maxP = space.units.map((u) => u.options.reduce((b, o, i) => (o.params > u.options[b].params ? i : b), 0));
  return costs.map((o, k) => {
    if (o === 'macs') return genomeCost(space, maxG).macs;
    if (o === 'params') return genomeCost(space, maxP).params;
    return Math.max(1e-9, ...designs.map((g) => costOf(g)[k])) * 1.0001;
  });
}

/** Latency of a design: a kernel ridge fit of log latency on the measured ones (MACs
 * scaled to the measured ms per MAC when fewer than two are measured). */
function latencyModel(space: Space, results: readonly ModelResult[], design: (g: Genome, e: number) => Design): (g: Genome) => number {
  const measured = results.filter((r) => typeof r.latency === 'number' && r.latency > 0);
  if (measured.length < 2) {
    const perMac = measured.length ? measured[0].latency! / genomeCost(space, measured[0].genome).macs : 1e-6;
    return (g) => genomeCost(space, g).macs * perMac;
  }
  const data = measured.map((r) => ({ ...design(r.genome, 1), accuracy: Math.log(r.latency!) }));
  const fit = Ensemble.fit(data, space.units.length, 1, 0, 0);
  return (g) => Math.exp(fit.predict(design(g, 1))[0]);
}
