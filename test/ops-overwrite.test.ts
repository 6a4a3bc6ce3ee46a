// The executor asks a gradient's first contributor to OVERWRITE it instead of clearing it and
// adding (runOp's `overwrite` mask). Each op that honours it, on every CPU route, must then
// write every element of that gradient: dX starts full of garbage here, and the result must
// be the float64 reference alone, while weight gradients still add into what they hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runOp } from '../src/engine/ops.js';
import * as ref from './helpers/reference.js';

const TOL = { atol: 2e-4, rtol: 1e-4 };
const garbage = (n: number, seed: number) => ref.randomArray(n, seed).map((v) => 1e3 * v + 7);

test('conv2d backward overwrites dX on every route (wide, im2col, 1x1, depthwise 3x3 and KxK)', () => {
  const cases: ref.ConvShape[] = [
    { N: 3, Cin: 5, H: 9, W: 7, Cout: 7, K: 3, stride: 1, pad: 1, groups: 1 }, // stride-1 wide route
    { N: 2, Cin: 4, H: 8, W: 8, Cout: 6, K: 3, stride: 2, pad: 1, groups: 1 }, // im2col + col2im
    { N: 2, Cin: 6, H: 7, W: 5, Cout: 8, K: 1, stride: 2, pad: 0, groups: 1 }, // taps skip pixels
    { N: 2, Cin: 6, H: 5, W: 5, Cout: 8, K: 1, stride: 1, pad: 0, groups: 2 }, // pointwise GEMM
    { N: 1, Cin: 6, H: 5, W: 5, Cout: 4, K: 3, stride: 1, pad: 1, groups: 2 }, // batch < threads
    { N: 2, Cin: 6, H: 9, W: 7, Cout: 6, K: 3, stride: 1, pad: 1, groups: 6 }, // depthwise 3x3 s1
    { N: 2, Cin: 5, H: 8, W: 9, Cout: 5, K: 3, stride: 2, pad: 1, groups: 5 }, // depthwise 3x3 s2
    { N: 2, Cin: 4, H: 7, W: 7, Cout: 4, K: 5, stride: 2, pad: 2, groups: 4 }, // depthwise 5x5
  ];
  cases.forEach((s, i) => {
    const { Ho, Wo } = ref.convOut(s);
    const x = ref.randomArray(s.N * s.Cin * s.H * s.W, 10 * i);
    const w = ref.randomArray((s.Cout * s.Cin * s.K * s.K) / s.groups, 10 * i + 1);
    const dy = ref.randomArray(s.N * s.Cout * Ho * Wo, 10 * i + 2);
    const dw0 = ref.randomArray(w.length, 10 * i + 3);
    const g = runOp('conv2d_backward', { ...s, overwrite: 1 }, { x, w, dy, dx: garbage(x.length, i), dw: dw0 });
    const r = ref.conv2dBackward(s, x, w, dy);
    ref.assertClose(g.dx as Float32Array, r.dx, TOL, `case ${i} dx`);
    ref.assertClose(g.dw as Float32Array, r.dw.map((v, j) => v + dw0[j]!), TOL, `case ${i} dw adds`);
  });
});

test('scc backward overwrites dX, zeros included for input channels no window reads', () => {
  const cases: ref.SccRefShape[] = [
    { N: 2, Cin: 24, H: 5, W: 3, Cout: 24, groups: 2, stride: 6 }, // wrap-around windows
    { N: 2, Cin: 24, H: 4, W: 4, Cout: 2, groups: 4, stride: 6 }, // windows cover channels 0..11 only
    { N: 3, Cin: 8, H: 3, W: 3, Cout: 20, groups: 1, stride: 1 }, // Cout > Cin
  ];
  cases.forEach((s, i) => {
    const D = s.Cin / s.groups;
    const x = ref.randomArray(s.N * s.Cin * s.H * s.W, 50 + i);
    const w = ref.randomArray(s.Cout * D, 60 + i);
    const dy = ref.randomArray(s.N * s.Cout * s.H * s.W, 70 + i);
    const g = runOp('scc_backward', { ...s, overwrite: 1 }, { x, w, dy, dx: garbage(x.length, i) });
    const r = ref.sccBackward(s, x, w, dy);
    ref.assertClose(g.dx as Float32Array, r.dx, TOL, `scc case ${i} dX`);
    ref.assertClose(g.dw as Float32Array, r.dw, TOL, `scc case ${i} dW`);
  });
  // the uncovered channels really are uncovered, so the zeros above were written, not kept
  const s = { N: 1, Cin: 24, H: 2, W: 2, Cout: 2, groups: 4, stride: 6 };
  const r = ref.sccBackward(s, ref.randomArray(96, 1), ref.randomArray(12, 2), ref.randomArray(8, 3));
  assert.ok(r.dx.slice(12 * 4).every((v) => v === 0));
});

test('batchnorm, relu, add and maxpool backward overwrite the gradients they are asked to', () => {
  const N = 3, C = 4, HW = 37, n = N * C * HW;
  const x = ref.randomArray(n, 81);
  const gamma = ref.randomArray(C, 82);
  const beta = ref.randomArray(C, 83);
  const dy = ref.randomArray(n, 84);
  const fwd = runOp('batchnorm_train', { N, C, HW, momentum: 0.1, eps: 1e-5 }, { x, gamma, beta, runningMean: new Float32Array(C), runningVar: new Float32Array(C) });
  const bn = runOp('batchnorm_backward', { N, C, HW, overwrite: 1 }, {
    x, gamma, saveMean: fwd.saveMean as Float32Array, saveInvstd: fwd.saveInvstd as Float32Array, dy, dx: garbage(n, 1),
  });
  ref.assertClose(bn.dx as Float32Array, ref.batchnormBackward(N, C, HW, x, gamma, dy, 1e-5).dx, { atol: 1e-4, rtol: 1e-3 }, 'bn dx');

  const m = 70001; // above the serial threshold: the threaded path
  const y = runOp('relu_forward', { n: m }, { x: ref.randomArray(m, 85) }).y as Float32Array;
  const g = ref.randomArray(m, 86);
  const relu = runOp('relu_backward', { n: m, overwrite: 1 }, { y, dy: g, dx: garbage(m, 2) }).dx as Float32Array;
  ref.assertClose(relu, Array.from(g, (v, i) => (y[i]! > 0 ? v : 0)), { atol: 0, rtol: 0 }, 'relu dx');

  // bit 2 only: db is overwritten, da still adds
  const da0 = ref.randomArray(m, 87);
  const add = runOp('add_backward', { n: m, overwrite: 2 }, { dy: g, da: da0, db: garbage(m, 3) });
  ref.assertClose(add.da as Float32Array, Array.from(g, (v, i) => v + da0[i]!), TOL, 'add da adds');
  ref.assertClose(add.db as Float32Array, g, { atol: 0, rtol: 0 }, 'add db overwritten');

  // maxpool 2x2/2 on odd sizes (pixels no window reads) and 3x3/2 padded (overlapping windows)
  for (const s of [
    { N: 2, C: 3, H: 7, W: 9, K: 2, stride: 2, pad: 0 },
    { N: 2, C: 2, H: 7, W: 9, K: 3, stride: 2, pad: 1 },
  ]) {
    const xp = ref.randomArray(s.N * s.C * s.H * s.W, 88);
    const dyp = ref.randomArray(ref.maxpool(s, xp).y.length, 89);
    const mp = runOp('maxpool_backward', { ...s, overwrite: 1 }, { x: xp, dy: dyp, dx: garbage(xp.length, 4) });
    ref.assertClose(mp.dx as Float32Array, ref.maxpool(s, xp, dyp).dx, TOL, `maxpool ${s.K}x${s.K} dx`);
  }

  // the mode lasts one call: the next backward adds again
  const again = runOp('relu_backward', { n: m }, { y, dy: g, dx: da0 }).dx as Float32Array;
  ref.assertClose(again, Array.from(g, (v, i) => da0[i]! + (y[i]! > 0 ? v : 0)), TOL, 'relu adds after');
});
