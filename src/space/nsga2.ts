// NSGA-II over a space's genomes (Deb et al. 2002): environmental selection by
// non-dominated rank then crowding distance, binary tournaments on (rank, crowding), and
// per-unit uniform crossover and mutation. Objective vectors are minimised (accuracy is
// negated by the caller). Pure given the rng; ties are broken by position so runs repeat.
import { crowdingDistance, nonDominatedFronts, type Vec } from '../pareto/sort.js';
import type { Rng } from './rng.js';
import { feasible, genomeKey, type Genome, type Space } from './space.js';
import { sampleRandom } from './sample.js';

export interface Evaluated {
  genome: Genome;
  objectives: Vec;
}

export interface Ranked extends Evaluated {
  rank: number;
  crowding: number;
}

/** Rank and crowding of every member of `pool`, in pool order. */
export function rankPool(pool: readonly Evaluated[]): Ranked[] {
  const pts = pool.map((p) => p.objectives);
  const out = pool.map((p) => ({ ...p, rank: 0, crowding: 0 }));
  nonDominatedFronts(pts).forEach((front, r) => {
    const cd = crowdingDistance(pts, front);
    for (const i of front) {
      out[i].rank = r;
      out[i].crowding = cd.get(i)!;
    }
  });
  return out;
}

/** Before-or-equal in NSGA-II's crowded-comparison order. */
function better(a: Ranked, b: Ranked): boolean {
  return a.rank < b.rank || (a.rank === b.rank && a.crowding > b.crowding);
}

/** The `n` survivors of a pool: whole fronts while they fit, then the least crowded of the
 * front that does not. Returned ranked among themselves (for the next tournaments). */
export function selectSurvivors(pool: readonly Evaluated[], n: number): Ranked[] {
  const ranked = rankPool(pool);
  const order = ranked
    .map((r, i) => ({ r, i }))
    .sort((a, b) => a.r.rank - b.r.rank || b.r.crowding - a.r.crowding || a.i - b.i)
    .slice(0, n)
    .map((x) => pool[x.i]);
  return rankPool(order);
}

export interface BreedOptions {
  crossover: number;
  mutation: number;
  /** genome keys already evaluated or queued: children must be new */
  seen: Set<string>;
  /** seed for the random fallback when breeding cannot find new points */
  fallbackSeed: number;
}

function tournament(parents: readonly Ranked[], rng: Rng): Ranked {
  const a = parents[rng.int(parents.length)];
  const b = parents[rng.int(parents.length)];
  return better(b, a) ? b : a;
}

function mutate(space: Space, g: Genome, p: number, rng: Rng): void {
  for (let u = 0; u < g.length; u++) {
    const n = space.units[u].options.length;
    if (n > 1 && rng.next() < p) {
      // a different option, uniformly
      const o = rng.int(n - 1);
      g[u] = o >= g[u] ? o + 1 : o;
    }
  }
}

/** `n` new feasible children of `parents`; keys are added to opts.seen. */
export function breed(space: Space, parents: readonly Ranked[], n: number, rng: Rng, opts: BreedOptions): Genome[] {
  const children: Genome[] = [];
  if (parents.length > 0) {
    for (let tries = 0; children.length < n && tries < 50 * n; tries++) {
      const a = tournament(parents, rng);
      const b = tournament(parents, rng);
      const child = [...a.genome];
      if (rng.next() < opts.crossover) {
        for (let u = 0; u < child.length; u++) if (rng.next() < 0.5) child[u] = b.genome[u];
      }
      mutate(space, child, opts.mutation, rng);
      const key = genomeKey(child);
      if (opts.seen.has(key) || !feasible(space, child)) continue;
      opts.seen.add(key);
      children.push(child);
    }
  }
  if (children.length < n) {
    // converged or tiny space: top up with unseen random points so the budget is used
    for (const g of sampleRandom(space, n - children.length, opts.fallbackSeed, opts.seen)) {
      opts.seen.add(genomeKey(g));
      children.push(g);
    }
  }
  return children;
}
