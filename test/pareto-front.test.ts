// Non-dominated sorting and exact hypervolume against brute force on random points, with
// ties and duplicates (small integer coordinates make both frequent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  crowdingDistance,
  hypervolume,
  nonDominatedRanks,
  normalizedHypervolume,
  paretoFront,
  paretoIndices,
} from '../src/pareto/index.js';
import { createRng } from '../src/space/rng.js';

type P = number[];

// a dominates b: no worse everywhere, better somewhere (written out independently)
function bruteDominates(a: P, b: P): boolean {
  return a.every((v, i) => v <= b[i]) && a.some((v, i) => v < b[i]);
}

function bruteRanks(points: P[]): number[] {
  const rank = points.map(() => -1);
  let remaining = points.map((_, i) => i);
  for (let r = 0; remaining.length > 0; r++) {
    const front = remaining.filter((i) => !remaining.some((j) => bruteDominates(points[j], points[i])));
    for (const i of front) rank[i] = r;
    remaining = remaining.filter((i) => rank[i] < 0);
  }
  return rank;
}

// volume of the union of boxes [p, ref) on the grid spanned by all coordinates
function bruteHypervolume(points: P[], ref: P): number {
  const d = ref.length;
  const axes = Array.from({ length: d }, (_, k) =>
    [...new Set([...points.map((p) => p[k]), ref[k]])].filter((v) => v <= ref[k]).sort((a, b) => a - b),
  );
  let vol = 0;
  const idx = new Array(d).fill(0);
  const cells = axes.map((a) => a.length - 1);
  if (cells.some((c) => c <= 0)) return 0;
  for (;;) {
    const lo = idx.map((i, k) => axes[k][i]);
    if (points.some((p) => p.every((v, k) => v <= lo[k]))) {
      vol += idx.reduce((acc, i, k) => acc * (axes[k][i + 1] - axes[k][i]), 1);
    }
    let k = d - 1;
    while (k >= 0 && ++idx[k] >= cells[k]) idx[k--] = 0;
    if (k < 0) return vol;
  }
}

function randomPoints(seed: number, n: number, d: number, span: number): P[] {
  const rng = createRng(seed);
  const pts: P[] = [];
  for (let i = 0; i < n; i++) {
    // every fifth point is an exact duplicate of an earlier one
    if (i > 0 && i % 5 === 0) pts.push([...pts[rng.int(i)]]);
    else pts.push(Array.from({ length: d }, () => rng.int(span)));
  }
  return pts;
}

test('ranks equal brute-force peeling on random 2-D and 3-D points with ties and duplicates', () => {
  for (let seed = 0; seed < 40; seed++) {
    const d = 2 + (seed % 2);
    const pts = randomPoints(seed, 5 + (seed % 30), d, 6);
    assert.deepEqual(nonDominatedRanks(pts), bruteRanks(pts), `seed ${seed}`);
    assert.deepEqual(
      paretoIndices(pts),
      pts.map((_, i) => i).filter((i) => !pts.some((q) => bruteDominates(q, pts[i]))),
    );
  }
});

test('duplicates of a non-dominated point are all kept on the front', () => {
  const items = [
    { id: 'a', accuracy: 0.9, macs: 100, params: 1 },
    { id: 'b', accuracy: 0.9, macs: 100, params: 1 },
    { id: 'c', accuracy: 0.8, macs: 100, params: 1 },
    { id: 'd', accuracy: 0.95, macs: 200, params: 1 },
    { id: 'e', accuracy: 0.95, macs: 250, params: 1 },
  ];
  assert.deepEqual(
    paretoFront(items, ['accuracy', 'macs']).map((x) => x.id),
    ['a', 'b', 'd'],
  );
  // with params as a third objective, e stays dominated (same accuracy, more macs, same params)
  assert.deepEqual(
    paretoFront(items, ['accuracy', 'macs', 'params']).map((x) => x.id),
    ['a', 'b', 'd'],
  );
});

test('hypervolume equals the brute-force grid volume in 2-D and 3-D', () => {
  for (let seed = 100; seed < 160; seed++) {
    const d = 2 + (seed % 2);
    const pts = randomPoints(seed, 1 + (seed % 25), d, 8).map((p) => p.map((v) => v + 0.5 * (seed % 3)));
    const ref = Array.from({ length: d }, () => 7); // some points lie on or beyond the reference
    const got = hypervolume(pts, ref);
    const want = bruteHypervolume(pts.filter((p) => p.every((v, k) => v < ref[k])), ref);
    assert.ok(Math.abs(got - want) <= 1e-9 * Math.max(1, want), `seed ${seed}: ${got} vs ${want}`);
  }
});

test('hypervolume on a hand-computed staircase and edge cases', () => {
  assert.equal(hypervolume([[1, 3], [2, 2], [3, 1]], [4, 4]), 1 * 1 + 1 * 2 + 1 * 3);
  assert.equal(hypervolume([[1, 3], [1, 3], [2, 3]], [4, 4]), 3);
  assert.equal(hypervolume([], [1, 1]), 0);
  assert.equal(hypervolume([[5, 0]], [4, 4]), 0);
  assert.equal(hypervolume([[0, 0, 0]], [2, 3, 4]), 24);
  assert.throws(() => hypervolume([[1, 2, 3, 4]], [5, 5, 5, 5]), /1 to 3 objectives/);
});

test('normalised hypervolume: accuracy times the fraction of the reference cost saved', () => {
  const hv = normalizedHypervolume([{ accuracy: 0.9, macs: 50, params: 10 }], ['accuracy', 'macs'], {
    accuracy: 0,
    macs: 100,
  });
  assert.ok(Math.abs(hv - 0.45) < 1e-12);
  // a second point at higher cost and accuracy adds its own strip
  const hv2 = normalizedHypervolume(
    [
      { accuracy: 0.9, macs: 50, params: 10 },
      { accuracy: 0.95, macs: 80, params: 10 },
    ],
    ['accuracy', 'macs'],
    { accuracy: 0, macs: 100 },
  );
  assert.ok(Math.abs(hv2 - (0.45 + 0.05 * 0.2)) < 1e-12);
  // default reference: the costliest point, which then adds nothing
  const hv3 = normalizedHypervolume(
    [
      { accuracy: 0.9, macs: 50, params: 10 },
      { accuracy: 0.99, macs: 100, params: 20 },
    ],
    ['accuracy', 'macs', 'params'],
  );
  assert.ok(Math.abs(hv3 - 0.9 * 0.5 * 0.5) < 1e-12);
});

test('crowding distance: boundaries are infinite, inner points sum normalised gaps', () => {
  const pts = [[0, 4], [1, 2], [3, 1], [4, 0]];
  const cd = crowdingDistance(pts, [0, 1, 2, 3]);
  assert.equal(cd.get(0), Infinity);
  assert.equal(cd.get(3), Infinity);
  assert.ok(Math.abs(cd.get(1)! - ((3 - 0) / 4 + (4 - 1) / 4)) < 1e-12);
  assert.ok(Math.abs(cd.get(2)! - ((4 - 1) / 4 + (2 - 0) / 4)) < 1e-12);
});
