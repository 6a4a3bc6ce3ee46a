// What the dashboard's JSON API answers, computed from the rows the store hands out
// (sweeps, the trial listing, counts, epoch metrics, a few candidates' variants) and nothing
// else. The front comes from the report's candidateScores() and frontOf(), as summarize()
// takes it, so the page's front is `pareto export`'s by construction. Nothing here parses
// anything per trial: per-slot variants are read for the front members and baselines only.
// The answers' types (SweepsAnswer ... TrialAnswer, at the end) are what the server sends
// and what the page (src/serve/client) reads: a change of shape fails the typecheck of both.
import { FRONT_COSTS, type FrontCost } from '../config/serve.js';
import { normalizedHypervolume, paretoFront, toVector, type Objective, type Scored } from '../pareto/objectives.js';
import { dominates } from '../pareto/sort.js';
import { frontRows, type FrontRow } from '../report/export.js';
import type { CandidateScore } from '../domain/candidate.js';
import { candidateScores, frontOf, type SweepSummary } from '../report/summary.js';
import { slotText, slotsText } from '../models/notation.js';
import type { Variant } from '../models/spec.js';
import type { EpochMetrics } from '../domain/metrics.js';
import type { ListedTrialRow, SweepRow, TrialRow } from '../domain/rows.js';
import type { StateCounts } from '../domain/trial-states.js';

/** The model and dataset a sweep config names, when it names them. */
function configContext(config: unknown): { model: string | null; dataset: string | null } {
  const c = config as { model?: unknown; dataset?: { name?: unknown } } | null;
  return {
    model: typeof c?.model === 'string' ? c.model : null,
    dataset: typeof c?.dataset?.name === 'string' ? c.dataset.name : null,
  };
}

export function sweepListItem(s: SweepRow, counts: StateCounts) {
  const trials = Object.values(counts).reduce((a, b) => a + b, 0);
  return { name: s.name, status: s.status, createdAt: s.createdAt, ...configContext(s.config), trials, counts };
}

/** A trial as the table shows it: no per-slot settings or provenance (those are in the
 * trial's own answer), so 10,000 rows stay small. */
export function trialListItem(t: ListedTrialRow) {
  return {
    id: t.id,
    label: t.label,
    baseline: t.baseline,
    state: t.state,
    rung: t.rung,
    epochs: t.epochs,
    seed: t.seed,
    accuracy: t.accuracy,
    macs: t.macs,
    params: t.params,
    seconds: t.seconds,
    device: t.device,
    error: t.error,
    finishedAt: t.finishedAt ?? null,
  };
}

const ms = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const v = Date.parse(iso);
  return Number.isFinite(v) ? v : null;
};

/** Hypervolume of the done trials finished by each moment, against the final reference (so
 * the curve ends at the report's value), at most `samples` points. Only trials at the
 * sweep's highest fidelity count, as in the report, a candidate's accuracy being the mean
 * over its seeds so far. The front is kept incrementally (a new candidate is checked
 * against the front only); a candidate whose mean moves (another seed) rebuilds it. */
export function hypervolumeOverTime(
  trials: readonly ListedTrialRow[],
  summary: Pick<SweepSummary, 'epochs' | 'objectives' | 'reference'>,
  samples = 200,
): { t: number; done: number; hypervolume: number }[] {
  if (summary.epochs === null) return [];
  const objectives = summary.objectives;
  const done: { t: ListedTrialRow; at: number }[] = [];
  for (const t of trials) {
    if (t.state !== 'done' || t.epochs !== summary.epochs || t.accuracy === null || !Number.isFinite(t.accuracy)) continue;
    const at = ms(t.finishedAt);
    if (at !== null) done.push({ t, at });
  }
  done.sort((a, b) => a.at - b.at || a.t.id - b.t.id);
  // a candidate's accuracy per seed: its first seed alone until another comes
  type Point = Scored & { hash: string; v: number[]; seed: number; seeds?: Map<number, number> };
  const points = new Map<string, Point>();
  let front: Point[] = [];
  const dominated = (v: number[]) => {
    for (const f of front) if (dominates(f.v, v)) return true;
    return false;
  };
  const all: { t: number; done: number; hypervolume: number }[] = [];
  for (let k = 0; k < done.length; k++) {
    const { t, at } = done[k]!;
    const known = points.get(t.candidateHash);
    let changed = true;
    if (known) {
      const seeds = (known.seeds ??= new Map([[known.seed, known.accuracy]]));
      // a seed trained twice (e.g. reused) counts once, as in the report
      if (seeds.has(t.seed)) changed = false;
      else {
        seeds.set(t.seed, t.accuracy!);
        let sum = 0;
        for (const a of seeds.values()) sum += a;
        known.accuracy = sum / seeds.size;
        known.v = toVector(known, objectives);
        front = paretoFront([...points.values()], objectives);
      }
    } else {
      const p: Point = { hash: t.candidateHash, accuracy: t.accuracy!, macs: t.macs, params: t.params, latency: t.latencyMs, seed: t.seed, v: [] };
      p.v = toVector(p, objectives);
      points.set(p.hash, p);
      if (dominated(p.v)) changed = false;
      else front = [...front.filter((f) => !dominates(p.v, f.v)), p];
    }
    const hypervolume = changed ? normalizedHypervolume(front, objectives, summary.reference) : all[all.length - 1]!.hypervolume;
    all.push({ t: at, done: k + 1, hypervolume });
  }
  if (all.length <= samples) return all;
  const step = all.length / samples;
  const out = Array.from({ length: samples - 1 }, (_, i) => all[Math.floor(i * step)]!);
  out.push(all[all.length - 1]!);
  return out;
}

/** The costs the sweep's front can be drawn against: latency only once a candidate's was
 * measured (a sweep with objective "latency" measures each spec once). */
export function frontCosts(trials: readonly ListedTrialRow[]): FrontCost[] {
  return FRONT_COSTS.filter((c) => c !== 'latency' || trials.some((t) => t.latencyMs != null));
}

/** One sweep: config, counts, what the report would say of its front (over `objectives`),
 * hypervolume over time. The ETA, which moves with the clock, is added per request. */
export function sweepDetail(s: SweepRow, trials: readonly ListedTrialRow[], counts: StateCounts, objectives: Objective[]) {
  const { epochs, candidates } = candidateScores(trials);
  const { front, reference, hypervolume } = frontOf(candidates, objectives);
  return {
    ...sweepListItem(s, counts),
    config: s.config,
    objectives,
    costs: frontCosts(trials),
    epochs,
    candidates: candidates.length,
    frontSize: front.length,
    hypervolume,
    hypervolumeOverTime: hypervolumeOverTime(trials, { epochs, objectives, reference }),
  };
}

/** A compared candidate. Only front members and baselines carry their label and design:
 * with 10,000 candidates the others stay small (the trial they open says the rest). */
export interface FrontPoint {
  baseline: boolean;
  /** on the front of accuracy against this cost */
  front: boolean;
  accuracy: number;
  macs: number;
  params: number;
  /** measured latency in ms (our engine, batch 1, one thread); null when not measured */
  latency: number | null;
  /** the first done trial behind this candidate's accuracy: the one a click opens */
  trialId: number;
  label?: string;
  hash?: string;
  accuracyStd?: number;
  seeds?: number;
  /** per-slot settings as text, runs of equal slots collapsed */
  design?: string;
  /** per-slot settings: cg and s for dw-scc slots (null otherwise) and each slot as text */
  slots?: { text: string; cg: number | null; s: number | null }[];
}

/** The candidates compared at the sweep's highest fidelity and the front of accuracy
 * against `cost` among them, before any variants are read. */
export interface ScoredFront {
  objectives: Objective[];
  epochs: number | null;
  hypervolume: number;
  candidates: CandidateScore[];
  front: CandidateScore[];
}

export function scoreFront(trials: readonly ListedTrialRow[], cost: FrontCost): ScoredFront {
  const objectives: Objective[] = ['accuracy', cost];
  const { epochs, candidates } = candidateScores(trials);
  const { front, hypervolume } = frontOf(candidates, objectives);
  return { objectives, epochs, hypervolume, candidates, front };
}

/** The candidates whose per-slot variants a front view shows: front members and baselines. */
export function shownCandidates(f: ScoredFront): string[] {
  return [...new Set([...f.front.map((c) => c.hash), ...f.candidates.filter((c) => c.baseline).map((c) => c.hash)])];
}

/** Every compared candidate with its front membership, and the front as `pareto export`
 * writes it (with --objectives accuracy,<cost>); `variants` has those of shownCandidates(f). */
export function frontView(
  f: ScoredFront,
  variants: ReadonlyMap<string, Variant[]>,
): {
  objectives: Objective[];
  epochs: number | null;
  hypervolume: number;
  points: FrontPoint[];
  front: (FrontRow & { trialId: number })[];
} {
  const variantsOf = (hash: string): Variant[] => {
    const v = variants.get(hash);
    if (!v) throw new Error(`no variants read for candidate ${hash}`);
    return v;
  };
  const onFront = new Set(f.front.map((c) => c.hash));
  const points = f.candidates.map((c): FrontPoint => {
    const member = onFront.has(c.hash);
    const p: FrontPoint = {
      baseline: c.baseline,
      front: member,
      accuracy: c.accuracy,
      macs: c.macs,
      params: c.params,
      latency: c.latency ?? null,
      trialId: c.trials![0]!,
    };
    if (!member && !c.baseline) return p;
    const slots = variantsOf(c.hash);
    return {
      ...p,
      label: c.label,
      hash: c.hash,
      accuracyStd: c.accuracyStd,
      seeds: c.seeds.length,
      design: slotsText(slots, true),
      slots: slots.map((v) => ({
        text: slotText(v),
        cg: v.kind === 'dw-scc' ? v.cg : null,
        s: v.kind === 'dw-scc' ? v.s : null,
      })),
    };
  });
  return {
    objectives: f.objectives,
    epochs: f.epochs,
    hypervolume: f.hypervolume,
    points,
    front: frontRows(f.front.map((c) => ({ ...c, variants: variantsOf(c.hash) }))).map((r, i) => ({ ...r, trialId: f.front[i]!.trials![0]! })),
  };
}

// ---- the API's answers, as the server sends them and the page reads them ----

export type SweepListItem = ReturnType<typeof sweepListItem>;
export type TrialListItem = ReturnType<typeof trialListItem>;
export type FrontView = ReturnType<typeof frontView>;

/** GET /api/sweeps: the store's sweeps, newest first */
export interface SweepsAnswer {
  sweeps: SweepListItem[];
}

/** The part of a sweep's answer that moves with the clock or the store, sent beside the cached detail. */
export interface SweepLive {
  /** estimated seconds until the trials the store holds now are finished
   * (report/sweep-eta.ts; `dsxplore sweep` adds the rounds it has yet to schedule) */
  eta: number | null;
  /** changes whenever the server reads the sweep's trials again */
  stamp: string;
}

/** GET /api/sweeps/:name */
export type SweepAnswer = ReturnType<typeof sweepDetail> & SweepLive;

/** GET /api/sweeps/:name/trials */
export interface TrialsAnswer {
  sweep: string;
  stamp: string;
  trials: TrialListItem[];
}

/** GET /api/sweeps/:name/front?x=COST */
export type FrontAnswer = { sweep: string; stamp: string } & FrontView;

/** GET /api/sweeps/:name/trials/:id: the whole row (provenance included) and its epochs */
export interface TrialAnswer {
  sweep: string;
  trial: TrialRow;
  epochs: EpochMetrics[];
}
