// Named objectives (accuracy up, macs down, params down) mapped onto the minimisation
// vectors that sort.ts and hypervolume.ts work on, and the normalised hypervolume that
// reports quote.
//
// Hypervolume normalisation: accuracy is used as it is (a fraction in [0,1], reference
// accuracy 0 by default); each cost objective is divided by its reference value (by
// default the largest cost among the points, normally the `std` baseline). In maximising
// terms the volume is measured over accuracy x (1 - macs/refMacs) [x (1 - params/refParams)],
// so it lies in [0,1] and reads as "accuracy times the fraction of the reference's cost
// saved". Linear rather than log cost: a point at the reference cost adds nothing, and
// halving MACs counts the same wherever it happens, which keeps sweeps of one model
// comparable when they share a reference.
import { hypervolume } from './hypervolume.js';
import { nonDominatedRanks, paretoIndices, type Vec } from './sort.js';

/** Every objective a front can be taken over: accuracy is maximised, the costs minimised. */
export const OBJECTIVES = ['accuracy', 'macs', 'params', 'latency'] as const;
export type Objective = (typeof OBJECTIVES)[number];
export const DEFAULT_OBJECTIVES: readonly Objective[] = ['accuracy', 'macs'];

/** The objectives a sweep's stored config names, when they make a front (accuracy and at
 * least one cost); accuracy against MACs otherwise (older sweeps, hand-made configs). */
export function configuredObjectives(config: unknown): Objective[] {
  const list = (config as { objectives?: unknown } | null)?.objectives;
  if (
    Array.isArray(list) &&
    list.length >= 2 &&
    list.includes('accuracy') &&
    list.every((o) => (OBJECTIVES as readonly unknown[]).includes(o))
  ) {
    return list as Objective[];
  }
  return [...DEFAULT_OBJECTIVES];
}

export interface Scored {
  accuracy: number;
  macs: number;
  params: number;
  /** measured latency in ms; a candidate not (yet) measured counts as the slowest */
  latency?: number | null;
}

const latencyOf = (p: Scored) => (p.latency === undefined || p.latency === null ? Infinity : p.latency);
const cost = (p: Scored, o: Exclude<Objective, 'accuracy'>) => (o === 'latency' ? latencyOf(p) : p[o]);

/** The minimisation vector of a point for the given objectives. */
export function toVector(p: Scored, objectives: readonly Objective[]): number[] {
  return objectives.map((o) => (o === 'accuracy' ? -p.accuracy : cost(p, o)));
}

/** The non-dominated items (duplicates all kept), in input order. */
export function paretoFront<T extends Scored>(items: readonly T[], objectives: readonly Objective[]): T[] {
  return paretoIndices(items.map((p) => toVector(p, objectives))).map((i) => items[i]);
}

/** Pareto rank of each item (0 = on the front). */
export function paretoRanks(items: readonly Scored[], objectives: readonly Objective[]): number[] {
  return nonDominatedRanks(items.map((p) => toVector(p, objectives)));
}

export interface HvReference {
  accuracy: number;
  macs?: number;
  params?: number;
  latency?: number;
}

/** The default reference: accuracy 0 and the largest cost of each cost objective. */
export function defaultReference(items: readonly Scored[]): HvReference {
  return {
    accuracy: 0,
    macs: Math.max(0, ...items.map((p) => p.macs)),
    params: Math.max(0, ...items.map((p) => p.params)),
    latency: Math.max(0, ...items.map(latencyOf).filter(Number.isFinite)),
  };
}

/** Normalised hypervolume of `items` (see the header): in [0,1]. */
export function normalizedHypervolume(
  items: readonly Scored[],
  objectives: readonly Objective[],
  reference: HvReference = defaultReference(items),
): number {
  const refVec: number[] = [];
  for (const o of objectives) {
    if (o === 'accuracy') refVec.push(-reference.accuracy);
    else {
      const r = reference[o];
      if (!(r !== undefined && r > 0)) return 0;
      refVec.push(1);
    }
  }
  const pts: Vec[] = items.map((p) =>
    objectives.map((o) => (o === 'accuracy' ? -p.accuracy : cost(p, o) / (reference[o] as number))),
  );
  return hypervolume(pts, refVec);
}
