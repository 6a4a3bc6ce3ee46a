// The samplers behind one ask/tell interface: `initial()` gives the first batch of
// candidates, `next(finished, round)` the batch for round 1, 2, ... given the results so
// far (cumulative or just the last batch: results are merged by hash), and [] when the
// search is done. Grid and random search have a single round; NSGA-II has one per
// generation. Everything is seeded: the same config and the same results give the same
// candidates, in any process, which is what lets an interrupted sweep resume.
import { UsageError } from '../errors.js';
import type { SweepConfig } from '../config/sweep.js';
import type { Variant } from '../models/spec.js';
import { baselineVariants, formatVariant, slotProblem } from '../models/index.js';
import { toVector } from '../pareto/objectives.js';
import type { Candidate } from '../domain/candidate.js';
import { breed, selectSurvivors, type Evaluated, type Ranked } from './nsga2.js';
import { createRng } from './rng.js';
import { enumerateGrid, sampleRandom } from './sample.js';
import { listFeasible, modelDefaults, modelRounds, proposeBatch, type ModelResult } from './bayes.js';
import {
  genomeKey,
  genomeLabel,
  genomeVariants,
  type Genome,
  type ModelAccess,
  type Space,
} from './space.js';

/** A finished candidate as the search needs it back. */
export interface FinishedResult {
  hash: string;
  accuracy: number;
  macs: number;
  params: number;
  latency?: number | null;
  /** epochs of the rung the result comes from (the model sampler learns across rungs) */
  epochs?: number;
}

export interface Search {
  kind: SweepConfig['search']['kind'];
  /** number of rounds including the initial one */
  rounds: number;
  initial(): Candidate[];
  next(finished: readonly FinishedResult[], round: number): Candidate[];
}

export interface SearchOptions {
  /** refuse a grid with more feasible candidates than this (UsageError) */
  maxCandidates?: number;
}

/** A candidate for the given per-slot variants: spec built, hashed and costed exactly. */
export function makeCandidate(access: ModelAccess, variants: Variant[], label: string, baseline = false): Candidate {
  const spec = access.build(variants);
  const { macs, params } = access.cost(spec);
  return { hash: access.hash(spec), variants, label, baseline, spec, macs, flops: 2 * macs, params };
}

/** Grids larger than this are not walked, whatever the constraints keep. */
export const GRID_SCAN_LIMIT = 50_000_000n;

export function createSearch(config: SweepConfig, space: Space, access: ModelAccess, opts: SearchOptions = {}): Search {
  const cache = new Map<string, Candidate>();
  const toCandidate = (g: Genome): Candidate => {
    const key = genomeKey(g);
    let c = cache.get(key);
    if (!c) {
      c = makeCandidate(access, genomeVariants(space, g), genomeLabel(space, g));
      cache.set(key, c);
    }
    return c;
  };
  const sc = config.search;
  switch (sc.kind) {
    case 'grid':
      return {
        kind: 'grid',
        rounds: 1,
        initial() {
          const out: Candidate[] = [];
          const max = opts.maxCandidates ?? Infinity;
          // walking a huge grid for a few feasible points would never end: refuse up front
          if (space.size > GRID_SCAN_LIMIT && space.size > BigInt(Math.min(max, Number.MAX_SAFE_INTEGER))) {
            throw new UsageError(
              `the grid has ${space.size} points, too many to enumerate; use search.kind "random" or "evolutionary", ` +
                'or tie slots more coarsely (space.tie "stage" or "all")',
            );
          }
          for (const g of enumerateGrid(space)) {
            if (out.length >= max) {
              throw new UsageError(
                `the grid has more than ${max} candidates that meet the constraints (space size ${space.size}); ` +
                  'use search.kind "random" or "evolutionary", tighten constraints, or raise --max-candidates',
              );
            }
            out.push(toCandidate(g));
          }
          return out;
        },
        next: () => [],
      };
    case 'random':
      return {
        kind: 'random',
        rounds: 1,
        initial: () => sampleRandom(space, sc.n, sc.seed).map(toCandidate),
        next: () => [],
      };
    case 'evolutionary': {
      const n = sc.population;
      const mutation = sc.mutation ?? 1 / Math.max(1, space.units.length);
      const evaluated = (gs: readonly Genome[], results: ReadonlyMap<string, FinishedResult>): Evaluated[] => {
        const out: Evaluated[] = [];
        for (const g of gs) {
          const r = results.get(toCandidate(g).hash);
          if (r) out.push({ genome: g, objectives: toVector(r, config.objectives) });
        }
        return out;
      };
      // round 0 is the initial population, round r the offspring of the parents of round r:
      // survivors of the initial population, then of each round's parents plus its evaluated
      // offspring (candidates without a result take no part)
      return roundSearch('evolutionary', sc.generations + 1, toCandidate, () => sampleRandom(space, n, sc.seed), (k, rounds, results, seen) => {
        let parents: Ranked[] = selectSurvivors(evaluated(rounds[0], results), n);
        for (let j = 1; j < k; j++) parents = selectSurvivors([...parents, ...evaluated(rounds[j], results)], n);
        return breed(space, parents, n, createRng(sc.seed, 3, k), {
          crossover: sc.crossover,
          mutation,
          seen,
          fallbackSeed: (sc.seed * 7919 + k) >>> 0,
        });
      });
    }
    case 'model': {
      const eta = config.multiFidelity?.eta;
      const d = modelDefaults(sc, space, eta);
      let listed: Genome[] | undefined | null = null;
      const feasibleList = () => (listed === null ? (listed = listFeasible(space, d.pool)) : listed);
      const topEpochs = config.multiFidelity ? config.multiFidelity.rungs[config.multiFidelity.rungs.length - 1] : undefined;
      // round 0 is a random first round, round k the batch the model proposes from the
      // results of the designs proposed before it
      return roundSearch('model', modelRounds(sc, space, eta), toCandidate, () => sampleRandom(space, d.initial, sc.seed), (k, rounds, results, seen) => {
        const known: ModelResult[] = [];
        for (const g of rounds.flat()) {
          const r = results.get(toCandidate(g).hash);
          if (r) known.push({ genome: g, accuracy: r.accuracy, epochs: r.epochs, latency: r.latency });
        }
        const count = Math.min(d.batch, sc.n - d.initial - (k - 1) * d.batch);
        return proposeBatch(space, sc, config.objectives, known, seen, k, count, topEpochs, feasibleList);
      });
    }
  }
}

/** A search that proposes in rounds from the results so far: round 0 is `first()`, round
 * k >= 1 is `grow(k, ...)`. A resumed sweep asks for round r directly, so earlier rounds are
 * proposed again first, each from what was known when it was first asked; `seen` holds every
 * design proposed so far, so no round repeats one. */
function roundSearch(
  kind: Search['kind'],
  rounds: number,
  toCandidate: (g: Genome) => Candidate,
  first: () => Genome[],
  grow: (k: number, earlier: readonly Genome[][], results: ReadonlyMap<string, FinishedResult>, seen: Set<string>) => Genome[],
): Search {
  const results = new Map<string, FinishedResult>();
  const proposed: Genome[][] = [];
  const seen = new Set<string>();
  const ensureInitial = () => {
    if (proposed.length > 0) return;
    const g0 = first();
    for (const g of g0) seen.add(genomeKey(g));
    proposed.push(g0);
  };
  return {
    kind,
    rounds,
    initial() {
      ensureInitial();
      return proposed[0].map(toCandidate);
    },
    next(finished, round) {
      if (!Number.isInteger(round) || round < 1) throw new RangeError(`round must be an integer >= 1, got ${round}`);
      ensureInitial();
      for (const f of finished) results.set(f.hash, f);
      if (round >= rounds) return [];
      for (let k = proposed.length; k <= round; k++) proposed.push(grow(k, proposed, results, seen));
      return proposed[round].map(toCandidate);
    },
  };
}

/** Reference designs added to every sweep (when `baselines` is on): baselineVariants of the
 * space's cg values (src/models/variant.ts), all slots alike. A baseline that cannot fill every slot is skipped;
 * the second result lists why. Constraints do not apply: baselines are for comparison. */
export function baselineCandidates(
  space: Space,
  access: ModelAccess,
  cgs: readonly number[],
): { candidates: Candidate[]; skipped: string[] } {
  const choices = baselineVariants(cgs).map((variant) => ({ label: formatVariant(variant), variant }));
  const candidates: Candidate[] = [];
  const skipped: string[] = [];
  const hashes = new Set<string>();
  for (const c of choices) {
    const bad = space.slots.find((s) => slotProblem(s, c.variant) !== null);
    if (bad) {
      skipped.push(`${c.label}: does not divide the channels of slot ${bad.index} (${bad.name}, ${bad.inChannels}->${bad.outChannels})`);
      continue;
    }
    const cand = makeCandidate(access, space.slots.map(() => c.variant), c.label, true);
    if (hashes.has(cand.hash)) continue;
    hashes.add(cand.hash);
    candidates.push(cand);
  }
  return { candidates, skipped };
}
