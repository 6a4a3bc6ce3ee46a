// Walking a space: grid enumeration, counting the points the constraints keep, and seeded
// random sampling without replacement. All deterministic; none builds a spec.
import { createRng } from './rng.js';
import { decodeIndex, feasible, genomeKey, type Genome, type Space } from './space.js';

/** Every feasible point in grid order (last unit fastest). Lazy: stop when you have enough. */
export function* enumerateGrid(space: Space): Generator<Genome> {
  const radix = space.units.map((u) => u.options.length);
  const g = new Array<number>(radix.length).fill(0);
  for (;;) {
    if (feasible(space, g)) yield [...g];
    let u = radix.length - 1;
    while (u >= 0) {
      if (++g[u] < radix[u]) break;
      g[u] = 0;
      u--;
    }
    if (u < 0) return;
  }
}

export interface FeasibleCount {
  /** points that satisfy the constraints */
  count: bigint;
  /** false when the space was too large to walk and `count` is an estimate from a sample */
  exact: boolean;
}

// All (macs, params) sums of the options of `units`, one entry per combination.
function partialSums(space: Space, units: readonly number[]): { m: Float64Array; p: Float64Array } {
  let m = new Float64Array([0]);
  let p = new Float64Array([0]);
  for (const u of units) {
    const opts = space.units[u].options;
    const nm = new Float64Array(m.length * opts.length);
    const np = new Float64Array(m.length * opts.length);
    let k = 0;
    for (let i = 0; i < m.length; i++) {
      for (const o of opts) {
        nm[k] = m[i] + o.macs;
        np[k++] = p[i] + o.params;
      }
    }
    m = nm;
    p = np;
  }
  return { m, p };
}

/**
 * Exact count of feasible points by meet in the middle: the units are split in two halves,
 * every partial cost sum of each half is listed, and pairs are counted with a sweep over
 * MACs and a Fenwick tree over params (a 2-D dominance count). Null when a half would
 * list more than `maxHalf` sums.
 */
export function countFeasibleExact(space: Space, maxHalf = 1_000_000): bigint | null {
  const units = space.units.map((_, i) => i);
  // split where the first half's product is closest to the square root of the size
  let best = 0;
  let bestGap = Infinity;
  let prod = 1;
  const total = Number(space.size);
  for (let i = 0; i <= units.length; i++) {
    const gap = Math.abs(Math.log(prod) - Math.log(total) / 2);
    if (gap < bestGap) {
      bestGap = gap;
      best = i;
    }
    if (i < units.length) prod *= space.units[i].options.length;
  }
  const sizeA = space.units.slice(0, best).reduce((a, u) => a * u.options.length, 1);
  const sizeB = space.units.slice(best).reduce((a, u) => a * u.options.length, 1);
  if (sizeA > maxHalf || sizeB > maxHalf) return null;
  const A = partialSums(space, units.slice(0, best));
  const B = partialSums(space, units.slice(best));
  const c = space.constraints;
  const base = space.base;
  const maxParams = c.maxParams ?? Infinity;
  const hi = c.maxMacs ?? Infinity;
  // pairs with macs <= hi, minus pairs with macs < minMacs, both with params <= maxParams
  let n = dominanceCount(A, B, (am) => hi - base.macs - am, false, (ap) => maxParams - base.params - ap);
  if (c.minMacs !== undefined) {
    const lo = c.minMacs;
    n -= dominanceCount(A, B, (am) => lo - base.macs - am, true, (ap) => maxParams - base.params - ap);
  }
  return n;
}

// For each a in A: how many b in B have b.m <= X(a.m) (or < when strict) and b.p <= Y(a.p).
function dominanceCount(
  A: { m: Float64Array; p: Float64Array },
  B: { m: Float64Array; p: Float64Array },
  X: (am: number) => number,
  strict: boolean,
  Y: (ap: number) => number,
): bigint {
  const bOrder = Array.from(B.m.keys()).sort((i, j) => B.m[i] - B.m[j]);
  const qOrder = Array.from(A.m.keys())
    .map((i) => ({ x: X(A.m[i]), y: Y(A.p[i]) }))
    .sort((q, r) => q.x - r.x);
  const ps = Float64Array.from(B.p).sort();
  const tree = new Int32Array(ps.length + 1);
  // number of B params <= y, i.e. the Fenwick rank bound
  const upper = (y: number) => {
    let lo = 0;
    let hiIdx = ps.length;
    while (lo < hiIdx) {
      const mid = (lo + hiIdx) >> 1;
      if (ps[mid] <= y) lo = mid + 1;
      else hiIdx = mid;
    }
    return lo;
  };
  let total = 0n;
  let k = 0;
  for (const q of qOrder) {
    while (k < bOrder.length && (strict ? B.m[bOrder[k]] < q.x : B.m[bOrder[k]] <= q.x)) {
      // insert at the position of this params value (1-based; equal values share a slot)
      for (let i = upper(B.p[bOrder[k]]); i <= ps.length; i += i & -i) tree[i]++;
      k++;
    }
    let s = 0;
    for (let i = upper(q.y); i > 0; i -= i & -i) s += tree[i];
    total += BigInt(s);
  }
  return total;
}

/** How many points the constraints keep: exact by enumeration up to `limit` points, by
 * meet in the middle up to about a trillion, otherwise estimated from `samples` seeded
 * uniform draws. */
export function countFeasible(space: Space, limit = 2_000_000, samples = 20_000): FeasibleCount {
  const c = space.constraints;
  if (c.maxMacs === undefined && c.minMacs === undefined && c.maxParams === undefined) {
    return { count: space.size, exact: true };
  }
  if (space.size <= BigInt(limit)) {
    let n = 0n;
    for (const _ of enumerateGrid(space)) n++;
    return { count: n, exact: true };
  }
  const exact = countFeasibleExact(space);
  if (exact !== null) return { count: exact, exact: true };
  const rng = createRng(0x5eed, 1);
  let hits = 0;
  for (let i = 0; i < samples; i++) if (feasible(space, decodeIndex(space, rng.bigint(space.size)))) hits++;
  // scale in bigint: size * hits / samples
  return { count: (space.size * BigInt(hits)) / BigInt(samples), exact: false };
}

/** Up to `n` distinct feasible points, uniformly at random, without replacement; fewer
 * only when the space has fewer feasible points (or, in a huge space, when almost none
 * are feasible). `exclude` holds genome keys that must not be drawn. */
export function sampleRandom(space: Space, n: number, seed: number, exclude: ReadonlySet<string> = new Set()): Genome[] {
  const rng = createRng(seed, 2);
  // small spaces: list every feasible point and take a seeded partial shuffle, so the
  // sample is exactly uniform and cannot miss rare feasible points
  if (space.size <= BigInt(Math.max(200_000, 20 * n))) {
    const all: Genome[] = [];
    for (const g of enumerateGrid(space)) if (!exclude.has(genomeKey(g))) all.push(g);
    const k = Math.min(n, all.length);
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(all.length - i);
      [all[i], all[j]] = [all[j], all[i]];
    }
    return all.slice(0, k);
  }
  const out: Genome[] = [];
  const seen = new Set<string>(exclude);
  const maxDraws = 200 * n + 10_000;
  for (let d = 0; d < maxDraws && out.length < n; d++) {
    const g = decodeIndex(space, rng.bigint(space.size));
    const key = genomeKey(g);
    if (seen.has(key)) continue;
    seen.add(key);
    if (feasible(space, g)) out.push(g);
  }
  return out;
}

const fmtCount = (n: number) => n.toLocaleString('en-US');

/** Why no design of the space meets its constraints, or undefined when some may: each
 * bound against the cheapest (or dearest) design, then, when `count` says so, the bounds
 * together. Names the constraint and the cheapest design's cost. */
export function infeasibility(space: Space, count?: FeasibleCount): string | undefined {
  const c = space.constraints;
  const pick = (by: 'macs' | 'params', best: (a: number, b: number) => boolean): Genome =>
    space.units.map((u) => u.options.reduce((b, o, i) => (best(o[by], u.options[b]![by]) ? i : b), 0));
  const cheapest = pick('macs', (a, b) => a < b);
  const leanest = pick('params', (a, b) => a < b);
  const dearest = pick('macs', (a, b) => a > b);
  const costOf = (g: Genome) => {
    let macs = space.base.macs;
    let params = space.base.params;
    g.forEach((o, u) => {
      macs += space.units[u]!.options[o]!.macs;
      params += space.units[u]!.options[o]!.params;
    });
    return { macs, params };
  };
  const describe = (g: Genome) => {
    const k = costOf(g);
    const label = g.map((o, u) => space.units[u]!.options[o]!.label).join(' | ');
    return `${label}: ${fmtCount(k.macs)} MACs, ${fmtCount(k.params)} params`;
  };
  const fix = '; loosen "constraints" or widen "space"';
  if (c.maxMacs !== undefined && costOf(cheapest).macs > c.maxMacs) {
    return `no design meets constraints.maxMacs = ${fmtCount(c.maxMacs)}: the cheapest design of the space has more MACs (${describe(cheapest)})${fix}`;
  }
  if (c.maxParams !== undefined && costOf(leanest).params > c.maxParams) {
    return `no design meets constraints.maxParams = ${fmtCount(c.maxParams)}: the design with the fewest params has more (${describe(leanest)})${fix}`;
  }
  if (c.minMacs !== undefined && costOf(dearest).macs < c.minMacs) {
    return `no design meets constraints.minMacs = ${fmtCount(c.minMacs)}: the most expensive design of the space has fewer MACs (${describe(dearest)})${fix}`;
  }
  if (count && count.exact && count.count === 0n) {
    const named = (['maxMacs', 'minMacs', 'maxParams'] as const).filter((k) => c[k] !== undefined).map((k) => `constraints.${k} = ${fmtCount(c[k]!)}`);
    return `no design meets ${named.join(' and ')} together (the cheapest design of the space: ${describe(cheapest)})${fix}`;
  }
  return undefined;
}
