// Design spaces: from a validated sweep config to the space's size, its constraint-feasible
// points, the samplers (grid, random, NSGA-II) behind one ask/tell interface, the baselines
// every sweep is compared with, and successive-halving promotion.
//
//   const plan = planSweep(config);            // space + search + baselines
//   plan.size;                                  // bigint, exact, nothing enumerated
//   countFeasible(plan.space);                  // how many the constraints keep
//   let batch = plan.search.initial();          // Candidate[] (spec, hash, exact cost)
//   batch = plan.search.next(results, 1);       // [] when the search is done
import { spaceGroups, type SweepConfig } from '../config/sweep.js';
import type { Candidate } from '../domain/candidate.js';
import { modelAccessFor } from './model.js';
import { baselineCandidates, createSearch, type Search, type SearchOptions } from './search.js';
import { buildSpace, type ModelAccess, type Space } from './space.js';

export {
  buildSpace,
  decodeIndex,
  encodeGenome,
  feasible,
  genomeCost,
  genomeKey,
  genomeLabel,
  genomeVariants,
  satisfies,
  spaceChoices,
} from './space.js';
export type { Cost, Genome, ModelAccess, Space, Unit, UnitOption } from './space.js';
export { countFeasible, countFeasibleExact, enumerateGrid, infeasibility, sampleRandom, type FeasibleCount } from './sample.js';
export { baselineCandidates, createSearch, makeCandidate } from './search.js';
export type { FinishedResult, Search, SearchOptions } from './search.js';
export { promoteByRank, promotionCount, rankOrder, type RungResult } from './halving.js';
export { successiveHalving, type Pruner, type PrunerDecision } from './pruner.js';
export { modelAccess, modelAccessFor, modelOptionsFor } from './model.js';
export { createRng, type Rng } from './rng.js';

export interface SweepPlan {
  space: Space;
  access: ModelAccess;
  /** exact number of designs in the space, before constraints */
  size: bigint;
  search: Search;
  /** reference designs (empty when config.baselines is false; only the listed ones when it is a list) */
  baselines: Candidate[];
  /** baselines left out because they cannot fill every slot, with the reason */
  skippedBaselines: string[];
}

/** Everything a sweep runner needs from the space side, for one validated config. */
export function planSweep(config: SweepConfig, opts: SearchOptions & { access?: ModelAccess } = {}): SweepPlan {
  const access = opts.access ?? modelAccessFor(config);
  const space = buildSpace(access, config.space, config.constraints);
  const b = config.baselines
    ? baselineCandidates(space, access, spaceGroups(config.space))
    : { candidates: [], skipped: [] };
  if (Array.isArray(config.baselines)) {
    // a chosen list (validated against the space's labels): the others are left out on purpose
    const chosen = new Set(config.baselines);
    b.candidates = b.candidates.filter((c) => chosen.has(c.label));
    b.skipped = b.skipped.filter((why) => chosen.has(why.slice(0, why.indexOf(': '))));
  }
  return {
    space,
    access,
    size: space.size,
    search: createSearch(config, space, access, opts),
    baselines: b.candidates,
    skippedBaselines: b.skipped,
  };
}
