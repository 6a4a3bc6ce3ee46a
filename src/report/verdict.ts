// The rule every verdict of a report follows: two candidates differ only when their seed
// ranges do not overlap; a candidate trained with one seed gets a range as wide as the
// widest seen in the sweep; without any multi-seed candidate the noise is unknown and
// nothing is called. Used by the baseline comparison and by the overlap/mixing effects.
import type { CandidateScore } from '../domain/candidate.js';

export type VerdictKind = 'better' | 'worse' | 'within-noise' | 'unknown';

export interface Verdict {
  kind: VerdictKind;
  /** a.accuracy - b.accuracy (means over seeds) */
  diff: number;
}

/** The widest seed range (max - min accuracy) among candidates trained with two seeds or
 * more, or null when no candidate has two seeds. */
export function seedNoise(candidates: readonly CandidateScore[]): number | null {
  let widest: number | null = null;
  for (const c of candidates) {
    if (c.seedAccuracies.length < 2) continue;
    const r = Math.max(...c.seedAccuracies) - Math.min(...c.seedAccuracies);
    widest = widest === null ? r : Math.max(widest, r);
  }
  return widest;
}

/** The accuracies a candidate could plausibly reach: its seed range, or, with one seed, a
 * range of the sweep's noise centred on it (null when that noise is unknown). */
export function seedInterval(c: CandidateScore, noise: number | null): [number, number] | null {
  if (c.seedAccuracies.length >= 2) return [Math.min(...c.seedAccuracies), Math.max(...c.seedAccuracies)];
  if (noise === null) return null;
  return [c.accuracy - noise / 2, c.accuracy + noise / 2];
}

/** a against b: better or worse only when their intervals are disjoint. */
export function compareAccuracy(a: CandidateScore, b: CandidateScore, noise: number | null): Verdict {
  const diff = a.accuracy - b.accuracy;
  const ia = seedInterval(a, noise);
  const ib = seedInterval(b, noise);
  if (!ia || !ib) return { kind: 'unknown', diff };
  if (ia[0] > ib[1]) return { kind: 'better', diff };
  if (ia[1] < ib[0]) return { kind: 'worse', diff };
  return { kind: 'within-noise', diff };
}
