// Pruners, beside the samplers (search.ts), as Optuna separates them: a sampler proposes
// candidates, a pruner decides at the end of each rung which of them go on to more epochs.
// A pruner is a pure function of a rung's results, so every worker decides alike, and its
// decisions are recorded with the next rung (SweepStore.scheduleRound).
import type { Objective } from '../pareto/objectives.js';
import { promotionCount, rankOrder, type RungResult } from './halving.js';

export interface PrunerDecision {
  hash: string;
  promoted: boolean;
  /** place in the pruner's order, 0 = best */
  rank: number;
  accuracy: number;
}

export interface Pruner {
  readonly kind: string;
  /** one decision per result, best first */
  decide(results: readonly RungResult[]): PrunerDecision[];
}

/** Successive halving by Pareto rank: the best floor(n/eta) (at least one) climb. */
export function successiveHalving(eta: number, objectives: readonly Objective[]): Pruner {
  return {
    kind: 'successive-halving',
    decide(results) {
      const keep = promotionCount(results.length, eta);
      return rankOrder(results, objectives).map((i, rank) => ({
        hash: results[i]!.hash,
        promoted: rank < keep,
        rank,
        accuracy: results[i]!.accuracy,
      }));
    },
  };
}
