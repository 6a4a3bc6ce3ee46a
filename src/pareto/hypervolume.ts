// Exact hypervolume of a set of points (all objectives MINIMISED) with respect to a
// reference point: the measure of the region dominated by the set and bounded by `ref`.
// Points that are not strictly better than `ref` in every objective contribute nothing.
// 1-D, 2-D (sort and sweep) and 3-D (slice along the third objective and sum 2-D areas)
// are exact; the normalisation used for reports lives in objectives.ts.
import type { Vec } from './sort.js';

function inside(p: Vec, ref: Vec): boolean {
  for (let i = 0; i < ref.length; i++) if (!(p[i] < ref[i])) return false;
  return true;
}

function hv2(points: readonly Vec[], ref: Vec): number {
  // the staircase: sweep by the first objective, keep points that lower the second
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const stairs: Vec[] = [];
  let bestY = ref[1];
  for (const p of pts) {
    if (p[1] < bestY) {
      stairs.push(p);
      bestY = p[1];
    }
  }
  let area = 0;
  for (let i = 0; i < stairs.length; i++) {
    const nextX = i + 1 < stairs.length ? stairs[i + 1][0] : ref[0];
    area += (nextX - stairs[i][0]) * (ref[1] - stairs[i][1]);
  }
  return area;
}

/** Exact hypervolume for 1, 2 or 3 objectives. */
export function hypervolume(points: readonly Vec[], ref: Vec): number {
  const d = ref.length;
  if (d < 1 || d > 3) throw new RangeError(`hypervolume: 1 to 3 objectives supported, got ${d}`);
  const pts = points.filter((p) => {
    if (p.length !== d) throw new RangeError(`hypervolume: point of ${p.length} objectives, reference has ${d}`);
    return inside(p, ref);
  });
  if (pts.length === 0) return 0;
  if (d === 1) return ref[0] - Math.min(...pts.map((p) => p[0]));
  if (d === 2) return hv2(pts, ref);
  // 3-D: between consecutive distinct z levels, the dominated slice is the 2-D hypervolume
  // of the points with z at or below the level
  const sorted = [...pts].sort((a, b) => a[2] - b[2]);
  let vol = 0;
  const active: Vec[] = [];
  for (let i = 0; i < sorted.length; i++) {
    active.push(sorted[i]);
    const z = sorted[i][2];
    const zNext = i + 1 < sorted.length ? sorted[i + 1][2] : ref[2];
    if (zNext > z) vol += hv2(active, ref) * (zNext - z);
  }
  return vol;
}
