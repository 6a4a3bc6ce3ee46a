// Which unit's choice drives accuracy once cost is accounted for, and how much of the
// accuracy differences between designs are signal rather than seed noise.
//
// Importance: accuracy (mean over seeds, per design) is first residualised on log-MACs by
// least squares, since a cheaper unit setting costs accuracy in every design and would
// otherwise rank the unit with the widest cost range first. The residuals are then fitted
// by an additive model, one effect per option of each unit (backfitting), and a unit's
// importance is the variance of its effect over the finished designs as a share of the
// residual variance: fANOVA's main effects for an additive model. What the main effects
// leave is interactions and seed noise. Units are the groups of slots that carry the same
// setting in every design (the config's tie).
//
// Reliability: the one-way random-effects ICC over designs trained with several seeds (the
// share of accuracy variance that lies between designs) and the reliability of a design's
// seed mean, (MSB - MSW) / MSB (Spearman-Brown for the seeds averaged). Both come with a
// 90% bootstrap interval over designs (the designs resampled with their seeds, a fixed
// generator seed, so the page is the same on every run): a pilot of 24 designs measures
// them loosely, and a decision made on the point estimate alone should say so.
import { formatVariant } from '../models/notation.js';
import { createRng } from '../space/rng.js';
import type { CandidateResult } from '../domain/candidate.js';

export interface UnitImportance {
  name: string;
  /** slot indices of the unit */
  slots: number[];
  /** share of the cost-residualised accuracy variance explained by this unit's main effect */
  share: number;
  /** effect of each option on accuracy (fraction), best first */
  options: { label: string; effect: number; designs: number }[];
}

export type ImportanceResult =
  | { ok: false; designs: number; needed: number; message: string }
  | {
      ok: true;
      designs: number;
      needed: number;
      /** share of accuracy variance explained by log-MACs alone */
      costShare: number;
      /** accuracy per doubling of MACs, from the log-MACs fit */
      perDoubling: number;
      /** best first */
      units: UnitImportance[];
      /** share of the residual variance the main effects leave: interactions and noise */
      unexplained: number;
    };

/** The designs needed: two per option of every unit, and ten in all. */
export function designsNeeded(optionCounts: readonly number[]): number {
  return Math.max(10, 2 * optionCounts.reduce((s, n) => s + n, 0));
}

function unitName(tie: string | undefined, k: number, slots: number[], count: number): string {
  if (count === 1) return tie === 'all' || tie === undefined ? 'all' : `slots ${slots[0]}-${slots.at(-1)}`;
  if (tie === 'stage') return `stage${k + 1}`;
  if (tie === 'slot' && slots.length === 1) return `slot ${slots[0]}`;
  return slots.length === 1 ? `slot ${slots[0]}` : `slots ${slots.join(',')}`;
}

/** Per-unit importance over a sweep's non-baseline candidates. `tie` names the units. */
export function unitImportance(candidates: readonly CandidateResult[], tie?: string): ImportanceResult {
  const ds = candidates.filter((c) => !c.baseline && Number.isFinite(c.accuracy) && c.variants.length > 0);
  const nSlots = ds[0]?.variants.length ?? 0;
  const labels = ds.map((c) => c.variants.map(formatVariant));
  // slots whose setting agrees in every design form one unit
  const units: number[][] = [];
  const byKey = new Map<string, number[]>();
  // tied slots may resolve to different layers (a stage's first slot changes channels), so
  // slots are grouped by which designs agree with which, not by their labels
  const signature = (s: number) => {
    const seen = new Map<string, number>();
    return labels.map((l) => {
      const v = l[s]!;
      if (!seen.has(v)) seen.set(v, seen.size);
      return seen.get(v);
    }).join(',');
  };
  for (let s = 0; s < nSlots; s++) {
    const k = signature(s);
    if (!byKey.has(k)) {
      byKey.set(k, []);
      units.push(byKey.get(k)!);
    }
    byKey.get(k)!.push(s);
  }
  const varying = units.filter((u) => new Set(labels.map((l) => l[u[0]!])).size > 1);
  const options = varying.map((u) => [...new Set(labels.map((l) => l[u[0]!]!))]);
  const needed = designsNeeded(options.map((o) => o.length));
  if (ds.length < needed || varying.length === 0) {
    return {
      ok: false,
      designs: ds.length,
      needed,
      message:
        varying.length === 0
          ? `importance needs designs that differ in at least one unit; this sweep's ${ds.length} finished design(s) do not`
          : `importance needs at least ${needed} finished designs (two per option of every unit: ${options
              .map((o) => o.length)
              .join(' + ')} options, and ten in all); this sweep has ${ds.length}`,
    };
  }
  const y = ds.map((c) => c.accuracy);
  const x = ds.map((c) => Math.log2(c.macs));
  const mean = (v: readonly number[]) => v.reduce((s, a) => s + a, 0) / v.length;
  const variance = (v: readonly number[]) => {
    const m = mean(v);
    return v.reduce((s, a) => s + (a - m) ** 2, 0) / v.length;
  };
  const mx = mean(x);
  const my = mean(y);
  const sxx = x.reduce((s, a) => s + (a - mx) ** 2, 0);
  const slope = sxx > 0 ? x.reduce((s, a, i) => s + (a - mx) * (y[i]! - my), 0) / sxx : 0;
  const resid = y.map((v, i) => v - my - slope * (x[i]! - mx));
  const total = variance(y);
  const residVar = variance(resid);
  // additive effects by backfitting
  const codes = varying.map((u, k) => ds.map((_, i) => options[k]!.indexOf(labels[i]![u[0]!]!)));
  const effects = options.map((o) => new Array<number>(o.length).fill(0));
  for (let it = 0; it < 50; it++) {
    for (let k = 0; k < varying.length; k++) {
      const sum = new Array<number>(options[k]!.length).fill(0);
      const cnt = new Array<number>(options[k]!.length).fill(0);
      for (let i = 0; i < ds.length; i++) {
        let r = resid[i]!;
        for (let j = 0; j < varying.length; j++) if (j !== k) r -= effects[j]![codes[j]![i]!]!;
        sum[codes[k]![i]!]! += r;
        cnt[codes[k]![i]!]!++;
      }
      const e = sum.map((s, o) => (cnt[o] ? s / cnt[o]! : 0));
      // centre over the designs so the effects carry no shared offset
      const centre = mean(codes[k]!.map((o) => e[o]!));
      effects[k] = e.map((v) => v - centre);
    }
  }
  const fitted = ds.map((_, i) => varying.reduce((s, _u, k) => s + effects[k]![codes[k]![i]!]!, 0));
  const result: UnitImportance[] = varying.map((u, k) => ({
    name: unitName(tie, units.indexOf(u), u, units.length),
    slots: u,
    share: residVar > 0 ? variance(codes[k]!.map((o) => effects[k]![o]!)) / residVar : 0,
    options: options[k]!
      .map((label, o) => ({ label, effect: effects[k]![o]!, designs: codes[k]!.filter((c) => c === o).length }))
      .sort((a, b) => b.effect - a.effect),
  }));
  result.sort((a, b) => b.share - a.share);
  return {
    ok: true,
    designs: ds.length,
    needed,
    costShare: total > 0 ? 1 - residVar / total : 0,
    perDoubling: slope,
    units: result,
    unexplained: residVar > 0 ? variance(resid.map((r, i) => r - fitted[i]!)) / residVar : 0,
  };
}

export interface Reliability {
  /** designs with at least two seeds */
  designs: number;
  /** mean seeds per design among them */
  seeds: number;
  /** share of accuracy variance between designs (one-way random-effects ICC(1)) */
  icc: number;
  /** reliability of a design's mean over its seeds: (MSB - MSW) / MSB */
  reliability: number;
  /** between-design and within-design (seed) standard deviations, in accuracy */
  betweenSd: number;
  seedSd: number;
  /** 90% bootstrap intervals over designs, [5th, 95th percentile] */
  iccInterval: [number, number];
  reliabilityInterval: [number, number];
}

/** Signal against noise over the candidates trained with two seeds or more; null when
 * fewer than three such designs. */
export function seedReliability(candidates: readonly CandidateResult[]): Reliability | null {
  const ds = candidates
    .filter((c) => c.seedAccuracies.length >= 2 && c.seedAccuracies.every(Number.isFinite))
    .map((c) => c.seedAccuracies);
  if (ds.length < 3) return null;
  const point = oneWay(ds);
  const rng = createRng(0x5eed, ds.length);
  const iccs: number[] = [];
  const rels: number[] = [];
  for (let b = 0; b < BOOTSTRAP_RESAMPLES; b++) {
    const r = oneWay(Array.from({ length: ds.length }, () => ds[rng.int(ds.length)]!));
    iccs.push(r.icc);
    rels.push(r.reliability);
  }
  return { ...point, iccInterval: percentiles(iccs), reliabilityInterval: percentiles(rels) };
}

const BOOTSTRAP_RESAMPLES = 1000;

/** The 5th and 95th percentiles. */
function percentiles(v: number[]): [number, number] {
  const s = [...v].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))]!;
  return [at(0.05), at(0.95)];
}

/** One-way random-effects ANOVA over designs (rows: one design's seed accuracies). */
function oneWay(ds: readonly (readonly number[])[]): Omit<Reliability, 'iccInterval' | 'reliabilityInterval'> {
  const n = ds.length;
  const N = ds.reduce((s, a) => s + a.length, 0);
  const grand = ds.reduce((s, a) => s + a.reduce((x, y) => x + y, 0), 0) / N;
  let ssb = 0;
  let ssw = 0;
  for (const acc of ds) {
    const m = acc.reduce((a, b) => a + b, 0) / acc.length;
    ssb += acc.length * (m - grand) ** 2;
    for (const a of acc) ssw += (a - m) ** 2;
  }
  const msb = ssb / (n - 1);
  const msw = ssw / (N - n);
  // k0: the effective seeds per design of an unbalanced one-way layout
  const k0 = (N - ds.reduce((s, a) => s + a.length ** 2, 0) / N) / (n - 1);
  const between = Math.max(0, (msb - msw) / k0);
  return {
    designs: n,
    seeds: N / n,
    icc: between + msw > 0 ? between / (between + msw) : 0,
    reliability: msb > 0 ? Math.max(0, (msb - msw) / msb) : 0,
    betweenSd: Math.sqrt(between),
    seedSd: Math.sqrt(msw),
  };
}

const pctOf = (x: number) => `${(100 * x).toFixed(0)}%`;
const pt = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)} pt`;

/** Lines of text (terminal and findings page alike; the page puts them in a table). */
export function importanceRows(r: Extract<ImportanceResult, { ok: true }>): string[][] {
  return r.units.map((u) => {
    const best = u.options[0]!;
    const worst = u.options.at(-1)!;
    return [u.name, pctOf(u.share), `${best.label} (${pt(best.effect)})`, `${worst.label} (${pt(worst.effect)})`];
  });
}

export const IMPORTANCE_HEAD = ['unit', 'share of accuracy variance after cost', 'best option (effect)', 'worst option (effect)'];

export function importanceLead(r: Extract<ImportanceResult, { ok: true }>): string {
  return (
    `Over ${r.designs} finished designs (at least ${r.needed} needed): log-MACs alone explains ${pctOf(r.costShare)} of the ` +
    `accuracy variance (${pt(r.perDoubling)} per doubling of MACs). Of what cost leaves, each unit's choice explains the ` +
    `share below (main effects of an additive fit); ${pctOf(r.unexplained)} is left to interactions between units and seed noise.`
  );
}

export function reliabilityText(r: Reliability): string {
  const span = ([lo, hi]: [number, number]) => `${lo.toFixed(2)}-${hi.toFixed(2)}`;
  return (
    `Over ${r.designs} designs with ${r.seeds.toFixed(1)} seeds each on average: ICC ${r.icc.toFixed(2)} (the share of accuracy ` +
    `variance between designs; between-design sd ${(100 * r.betweenSd).toFixed(2)} pt, seed sd ${(100 * r.seedSd).toFixed(2)} pt), ` +
    `reliability of a design's seed mean ${r.reliability.toFixed(2)}` +
    (r.reliability < 0.8 ? ' (below 0.8: rankings between close designs are noise; more epochs, data or seeds would help)' : '') +
    `. 90% intervals over designs (bootstrap): ICC ${span(r.iccInterval)}, reliability ${span(r.reliabilityInterval)}.`
  );
}
