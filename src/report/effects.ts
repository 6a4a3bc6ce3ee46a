// What SCC's overlap buys, apart from the channel mixing that comes with it. At co = 0
// (s = D) SCC output c reads channel group c mod cg: a grouped 1x1 conv followed by
// ShuffleNet's channel shuffle (dw-gpw-shuffle), so "dw-scc against dw-gpw" measures overlap
// and mixing together. Per cg this separates them, at equal MACs:
// - overlap: the most accurate dw-scc design with co > 0 against dw-scc at co = 0;
// - mixing: dw-gpw-shuffle against dw-gpw.
// Only designs with the same variant in every slot count, and dw-scc designs given by their
// overlap ratio co (a channel stride s alone does not say whether windows overlap without
// the slot's width). Each verdict follows src/report/verdict.ts, the rule of the baselines.
import type { Variant } from '../models/spec.js';
import type { CandidateResult } from '../domain/candidate.js';
import { compareAccuracy, seedInterval, seedNoise, type VerdictKind } from './verdict.js';

export type EffectKind = 'overlap' | 'mixing';

/** One side of a comparison: what the reader needs to judge it. */
export interface EffectSide {
  label: string;
  accuracy: number;
  accuracyStd: number;
  seedAccuracies: number[];
  /** the range the verdict used: the seed range, or the sweep's noise around a single seed */
  range: [number, number] | null;
  macs: number;
}

export interface Effect {
  kind: EffectKind;
  cg: number;
  /** overlap: the best co > 0 design; mixing: dw-gpw-shuffle */
  treatment: EffectSide | null;
  /** overlap: co = 0; mixing: dw-gpw */
  reference: EffectSide | null;
  /** treatment.accuracy - reference.accuracy */
  diff: number | null;
  verdict: VerdictKind | null;
  /** why there is no comparison, when a side is missing */
  missing?: string;
}

export interface EffectsSummary {
  /** the widest seed range in the sweep (what a one-seed side is given) */
  noise: number | null;
  /** one overlap and one mixing effect per cg, cg ascending */
  byCg: { cg: number; overlap: Effect; mixing: Effect }[];
}

/** The variant every slot of `c` has, when they all have the same one (a dw-scc slot's
 * channel stride follows from its width, so it is left out of the match). */
export function uniformVariant(c: Pick<CandidateResult, 'variants'>): Variant | null {
  const v = c.variants[0];
  if (!v) return null;
  const key = JSON.stringify({ ...v, s: undefined });
  return c.variants.every((w) => JSON.stringify({ ...w, s: undefined }) === key) ? v : null;
}

function best(cs: readonly CandidateResult[]): CandidateResult | null {
  let out: CandidateResult | null = null;
  for (const c of cs) if (!out || c.accuracy > out.accuracy || (c.accuracy === out.accuracy && c.label < out.label)) out = c;
  return out;
}

function side(c: CandidateResult, noise: number | null): EffectSide {
  return {
    label: c.label,
    accuracy: c.accuracy,
    accuracyStd: c.accuracyStd,
    seedAccuracies: c.seedAccuracies,
    range: seedInterval(c, noise),
    macs: c.macs,
  };
}

function effect(
  kind: EffectKind,
  cg: number,
  treatment: CandidateResult | null,
  reference: CandidateResult | null,
  noise: number | null,
  names: [string, string],
): Effect {
  if (!treatment || !reference) {
    const absent = [!treatment ? names[0] : null, !reference ? names[1] : null].filter(Boolean).join(' and ');
    return {
      kind,
      cg,
      treatment: treatment ? side(treatment, noise) : null,
      reference: reference ? side(reference, noise) : null,
      diff: null,
      verdict: null,
      missing: `${absent} not trained at the compared fidelity`,
    };
  }
  const v = compareAccuracy(treatment, reference, noise);
  return { kind, cg, treatment: side(treatment, noise), reference: side(reference, noise), diff: v.diff, verdict: v.kind };
}

/** The overlap and mixing effects at every cg the sweep's uniform designs use. */
export function separateEffects(candidates: readonly CandidateResult[]): EffectsSummary {
  const noise = seedNoise(candidates);
  const byVariant = candidates.map((c) => ({ c, v: uniformVariant(c) })).filter((x): x is { c: CandidateResult; v: Variant } => x.v !== null);
  const cgs = new Set<number>();
  for (const { v } of byVariant) if (v.kind === 'dw-scc' || v.kind === 'dw-gpw' || v.kind === 'dw-gpw-shuffle') cgs.add(v.cg);
  const byCg = [...cgs]
    .filter((cg) => cg > 1) // at cg = 1 there is one group: nothing to mix, and dw-gpw is dw-pw
    .sort((a, b) => a - b)
    .map((cg) => {
      const scc = byVariant.filter(({ v }) => v.kind === 'dw-scc' && v.cg === cg && v.co !== undefined);
      const co0 = best(scc.filter(({ v }) => v.kind === 'dw-scc' && v.co === 0).map((x) => x.c));
      // equal MACs: an SCC slot's cost depends on cg only, but say so rather than assume it
      const overlapping = scc.filter(({ v, c }) => v.kind === 'dw-scc' && v.co! > 0 && (!co0 || c.macs === co0.macs)).map((x) => x.c);
      const gpw = best(byVariant.filter(({ v }) => v.kind === 'dw-gpw' && v.cg === cg).map((x) => x.c));
      const shuffled = best(byVariant.filter(({ v }) => v.kind === 'dw-gpw-shuffle' && v.cg === cg).map((x) => x.c));
      return {
        cg,
        overlap: effect('overlap', cg, best(overlapping), co0, noise, [`dw-scc:cg=${cg} with co > 0`, `dw-scc:cg=${cg},co=0`]),
        mixing: effect('mixing', cg, shuffled, gpw, noise, [`dw-gpw-shuffle:cg=${cg}`, `dw-gpw:cg=${cg}`]),
      };
    })
    .filter((e) => e.overlap.treatment || e.overlap.reference || e.mixing.treatment || e.mixing.reference);
  return { noise, byCg };
}

const EFFECT_NAME: Record<EffectKind, string> = {
  overlap: 'overlap (best co > 0 against co = 0)',
  mixing: 'mixing (dw-gpw-shuffle against dw-gpw)',
};

/** What a verdict means for the effect: the treatment is the side that adds overlap or mixing. */
export function effectVerdictText(e: Effect): string {
  const what = e.kind === 'overlap' ? 'overlap' : 'the shuffle';
  switch (e.verdict) {
    case 'better':
      return `${what} helps, beyond the seeds' spread`;
    case 'worse':
      return `${what} hurts, beyond the seeds' spread`;
    case 'within-noise':
      return 'within noise';
    case 'unknown':
      return 'noise unknown (one seed everywhere)';
    case null:
      return e.missing ?? 'not compared';
  }
}

/** "83.53% (82.60–84.46)": mean and the range the verdict used. */
export function sideText(x: EffectSide | null): string {
  if (!x) return '–';
  const mean = `${(x.accuracy * 100).toFixed(2)}%`;
  if (!x.range) return `${mean} (1 seed)`;
  const r = `${(x.range[0] * 100).toFixed(2)}–${(x.range[1] * 100).toFixed(2)}`;
  return x.seedAccuracies.length >= 2 ? `${mean} (${x.seedAccuracies.length} seeds: ${r})` : `${mean} (1 seed, noise: ${r})`;
}

/** One table row per effect: cg, effect, design, its accuracy, the reference, its accuracy,
 * the difference and the verdict; shared by `report` and the findings page. */
export function effectRows(s: EffectsSummary): string[][] {
  const rows: string[][] = [];
  for (const { cg, overlap, mixing } of s.byCg) {
    for (const e of [overlap, mixing]) {
      rows.push([
        String(cg),
        EFFECT_NAME[e.kind],
        e.treatment?.label ?? '–',
        sideText(e.treatment),
        e.reference?.label ?? '–',
        sideText(e.reference),
        e.diff === null ? '' : `${e.diff >= 0 ? '+' : ''}${(e.diff * 100).toFixed(2)} pt`,
        effectVerdictText(e),
      ]);
    }
  }
  return rows;
}
