// Turning the search and successive halving into queued trials, one step at a time.
// A sweep is a sequence of search rounds (grid and random: one; NSGA-II: one per
// generation); with multi-fidelity each round climbs the rungs, keeping the best 1/eta by
// Pareto rank at each. Every step is written with SweepStore.scheduleRound, so it happens
// exactly once however many processes look, and a resumed sweep simply continues from what
// the database says. Steps are pure functions of the recorded results (the samplers are
// seeded), so a replay schedules the same trials.
import type { SweepConfig } from '../config/sweep.js';
import type { Search, FinishedResult } from '../space/index.js';
import { successiveHalving, type Pruner, type RungResult } from '../space/index.js';
import type { Candidate } from '../domain/candidate.js';
import type { TrialRow } from '../domain/rows.js';
import { isFinished } from '../domain/trial-states.js';
import type { PrunerDecisionRow, SweepStore, TrialInput } from '../store/store.js';
import { recipeHash, rungEpochs, trialRecipe } from './identity.js';

export const ROUND_KIND = 'round';
export const rungKind = (round: number) => `rung@${round}`;

/** The seeds trained at `rung`: all of them at the last rung, the first
 * multiFidelity.lowerRungSeeds (when given) below it. */
export function seedsAt(config: SweepConfig, rung: number): number[] {
  const lower = config.multiFidelity?.lowerRungSeeds;
  if (lower === undefined || rung >= rungEpochs(config).length - 1) return config.seeds;
  return config.seeds.slice(0, lower);
}

/** One trial per seed of the rung for each candidate, at `round` and `rung`. */
export function trialsFor(config: SweepConfig, candidates: readonly Candidate[], round: number, rung: number): TrialInput[] {
  const epochs = rungEpochs(config)[rung]!;
  const out: TrialInput[] = [];
  for (const c of candidates) {
    for (const seed of seedsAt(config, rung)) {
      out.push({ candidate: c, round, rung, epochs, seed, recipeHash: recipeHash(config, trialRecipe(config, epochs, seed)) });
    }
  }
  return out;
}

/** The accuracy a finished trial contributes: diverged counts as chance-free zero. */
function scoreOf(t: TrialRow): number {
  return t.state === 'done' ? (t.accuracy ?? 0) : 0;
}

/** Mean over seeds, per candidate, of trials that produced a result (failed ones left out). */
export function aggregate(trials: readonly TrialRow[]): Map<string, { row: TrialRow; accuracy: number; n: number }> {
  const by = new Map<string, { row: TrialRow; accuracy: number; n: number }>();
  for (const t of trials) {
    if (t.state !== 'done' && t.state !== 'diverged') continue;
    const e = by.get(t.candidateHash);
    if (e) {
      e.accuracy = (e.accuracy * e.n + scoreOf(t)) / (e.n + 1);
      e.n++;
    } else by.set(t.candidateHash, { row: t, accuracy: scoreOf(t), n: 1 });
  }
  return by;
}

/** What the search learns: each candidate's result at the highest rung it reached. */
export function finishedResults(trials: readonly TrialRow[]): FinishedResult[] {
  const top = new Map<string, number>();
  for (const t of trials) {
    if (t.state !== 'done' && t.state !== 'diverged') continue;
    top.set(t.candidateHash, Math.max(top.get(t.candidateHash) ?? -1, t.rung));
  }
  const agg = aggregate(trials.filter((t) => top.get(t.candidateHash) === t.rung));
  return [...agg.values()].map((a) => ({ hash: a.row.candidateHash, accuracy: a.accuracy, macs: a.row.macs, params: a.row.params, latency: a.row.latencyMs, epochs: a.row.epochs }));
}

/** The pruner of a multi-fidelity sweep. */
export function prunerFor(config: SweepConfig): Pruner {
  return successiveHalving(config.multiFidelity!.eta, config.objectives);
}

export type StepResult =
  | { kind: 'scheduled'; what: string; index: number; trials: number }
  | { kind: 'wait' }
  | { kind: 'finished' };

/**
 * Schedule the next step of the sweep if the current one is complete: the next rung of the
 * latest round, else the next round. 'wait' when trials of the current step are still
 * queued or running; 'finished' when the search has nothing more to propose.
 */
export async function advance(
  store: SweepStore,
  config: SweepConfig,
  search: Search,
  sweep: string,
): Promise<StepResult> {
  const trials = await store.trials(sweep);
  if (trials.some((t) => !isFinished(t.state))) return { kind: 'wait' };
  let round = trials.reduce((m, t) => Math.max(m, t.round ?? 0), 0);
  // a round whose every trial already existed (so none carries its number) still counts
  while (await store.hasRound(sweep, ROUND_KIND, round + 1)) round++;
  const rungs = rungEpochs(config);
  const inRound = trials.filter((t) => t.round === round);

  for (let k = 0; k + 1 < rungs.length; k++) {
    const atK = inRound.filter((t) => t.rung === k);
    if (atK.length === 0) break;
    if (await store.hasRound(sweep, rungKind(round), k + 1)) continue;
    const agg = aggregate(atK);
    const contenders: RungResult[] = [];
    const decisions: PrunerDecisionRow[] = [];
    const at = { round, rung: k };
    for (const [hash, a] of agg) {
      // baselines are references, not contestants: they always climb, so the final
      // comparison is made at full fidelity
      if (a.row.baseline) {
        decisions.push({ ...at, candidateHash: hash, pruner: 'baseline', promoted: true, rank: null, accuracy: a.accuracy });
      } else contenders.push({ hash, accuracy: a.accuracy, macs: a.row.macs, params: a.row.params, latency: a.row.latencyMs });
    }
    const pruner = prunerFor(config);
    for (const d of pruner.decide(contenders)) {
      decisions.push({ ...at, candidateHash: d.hash, pruner: pruner.kind, promoted: d.promoted, rank: d.rank, accuracy: d.accuracy });
    }
    const promoted: Candidate[] = [];
    for (const d of decisions) if (d.promoted) promoted.push((await store.candidate(d.candidateHash, sweep))!);
    const batch = trialsFor(config, promoted, round, k + 1);
    if (await store.scheduleRound(sweep, rungKind(round), k + 1, batch, decisions)) {
      return { kind: 'scheduled', what: 'rung', index: k + 1, trials: batch.length };
    }
    return { kind: 'wait' }; // another process scheduled it: look again
  }

  const next = round + 1;
  if (next >= search.rounds) return { kind: 'finished' };
  if (await store.hasRound(sweep, ROUND_KIND, next)) return { kind: 'wait' };
  const candidates = search.next(finishedResults(trials), next);
  if (candidates.length === 0) return { kind: 'finished' };
  const batch = trialsFor(config, candidates, next, 0);
  if (await store.scheduleRound(sweep, ROUND_KIND, next, batch)) {
    return { kind: 'scheduled', what: 'round', index: next, trials: batch.length };
  }
  return { kind: 'wait' };
}

/** Trials the sweep will still add, roughly, for the ETA: the remaining rounds at the
 * current round's size, and promotions at 1/eta per rung. */
export function expectedMoreTrials(config: SweepConfig, search: Search, trials: readonly TrialRow[]): number {
  const round = trials.reduce((m, t) => Math.max(m, t.round ?? 0), 0);
  const rungs = rungEpochs(config).length;
  const eta = config.multiFidelity?.eta ?? 1;
  const perRoundRung0 =
    config.search.kind === 'evolutionary'
      ? config.search.population * seedsAt(config, 0).length
      : config.search.kind === 'model'
        ? (config.search.batch ?? (config.multiFidelity ? Math.ceil(4 * config.multiFidelity.eta) : 4)) * seedsAt(config, 0).length
        : 0;
  const perRound = (n0: number) => {
    let total = 0;
    let n = n0;
    for (let k = 0; k < rungs; k++) {
      total += n;
      n = Math.max(1, Math.floor(n / eta));
    }
    return total;
  };
  let more = 0;
  // rungs of the current round not yet scheduled
  const inRound = trials.filter((t) => t.round === round);
  const topRung = inRound.reduce((m, t) => Math.max(m, t.rung), 0);
  let n = inRound.filter((t) => t.rung === topRung).length;
  for (let k = topRung + 1; k < rungs; k++) {
    n = Math.max(1, Math.floor(n / eta));
    more += n;
  }
  more += Math.max(0, search.rounds - round - 1) * perRound(perRoundRung0);
  return more;
}
