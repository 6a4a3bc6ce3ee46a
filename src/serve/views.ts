// What the dashboard's JSON API answers, computed from the rows the store hands out
// (sweeps, trials, counts, epoch metrics) and nothing else. The front comes from the
// report's summarize(), so the page's front is `pareto export`'s by construction.
import type { FrontCost } from '../config/serve.js';
import { normalizedHypervolume, type Objective } from '../pareto/objectives.js';
import { frontRows, type FrontRow } from '../report/export.js';
import { candidateResults, slotText, slotsText, summarize, type SweepSummary } from '../report/summary.js';
import type { StateCounts, SweepRow, TrialRow } from '../store/types.js';

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
export function trialListItem(t: TrialRow) {
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

/** Estimated seconds until nothing is queued or running: the remaining trials at the rate
 * trials have been finishing since the first one started. Null before the first finishes
 * or once nothing remains. */
export function etaSeconds(trials: readonly TrialRow[], counts: StateCounts, nowMs: number): number | null {
  const remaining = counts.queued + counts.running;
  if (remaining === 0) return null;
  const finished = trials.filter((t) => t.state !== 'queued' && t.state !== 'running' && ms(t.finishedAt) !== null);
  const starts = trials.map((t) => ms(t.startedAt)).filter((v): v is number => v !== null);
  if (finished.length === 0 || starts.length === 0) return null;
  const elapsed = (nowMs - Math.min(...starts)) / 1000;
  if (!(elapsed > 0)) return null;
  return remaining / (finished.length / elapsed);
}

/** Hypervolume of the done trials finished by each moment, against the final reference (so
 * the curve ends at the report's value), at most `samples` points. Only trials at the
 * sweep's highest fidelity count, as in the report. */
export function hypervolumeOverTime(
  trials: readonly TrialRow[],
  summary: SweepSummary,
  samples = 100,
): { t: number; done: number; hypervolume: number }[] {
  if (summary.epochs === null) return [];
  const done = trials
    .filter((t) => t.state === 'done' && t.epochs === summary.epochs && ms(t.finishedAt) !== null)
    .sort((a, b) => ms(a.finishedAt)! - ms(b.finishedAt)! || a.id - b.id);
  const out: { t: number; done: number; hypervolume: number }[] = [];
  const step = Math.max(1, Math.ceil(done.length / samples));
  for (let k = step; ; k += step) {
    const n = Math.min(k, done.length);
    const { candidates } = candidateResults(done.slice(0, n));
    out.push({
      t: ms(done[n - 1].finishedAt)!,
      done: n,
      hypervolume: normalizedHypervolume(candidates, summary.objectives, summary.reference),
    });
    if (n === done.length) break;
  }
  return out;
}

export function sweepDetail(s: SweepRow, trials: readonly TrialRow[], counts: StateCounts, nowMs: number) {
  const objectives: Objective[] = ['accuracy', 'macs'];
  const summary = summarize(s.name, trials, objectives);
  const lastChange = Math.max(0, ...trials.map((t) => ms(t.finishedAt) ?? ms(t.startedAt) ?? 0));
  return {
    ...sweepListItem(s, counts),
    config: s.config,
    epochs: summary.epochs,
    candidates: summary.candidates.length,
    frontSize: summary.front.length,
    hypervolume: summary.hypervolume,
    eta: etaSeconds(trials, counts, nowMs),
    hypervolumeOverTime: hypervolumeOverTime(trials, summary),
    /** changes whenever a trial is added, starts or finishes: the page refetches on change */
    stamp: `${trials.length}:${Object.values(counts).join(',')}:${lastChange}`,
  };
}

export interface FrontPoint {
  hash: string;
  label: string;
  baseline: boolean;
  /** on the front of accuracy against this cost */
  front: boolean;
  accuracy: number;
  accuracyStd: number;
  seeds: number;
  macs: number;
  flops: number;
  params: number;
  /** the first done trial of this candidate at the compared fidelity: the one a click opens */
  trialId: number;
  /** per-slot settings as text, runs of equal slots collapsed */
  design: string;
  /** per-slot settings: [cg, s] for dw-scc slots, null otherwise; and each slot as text */
  slots: { text: string; cg: number | null; s: number | null }[];
}

/** Every compared candidate with its front membership, and the front as `pareto export`
 * writes it (with --objectives accuracy,<cost>). */
export function frontView(trials: readonly TrialRow[], cost: FrontCost): {
  objectives: Objective[];
  epochs: number | null;
  hypervolume: number;
  points: FrontPoint[];
  front: (FrontRow & { trialId: number })[];
} {
  const objectives: Objective[] = ['accuracy', cost];
  const summary = summarize('', trials, objectives);
  const onFront = new Set(summary.front.map((c) => c.hash));
  const firstTrial = new Map<string, number>();
  for (const t of trials) {
    if (t.state === 'done' && t.epochs === summary.epochs && !firstTrial.has(t.candidateHash)) firstTrial.set(t.candidateHash, t.id);
  }
  const points = summary.candidates.map(
    (c): FrontPoint => ({
      hash: c.hash,
      label: c.label,
      baseline: c.baseline,
      front: onFront.has(c.hash),
      accuracy: c.accuracy,
      accuracyStd: c.accuracyStd,
      seeds: c.seeds.length,
      macs: c.macs,
      flops: c.flops,
      params: c.params,
      trialId: firstTrial.get(c.hash)!,
      design: slotsText(c.variants, true),
      slots: c.variants.map((v) => ({
        text: slotText(v),
        cg: v.kind === 'dw-scc' ? v.cg : null,
        s: v.kind === 'dw-scc' ? v.s : null,
      })),
    }),
  );
  return {
    objectives,
    epochs: summary.epochs,
    hypervolume: summary.hypervolume,
    points,
    front: frontRows(summary.front).map((r) => ({ ...r, trialId: firstTrial.get(r.hash)! })),
  };
}
