// What a sweep found, as plain data: trial counts by state, one result per candidate
// (seeds averaged), the Pareto front, each baseline against the best SCC design that costs
// no more, and the front's hypervolume. Everything else in src/report renders this.
//
// Which trials count: done trials at the sweep's highest fidelity (most epochs among its
// done trials), so candidates pruned at a lower successive-halving rung are not compared
// with fully trained ones. A candidate trained with several seeds gets its mean accuracy.
import type { Variant } from '../models/spec.js';
import {
  normalizedHypervolume,
  paretoFront,
  type HvReference,
  type Objective,
} from '../pareto/objectives.js';
import type { CandidateResult, CandidateScore } from '../domain/candidate.js';
import type { ListedTrialRow, TrialRow } from '../domain/rows.js';
import { spearman } from '../pareto/rank-correlation.js';
import { emptyCounts, TRIAL_STATES, type TrialState } from '../domain/trial-states.js';
import { separateEffects, type EffectsSummary } from './effects.js';
import { mixedAgainstUniform, type MixedSummary } from './mixed.js';

/** every trial state, in the order reports list them */
export const STATES: readonly TrialState[] = TRIAL_STATES;

/** Measured latency over the sweep's candidates, and how well MACs predict it. */
export interface LatencySummary {
  /** candidates with a measured latency */
  measured: number;
  /** the machines the figures come from */
  machines: string[];
  /** Spearman rank correlation of MACs and latency over the measured candidates (null
   * with fewer than 3) */
  macsRankCorrelation: number | null;
}

export interface BaselineComparison {
  baseline: CandidateResult;
  /** the most accurate SCC candidate with macs <= the baseline's, if any */
  best: CandidateResult | null;
  /** best.accuracy - baseline.accuracy */
  accuracyDelta: number | null;
  /** best.macs / baseline.macs */
  macsRatio: number | null;
}

export interface SweepSummary {
  sweep: string;
  objectives: Objective[];
  counts: Record<TrialState, number>;
  trials: number;
  /** the fidelity compared, in epochs (null when nothing is done) */
  epochs: number | null;
  candidates: CandidateResult[];
  /** non-dominated candidates (duplicates kept), by MACs ascending */
  front: CandidateResult[];
  baselines: BaselineComparison[];
  /** per cg, what overlap and channel mixing each buy (src/report/effects.ts) */
  effects: EffectsSummary;
  /** each uniform design against the best mixed design with no more MACs (src/report/mixed.ts);
   * null when the sweep has no mixed design or no uniform one */
  mixed: MixedSummary | null;
  hypervolume: number;
  reference: HvReference;
  /** present when at least one candidate's latency was measured */
  latency?: LatencySummary;
}

/** True when at least one slot uses sliding-channel convolution. */
export function isScc(c: { variants: Variant[] }): boolean {
  return c.variants.some((v) => v.kind === 'dw-scc');
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function std(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

/** One score per candidate from the done trials at the highest fidelity, in first-seen
 * order; `trials` may be a listing (no variants). */
export function candidateScores(trials: readonly ListedTrialRow[]): { epochs: number | null; candidates: CandidateScore[] } {
  const { epochs, groups } = doneGroups(trials);
  return { epochs, candidates: groups.map((ts) => score(ts, epochs!)) };
}

/** One result per candidate from the done trials at the highest fidelity, in first-seen order. */
export function candidateResults(trials: readonly TrialRow[]): { epochs: number | null; candidates: CandidateResult[] } {
  const { epochs, groups } = doneGroups(trials);
  return {
    epochs,
    candidates: groups.map((ts) => {
      const { hash, label, baseline, ...rest } = score(ts, epochs!);
      return { hash, label, baseline, variants: ts[0].variants, ...rest };
    }),
  };
}

/** The done trials at the highest fidelity grouped by candidate, in first-seen order. */
function doneGroups<T extends ListedTrialRow>(trials: readonly T[]): { epochs: number | null; groups: T[][] } {
  const done = trials.filter((t) => t.state === 'done' && t.accuracy !== null && Number.isFinite(t.accuracy));
  if (done.length === 0) return { epochs: null, groups: [] };
  let epochs = -Infinity;
  for (const t of done) if (t.epochs > epochs) epochs = t.epochs;
  const groups = new Map<string, T[]>();
  for (const t of done) {
    if (t.epochs !== epochs) continue;
    const g = groups.get(t.candidateHash);
    if (g) g.push(t);
    else groups.set(t.candidateHash, [t]);
  }
  return { epochs, groups: [...groups.values()] };
}

function score(ts: readonly ListedTrialRow[], epochs: number): CandidateScore {
  const t0 = ts[0];
  let seeds = [t0.seed];
  let accs = [t0.accuracy as number];
  if (ts.length > 1) {
    // one accuracy per seed (a seed trained twice, e.g. reused, counts once)
    const bySeed = new Map<number, number>();
    for (const t of ts) if (!bySeed.has(t.seed)) bySeed.set(t.seed, t.accuracy as number);
    seeds = [...bySeed.keys()].sort((a, b) => a - b);
    accs = seeds.map((sd) => bySeed.get(sd)!);
  }
  return {
    hash: t0.candidateHash,
    label: t0.label,
    baseline: t0.baseline,
    accuracy: mean(accs),
    accuracyStd: std(accs),
    seeds,
    seedAccuracies: accs,
    epochs,
    macs: t0.macs,
    flops: t0.flops,
    params: t0.params,
    latency: t0.latencyMs ?? null,
    trials: ts.map((t) => t.id),
  };
}

export function byMacs(a: CandidateScore, b: CandidateScore): number {
  return a.macs - b.macs || b.accuracy - a.accuracy || (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0);
}

/** The front of `candidates` over `objectives` (non-dominated, duplicates kept, by MACs
 * ascending), the hypervolume reference (accuracy 0, each cost's largest value) and the
 * normalised hypervolume: what the report, `pareto export` and the dashboard all quote. */
export function frontOf<C extends CandidateScore>(
  candidates: readonly C[],
  objectives: readonly Objective[],
): { front: C[]; reference: HvReference; hypervolume: number } {
  const front = paretoFront(candidates, objectives).sort(byMacs);
  let macs = 0;
  let params = 0;
  let latency = 0;
  for (const c of candidates) {
    if (c.macs > macs) macs = c.macs;
    if (c.params > params) params = c.params;
    if (c.latency != null && c.latency > latency) latency = c.latency;
  }
  const reference: HvReference = { accuracy: 0, macs, params };
  if (objectives.includes('latency')) reference.latency = latency;
  return { front, reference, hypervolume: normalizedHypervolume(front, objectives, reference) };
}

/** For each baseline, the most accurate SCC candidate that costs no more MACs. When the
 * sweep has no SCC candidate at all, any non-baseline candidate is considered. */
export function compareBaselines(candidates: readonly CandidateResult[]): BaselineComparison[] {
  const pool = candidates.some((c) => !c.baseline && isScc(c))
    ? candidates.filter((c) => !c.baseline && isScc(c))
    : candidates.filter((c) => !c.baseline);
  return candidates
    .filter((c) => c.baseline)
    .sort(byMacs)
    .reverse()
    .map((b) => {
      let best: CandidateResult | null = null;
      for (const c of pool) {
        if (c.macs > b.macs) continue;
        if (!best || c.accuracy > best.accuracy || (c.accuracy === best.accuracy && byMacs(c, best) < 0)) best = c;
      }
      return {
        baseline: b,
        best,
        accuracyDelta: best ? best.accuracy - b.accuracy : null,
        macsRatio: best ? best.macs / b.macs : null,
      };
    });
}

export function summarize(sweep: string, trials: readonly TrialRow[], objectives: readonly Objective[]): SweepSummary {
  const counts = emptyCounts();
  for (const t of trials) counts[t.state]++;
  const { epochs, candidates } = candidateResults(trials);
  const { front, reference, hypervolume } = frontOf(candidates, objectives);
  const timed = candidates.filter((c) => c.latency !== null && c.latency !== undefined);
  const machines = [...new Set(trials.filter((t) => t.latencyMachine).map((t) => t.latencyMachine!))];
  const latency: LatencySummary | undefined = timed.length
    ? {
        measured: timed.length,
        machines,
        macsRankCorrelation: spearman(
          timed.map((c) => c.macs),
          timed.map((c) => c.latency!),
        ),
      }
    : undefined;
  return {
    sweep,
    objectives: [...objectives],
    counts,
    trials: trials.length,
    epochs,
    candidates,
    front,
    baselines: compareBaselines(candidates),
    effects: separateEffects(candidates),
    mixed: mixedAgainstUniform(candidates, front),
    hypervolume,
    reference,
    ...(latency ? { latency } : {}),
  };
}
