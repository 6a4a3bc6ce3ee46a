// Do mixed designs pay? In a per-stage or per-slot space, a uniform design puts the same
// variant in every slot; a mixed one does not. For each uniform design this finds the most
// accurate mixed design with no more MACs and judges the two by the rule of every verdict
// (src/report/verdict.ts). Picking the best of many mixed designs by their seed means
// flatters the winner (with two seeds, the largest of 200 noisy means sits well above its
// design's true accuracy), so where both sides have two shared seeds the pick is also made
// on the first seed alone and judged on the second: a held-out difference that selection
// cannot inflate.
import type { CandidateResult } from '../domain/candidate.js';
import { uniformVariant } from './effects.js';
import { compareAccuracy, seedNoise, type VerdictKind } from './verdict.js';

export interface HeldOut {
  /** the seed the mixed design was picked on, and the one it is judged on */
  pickedOn: number;
  judgedOn: number;
  label: string;
  /** mixed minus uniform, on the judging seed */
  diff: number;
}

export interface MixedComparison {
  uniform: CandidateResult;
  /** the most accurate mixed design with no more MACs (null: none is that cheap) */
  mixed: CandidateResult | null;
  /** how many mixed designs it was picked from */
  pool: number;
  diff: number | null;
  verdict: VerdictKind | null;
  heldOut: HeldOut | null;
}

export interface MixedSummary {
  /** uniform designs, by MACs ascending */
  comparisons: MixedComparison[];
  mixedCount: number;
  /** how many of the front's designs are mixed */
  frontMixed: number;
  frontSize: number;
}

function seedAcc(c: CandidateResult, seed: number): number | undefined {
  const i = c.seeds.indexOf(seed);
  return i < 0 ? undefined : c.seedAccuracies[i];
}

function heldOut(uniform: CandidateResult, pool: readonly CandidateResult[]): HeldOut | null {
  if (uniform.seeds.length < 2) return null;
  const [pickedOn, judgedOn] = uniform.seeds as [number, number];
  let pick: CandidateResult | null = null;
  for (const m of pool) {
    const a = seedAcc(m, pickedOn);
    if (a === undefined || seedAcc(m, judgedOn) === undefined) continue;
    if (!pick || a > seedAcc(pick, pickedOn)! || (a === seedAcc(pick, pickedOn) && m.label < pick.label)) pick = m;
  }
  if (!pick) return null;
  return { pickedOn, judgedOn, label: pick.label, diff: seedAcc(pick, judgedOn)! - seedAcc(uniform, judgedOn)! };
}

/** Null when the candidates hold no mixed design or no uniform one. */
export function mixedAgainstUniform(candidates: readonly CandidateResult[], front: readonly CandidateResult[]): MixedSummary | null {
  const uniform = candidates.filter((c) => uniformVariant(c) !== null).sort((a, b) => a.macs - b.macs || a.label.localeCompare(b.label));
  const mixed = candidates.filter((c) => uniformVariant(c) === null);
  if (uniform.length === 0 || mixed.length === 0) return null;
  const noise = seedNoise(candidates);
  const comparisons = uniform.map((u): MixedComparison => {
    const pool = mixed.filter((m) => m.macs <= u.macs);
    let best: CandidateResult | null = null;
    for (const m of pool) if (!best || m.accuracy > best.accuracy || (m.accuracy === best.accuracy && m.label < best.label)) best = m;
    if (!best) return { uniform: u, mixed: null, pool: 0, diff: null, verdict: null, heldOut: null };
    const v = compareAccuracy(best, u, noise);
    return { uniform: u, mixed: best, pool: pool.length, diff: v.diff, verdict: v.kind, heldOut: heldOut(u, pool) };
  });
  return {
    comparisons,
    mixedCount: mixed.length,
    frontMixed: front.filter((c) => uniformVariant(c) === null).length,
    frontSize: front.length,
  };
}

const pt = (d: number) => `${d >= 0 ? '+' : ''}${(d * 100).toFixed(2)} pt`;

/** The page's answer, in one paragraph. */
export function mixedAnswer(m: MixedSummary): string {
  const judged = m.comparisons.filter((c) => c.verdict !== null);
  const by = (k: VerdictKind) => judged.filter((c) => c.verdict === k);
  const names = (cs: MixedComparison[]) => cs.map((c) => c.uniform.label).join(', ');
  const better = by('better');
  const heldOut = judged.filter((c) => c.heldOut);
  const heldAhead = heldOut.filter((c) => c.heldOut!.diff > 0).length;
  const answer =
    judged.length === 0
      ? 'No mixed design costs as little as any uniform design.'
      : better.length === m.comparisons.length
        ? `Yes: every uniform design (${m.comparisons.length}) is beaten beyond the seeds' spread by a mixed design with no more MACs.`
        : `${better.length === 0 ? 'No' : 'Not everywhere'}: a mixed design with no more MACs beats ${better.length} of ${m.comparisons.length} uniform designs beyond the seeds' spread` +
          (better.length ? ` (${names(better)})` : '') +
          `; against ${by('within-noise').length} it is within noise` +
          (by('worse').length ? `, against ${by('worse').length} it is worse (${names(by('worse'))})` : '') +
          (m.comparisons.length > judged.length ? `, and ${m.comparisons.length - judged.length} have no mixed design as cheap` : '') +
          '.';
  const held = heldOut.length
    ? ` Picked on one seed and judged on the other, the mixed pick is ahead of ${heldAhead} of ${heldOut.length} uniform designs ` +
      `(median ${pt(median(heldOut.map((c) => c.heldOut!.diff)))}).`
    : '';
  return `${answer}${held} ${m.frontMixed} of the front's ${m.frontSize} designs are mixed (of ${m.mixedCount} mixed designs trained).`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

export const MIXED_HEAD = ['uniform design', 'accuracy', 'MACs', 'best mixed design with no more MACs (of how many)', 'accuracy', 'MACs', 'difference', 'verdict', 'held out: picked on seed a, judged on seed b'];

/** One row per uniform design, for the page (accuracy and count formatters passed in). */
export function mixedRows(m: MixedSummary, acc: (c: CandidateResult) => string, count: (n: number) => string, verdict: (k: VerdictKind) => string): string[][] {
  return m.comparisons.map((c) => {
    if (!c.mixed) return [c.uniform.label, acc(c.uniform), count(c.uniform.macs), '(none this cheap)', '', '', '', '', ''];
    const h = c.heldOut;
    return [
      c.uniform.label,
      acc(c.uniform),
      count(c.uniform.macs),
      `${c.mixed.label} (of ${c.pool})`,
      acc(c.mixed),
      count(c.mixed.macs),
      pt(c.diff!),
      verdict(c.verdict!),
      h ? `${h.label}: ${pt(h.diff)} (seed ${h.pickedOn} → ${h.judgedOn})` : '–',
    ];
  });
}
