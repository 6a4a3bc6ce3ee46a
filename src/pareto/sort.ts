// Non-dominated sorting and crowding distance over plain objective vectors, all to be
// MINIMISED (callers flip accuracy; see objectives.ts). Pure functions of their input.
//
// Ties and duplicates: `a` dominates `b` when it is no worse in every objective and
// strictly better in at least one. Two identical points therefore do not dominate each
// other, and duplicates share a rank: every copy of a non-dominated point is kept on the
// front (a researcher who trained the same design twice sees both rows).

export type Vec = readonly number[];

export function dominates(a: Vec, b: Vec): boolean {
  let better = false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] > b[i]) return false;
    if (a[i] < b[i]) better = true;
  }
  return better;
}

/** Pareto rank of every point (0 = non-dominated), by Deb's fast non-dominated sort. */
export function nonDominatedRanks(points: readonly Vec[]): number[] {
  const n = points.length;
  const dominatedBy = new Array<number>(n).fill(0);
  const dominating: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (dominates(points[i], points[j])) {
        dominating[i].push(j);
        dominatedBy[j]++;
      } else if (dominates(points[j], points[i])) {
        dominating[j].push(i);
        dominatedBy[i]++;
      }
    }
  }
  const rank = new Array<number>(n).fill(-1);
  let current: number[] = [];
  for (let i = 0; i < n; i++) if (dominatedBy[i] === 0) current.push(i);
  let r = 0;
  while (current.length > 0) {
    const nextFront: number[] = [];
    for (const i of current) {
      rank[i] = r;
      for (const j of dominating[i]) if (--dominatedBy[j] === 0) nextFront.push(j);
    }
    current = nextFront;
    r++;
  }
  return rank;
}

/** Fronts as lists of indices, best first, each in ascending index order. */
export function nonDominatedFronts(points: readonly Vec[]): number[][] {
  const ranks = nonDominatedRanks(points);
  const fronts: number[][] = [];
  ranks.forEach((r, i) => (fronts[r] ??= []).push(i));
  return fronts;
}

/** Indices of the non-dominated points (rank 0), in input order. Without the full ranking:
 * in lexicographic order a point can only be dominated by an earlier one, and (dominance
 * being transitive) then by an earlier non-dominated one, so each point is checked against
 * the front found so far: O(n log n + n * front size) instead of O(n^2), which the
 * dashboard needs for sweeps of thousands of trials. */
export function paretoIndices(points: readonly Vec[]): number[] {
  const order = points.map((_, i) => i).sort((a, b) => {
    const pa = points[a];
    const pb = points[b];
    for (let k = 0; k < pa.length; k++) if (pa[k] !== pb[k]) return pa[k] - pb[k];
    return a - b;
  });
  const front: number[] = [];
  for (const i of order) {
    if (!front.some((j) => dominates(points[j], points[i]))) front.push(i);
  }
  return front.sort((a, b) => a - b);
}

/** NSGA-II crowding distance of each point within one front (`idx` indexes `points`).
 * Boundary points get Infinity; each objective's gaps are normalised by its range. Ties in
 * an objective are ordered by index so the result is deterministic. */
export function crowdingDistance(points: readonly Vec[], idx: readonly number[]): Map<number, number> {
  const dist = new Map<number, number>();
  for (const i of idx) dist.set(i, 0);
  if (idx.length === 0) return dist;
  const m = points[idx[0]].length;
  for (let k = 0; k < m; k++) {
    const order = [...idx].sort((a, b) => points[a][k] - points[b][k] || a - b);
    const lo = points[order[0]][k];
    const hi = points[order[order.length - 1]][k];
    dist.set(order[0], Infinity);
    dist.set(order[order.length - 1], Infinity);
    if (hi === lo) continue;
    for (let t = 1; t < order.length - 1; t++) {
      const i = order[t];
      dist.set(i, dist.get(i)! + (points[order[t + 1]][k] - points[order[t - 1]][k]) / (hi - lo));
    }
  }
  return dist;
}
