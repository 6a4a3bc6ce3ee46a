// Pareto analysis: non-dominated sorting, crowding distance, exact hypervolume.
export { dominates, nonDominatedRanks, nonDominatedFronts, paretoIndices, crowdingDistance } from './sort.js';
export type { Vec } from './sort.js';
export { hypervolume } from './hypervolume.js';
export {
  toVector,
  paretoFront,
  paretoRanks,
  defaultReference,
  normalizedHypervolume,
} from './objectives.js';
export type { Objective, Scored, HvReference } from './objectives.js';
