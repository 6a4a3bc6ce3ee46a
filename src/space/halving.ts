// Successive halving with multi-objective promotion: after a rung, keep the best 1/eta of
// the candidates by Pareto rank over the sweep's objectives (ties inside a front broken by
// crowding distance, so the survivors spread along the front), then by accuracy, then by
// hash so the choice is reproducible. A pure function of the rung's results.
import { crowdingDistance, nonDominatedFronts } from '../pareto/sort.js';
import { toVector, type Objective } from '../pareto/objectives.js';

export interface RungResult {
  hash: string;
  accuracy: number;
  macs: number;
  params: number;
  latency?: number | null;
}

/** How many of `n` finished candidates go on to the next rung: floor(n/eta), at least 1. */
export function promotionCount(n: number, eta: number): number {
  return n === 0 ? 0 : Math.max(1, Math.floor(n / eta));
}

/** Hashes promoted to the next rung, best first. */
export function promoteByRank(results: readonly RungResult[], eta: number, objectives: readonly Objective[]): string[] {
  return rankOrder(results, objectives)
    .slice(0, promotionCount(results.length, eta))
    .map((i) => results[i].hash);
}

/** Indices of `results`, best first: Pareto rank, then crowding, then accuracy, then hash. */
export function rankOrder(results: readonly RungResult[], objectives: readonly Objective[]): number[] {
  const pts = results.map((r) => toVector(r, objectives));
  const key = results.map(() => ({ rank: 0, crowding: 0 }));
  nonDominatedFronts(pts).forEach((front, rank) => {
    const cd = crowdingDistance(pts, front);
    for (const i of front) key[i] = { rank, crowding: cd.get(i)! };
  });
  return results
    .map((_, i) => i)
    .sort(
      (a, b) =>
        key[a].rank - key[b].rank ||
        key[b].crowding - key[a].crowding ||
        results[b].accuracy - results[a].accuracy ||
        (results[a].hash < results[b].hash ? -1 : results[a].hash > results[b].hash ? 1 : 0),
    );
}
