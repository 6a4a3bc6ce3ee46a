// The samplers behind one ask/tell interface: `initial()` gives the first batch of
// candidates, `next(finished, round)` the batch for round 1, 2, ... given the results so
// far (cumulative or just the last batch: results are merged by hash), and [] when the
// search is done. Grid and random search have a single round; NSGA-II has one per
// generation. Everything is seeded: the same config and the same results give the same
// candidates, in any process, which is what lets an interrupted sweep resume.
import { UsageError } from '../errors.js';
import type { SweepConfig } from '../config/sweep.js';
import type { Variant } from '../models/spec.js';
import { toVector } from '../pareto/objectives.js';
import type { Candidate } from './types.js';
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
      const results = new Map<string, FinishedResult>();
      // generations[0] is the initial population, generations[r] the offspring of round r
      const generations: Genome[][] = [];
      const seen = new Set<string>();
      const ensureInitial = () => {
        if (generations.length === 0) {
          const g0 = sampleRandom(space, n, sc.seed);
          for (const g of g0) seen.add(genomeKey(g));
          generations.push(g0);
        }
      };
      const evaluated = (gs: readonly Genome[]): Evaluated[] => {
        const out: Evaluated[] = [];
        for (const g of gs) {
          const r = results.get(toCandidate(g).hash);
          if (r) out.push({ genome: g, objectives: toVector(r, config.objectives) });
        }
        return out;
      };
      // parents of round r: survivors of the initial population, then of each round's
      // parents plus its evaluated offspring (candidates without a result take no part)
      const parentsFor = (r: number): Ranked[] => {
        let parents = selectSurvivors(evaluated(generations[0]), n);
        for (let k = 1; k < r; k++) parents = selectSurvivors([...parents, ...evaluated(generations[k])], n);
        return parents;
      };
      return {
        kind: 'evolutionary',
        rounds: sc.generations + 1,
        initial() {
          ensureInitial();
          return generations[0].map(toCandidate);
        },
        next(finished, round) {
          if (!Number.isInteger(round) || round < 1) throw new RangeError(`round must be an integer >= 1, got ${round}`);
          ensureInitial();
          for (const f of finished) results.set(f.hash, f);
          if (round > sc.generations) return [];
          // replay earlier rounds first (a resumed sweep asks for round r directly)
          for (let k = generations.length; k <= round; k++) {
            const kids = breed(space, parentsFor(k), n, createRng(sc.seed, 3, k), {
              crossover: sc.crossover,
              mutation,
              seen,
              fallbackSeed: (sc.seed * 7919 + k) >>> 0,
            });
            generations.push(kids);
          }
          return generations[round].map(toCandidate);
        },
      };
    }
    case 'model': {
      const eta = config.multiFidelity?.eta;
      const d = modelDefaults(sc, space, eta);
      const rounds = modelRounds(sc, space, eta);
      const results = new Map<string, FinishedResult>();
      // generations[0] is the random first round, generations[r] the batch of round r
      const generations: Genome[][] = [];
      const seen = new Set<string>();
      let listed: Genome[] | undefined | null = null;
      const feasibleList = () => (listed === null ? (listed = listFeasible(space, d.pool)) : listed);
      const topEpochs = config.multiFidelity ? config.multiFidelity.rungs[config.multiFidelity.rungs.length - 1] : undefined;
      const ensureInitial = () => {
        if (generations.length === 0) {
          const g0 = sampleRandom(space, d.initial, sc.seed);
          for (const g of g0) seen.add(genomeKey(g));
          generations.push(g0);
        }
      };
      return {
        kind: 'model',
        rounds,
        initial() {
          ensureInitial();
          return generations[0].map(toCandidate);
        },
        next(finished, round) {
          if (!Number.isInteger(round) || round < 1) throw new RangeError(`round must be an integer >= 1, got ${round}`);
          ensureInitial();
          for (const f of finished) results.set(f.hash, f);
          if (round >= rounds) return [];
          // replay earlier rounds first (a resumed sweep asks for round r directly), each
          // from the results of the designs proposed before it, as when it was first asked
          for (let k = generations.length; k <= round; k++) {
            const known: ModelResult[] = [];
            for (const g of generations.flat()) {
              const r = results.get(toCandidate(g).hash);
              if (r) known.push({ genome: g, accuracy: r.accuracy, epochs: r.epochs, latency: r.latency });
            }
            const count = Math.min(d.batch, sc.n - d.initial - (k - 1) * d.batch);
            generations.push(proposeBatch(space, sc, config.objectives, known, seen, k, count, topEpochs, feasibleList));
          }
          return generations[round].map(toCandidate);
        },
      };
    }
  }
}

/** Reference designs added to every sweep (when `baselines` is on): std, dw-pw, and
 * dw-gpw, dw-gpw-shuffle and gc-shuffle at each of the space's cg values above 1 (at cg = 1
 * they equal dw-pw and std), all slots alike. dw-gpw-shuffle is what dw-scc computes at
 * co = 0, so it is the reference that isolates what overlap itself buys. A baseline that cannot fill every slot is skipped;
 * the second result lists why. Constraints do not apply: baselines are for comparison. */
export function baselineCandidates(
  space: Space,
  access: ModelAccess,
  cgs: readonly number[],
): { candidates: Candidate[]; skipped: string[] } {
  const choices: { label: string; variant: Variant }[] = [
    { label: 'std', variant: { kind: 'std' } },
    { label: 'dw-pw', variant: { kind: 'dw-pw' } },
  ];
  for (const cg of cgs) if (cg > 1) choices.push({ label: `dw-gpw:cg=${cg}`, variant: { kind: 'dw-gpw', cg } });
  for (const cg of cgs) if (cg > 1) choices.push({ label: `dw-gpw-shuffle:cg=${cg}`, variant: { kind: 'dw-gpw-shuffle', cg } });
  for (const g of cgs) if (g > 1) choices.push({ label: `gc-shuffle:g=${g}`, variant: { kind: 'gc-shuffle', g } });
  const candidates: Candidate[] = [];
  const skipped: string[] = [];
  const hashes = new Set<string>();
  for (const c of choices) {
    const bad = space.slots.find((s) => {
      const v = c.variant;
      const d = v.kind === 'dw-gpw' || v.kind === 'dw-gpw-shuffle' ? v.cg : v.kind === 'gc-shuffle' ? v.g : 1;
      return s.inChannels % d !== 0 || s.outChannels % d !== 0;
    });
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
