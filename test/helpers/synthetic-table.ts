// A synthetic accuracy table over a real design space, for tests of the samplers, replay
// and importance: accuracy rises with log-MACs, each unit's option adds a fixed effect
// (seeded), and each seed adds noise. Pure functions of the seed.
import { createRng } from '../../src/space/rng.js';
import {
  enumerateGrid,
  genomeCost,
  genomeVariants,
  makeCandidate,
  type FinishedResult,
  type Genome,
  type ModelAccess,
  type Search,
  type Space,
} from '../../src/space/index.js';
import { normalizedHypervolume } from '../../src/pareto/objectives.js';

export interface SyntheticTruth {
  /** the design's mean accuracy (over infinitely many seeds) */
  mean(g: Genome): number;
  /** one seed's accuracy */
  seeded(g: Genome, seed: number): number;
}

export function syntheticTruth(
  space: Space,
  opts: { seed?: number; unitScale?: number[]; costSlope?: number; noise?: number } = {},
): SyntheticTruth {
  const rng = createRng(opts.seed ?? 7, 99);
  const scale = opts.unitScale ?? space.units.map(() => 0.03);
  const effects = space.units.map((u, k) => u.options.map(() => (rng.next() - 0.5) * 2 * scale[k]));
  const minMacs = space.base.macs + space.units.reduce((s, u) => s + Math.min(...u.options.map((o) => o.macs)), 0);
  const maxMacs = space.base.macs + space.units.reduce((s, u) => s + Math.max(...u.options.map((o) => o.macs)), 0);
  const slope = opts.costSlope ?? 0.08;
  const mean = (g: Genome) => {
    const m = genomeCost(space, g).macs;
    const t = maxMacs > minMacs ? Math.log(m / minMacs) / Math.log(maxMacs / minMacs) : 0;
    return 0.8 + slope * t + g.reduce((s, o, u) => s + effects[u]![o]!, 0);
  };
  const noise = opts.noise ?? 0.004;
  return {
    mean,
    seeded: (g, seed) => {
      const r = createRng(seed, 5, ...g);
      // a sum of uniforms: roughly normal, bounded
      const e = (r.next() + r.next() + r.next() - 1.5) * 2 * noise;
      return mean(g) + e;
    },
  };
}

/** Every feasible design of a small space by candidate hash, with its genome. */
export function genomesByHash(space: Space, access: ModelAccess): Map<string, Genome> {
  const out = new Map<string, Genome>();
  for (const g of enumerateGrid(space)) out.set(makeCandidate(access, genomeVariants(space, g), '').hash, g);
  return out;
}

/** Run a search to its end against the table, every round's results fed back at once (one
 * seed per design); the designs in the order they were evaluated. */
export function simulate(search: Search, truth: SyntheticTruth, byHash: Map<string, Genome>, seed = 0): { hash: string; genome: Genome; macs: number; params: number }[] {
  const order: { hash: string; genome: Genome; macs: number; params: number }[] = [];
  const results: FinishedResult[] = [];
  let batch = search.initial();
  for (let round = 1; ; round++) {
    for (const c of batch) {
      const g = byHash.get(c.hash)!;
      order.push({ hash: c.hash, genome: g, macs: c.macs, params: c.params });
      results.push({ hash: c.hash, accuracy: truth.seeded(g, seed), macs: c.macs, params: c.params });
    }
    if (round >= search.rounds) break;
    batch = search.next(results, round);
    if (batch.length === 0) break;
  }
  return order;
}

/** Evaluations until the true-mean hypervolume of what was evaluated reaches `share` of the
 * whole table's (Infinity when never). */
export function evaluationsToReach(order: readonly { genome: Genome; macs: number; params: number }[], truth: SyntheticTruth, all: readonly Genome[], space: Space, share: number): number {
  const point = (g: Genome) => ({ accuracy: truth.mean(g), ...genomeCost(space, g) });
  const every = all.map(point);
  const ref = { accuracy: 0, macs: Math.max(...every.map((p) => p.macs)) };
  const target = share * normalizedHypervolume(every, ['accuracy', 'macs'], ref);
  const seen: ReturnType<typeof point>[] = [];
  for (let i = 0; i < order.length; i++) {
    seen.push(point(order[i]!.genome));
    if (normalizedHypervolume(seen, ['accuracy', 'macs'], ref) >= target - 1e-12) return i + 1;
  }
  return Infinity;
}
