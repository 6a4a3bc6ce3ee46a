// conv2d (standard, grouped, depthwise; strides, padding, bias) and our SGEMM (every
// transpose, alpha/beta) against the float64 reference, forward and every gradient.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runOp, setOpThreads } from '../src/engine/ops.js';
import * as ref from './helpers/reference.js';

// float32 sums of <= ~600 products of values in [-1, 1): 2e-4 absolute plus 1e-4 relative
// is ~100x their rounding error; an indexing mistake is O(0.1..1).
const TOL = { atol: 2e-4, rtol: 1e-4 };

function checkConv(s: ref.ConvShape, bias: boolean, seed: number, label: string): void {
  const { Ho, Wo } = ref.convOut(s);
  const x = ref.randomArray(s.N * s.Cin * s.H * s.W, seed);
  const w = ref.randomArray((s.Cout * s.Cin * s.K * s.K) / s.groups, seed + 1);
  const b = bias ? ref.randomArray(s.Cout, seed + 2) : undefined;
  const dy = ref.randomArray(s.N * s.Cout * Ho * Wo, seed + 3);
  const y = runOp('conv2d_forward', { ...s }, b ? { x, w, bias: b } : { x, w }).y as Float32Array;
  ref.assertClose(y, ref.conv2dForward(s, x, w, b), TOL, `${label} forward`);
  const g = runOp('conv2d_backward', { ...s, bias }, { x, w, dy });
  const r = ref.conv2dBackward(s, x, w, dy);
  ref.assertClose(g.dx as Float32Array, r.dx, TOL, `${label} dx`);
  ref.assertClose(g.dw as Float32Array, r.dw, TOL, `${label} dw`);
  if (bias) ref.assertClose(g.dbias as Float32Array, r.dbias, TOL, `${label} dbias`);
}

test('conv2d standard: kernel 1/3/5, stride 1/2, padding 0/1/2, odd sizes, with and without bias', () => {
  const cases: [ref.ConvShape, boolean][] = [
    [{ N: 3, Cin: 5, H: 9, W: 7, Cout: 7, K: 3, stride: 1, pad: 1, groups: 1 }, true],
    [{ N: 2, Cin: 4, H: 8, W: 8, Cout: 6, K: 3, stride: 2, pad: 1, groups: 1 }, false],
    [{ N: 2, Cin: 3, H: 7, W: 9, Cout: 4, K: 5, stride: 2, pad: 2, groups: 1 }, true],
    [{ N: 2, Cin: 6, H: 5, W: 5, Cout: 8, K: 1, stride: 1, pad: 0, groups: 1 }, true],
    [{ N: 2, Cin: 6, H: 7, W: 5, Cout: 8, K: 1, stride: 2, pad: 0, groups: 1 }, false],
    [{ N: 1, Cin: 3, H: 6, W: 6, Cout: 5, K: 3, stride: 1, pad: 0, groups: 1 }, false],
    [{ N: 3, Cin: 16, H: 12, W: 12, Cout: 40, K: 3, stride: 1, pad: 1, groups: 1 }, false],
    // stride-1 route over padded planes (conv_wide_cpu.cc): reduction Cin*9 = 288 and wide grid
    // 17 x 21 = 357 pixels both past its 256 blocking, Cout not a multiple of the 6-row tile
    [{ N: 3, Cin: 32, H: 17, W: 19, Cout: 7, K: 3, stride: 1, pad: 1, groups: 1 }, true],
    // pad < K-1 (dX is padded by K-1-pad = 3), and pad 0 on a batch big enough for the route
    [{ N: 2, Cin: 3, H: 8, W: 11, Cout: 5, K: 5, stride: 1, pad: 1, groups: 1 }, false],
    [{ N: 4, Cin: 4, H: 6, W: 7, Cout: 13, K: 3, stride: 1, pad: 0, groups: 1 }, true],
    [{ N: 2, Cin: 2, H: 5, W: 4, Cout: 3, K: 2, stride: 1, pad: 1, groups: 1 }, false],
    // pointwise on that route, read in place: 130 pixels = two 64-wide tiles and a 2-pixel
    // tail (copied, never read past the tensor); 260 input channels, past the 256 blocking
    [{ N: 2, Cin: 40, H: 10, W: 13, Cout: 9, K: 1, stride: 1, pad: 0, groups: 1 }, true],
    [{ N: 2, Cin: 260, H: 3, W: 7, Cout: 7, K: 1, stride: 1, pad: 0, groups: 1 }, false],
  ];
  cases.forEach(([s, bias], i) => checkConv(s, bias, 10 * i, `case ${i}`));
});

test('conv2d grouped (3x3 and 1x1) and depthwise (groups = Cin = Cout), strides and padding', () => {
  const cases: ref.ConvShape[] = [
    { N: 2, Cin: 8, H: 7, W: 7, Cout: 12, K: 3, stride: 1, pad: 1, groups: 4 },
    { N: 2, Cin: 6, H: 9, W: 8, Cout: 6, K: 3, stride: 2, pad: 1, groups: 2 },
    { N: 3, Cin: 8, H: 5, W: 5, Cout: 16, K: 1, stride: 1, pad: 0, groups: 4 },
    { N: 3, Cin: 6, H: 9, W: 7, Cout: 6, K: 3, stride: 1, pad: 1, groups: 6 },
    { N: 2, Cin: 5, H: 8, W: 9, Cout: 5, K: 3, stride: 2, pad: 1, groups: 5 },
    { N: 2, Cin: 4, H: 7, W: 7, Cout: 4, K: 5, stride: 2, pad: 2, groups: 4 },
    { N: 1, Cin: 3, H: 6, W: 5, Cout: 3, K: 3, stride: 1, pad: 0, groups: 3 },
    { N: 3, Cin: 6, H: 9, W: 10, Cout: 9, K: 5, stride: 1, pad: 2, groups: 3 },
    // depthwise 3x3 rows of whole vectors and of vectors plus a tail (narrower planes, as
    // the 9x7 case above, run as a 1-D filter over the flattened plane)
    { N: 2, Cin: 3, H: 4, W: 16, Cout: 3, K: 3, stride: 1, pad: 1, groups: 3 },
    { N: 2, Cin: 4, H: 5, W: 33, Cout: 4, K: 3, stride: 1, pad: 1, groups: 4 },
    { N: 2, Cin: 2, H: 6, W: 2, Cout: 2, K: 3, stride: 1, pad: 1, groups: 2 },
  ];
  cases.forEach((s, i) => checkConv(s, i % 2 === 0, 100 + 10 * i, `grouped case ${i}`));
});

test('conv2d backward adds into existing gradients', () => {
  const s = { N: 2, Cin: 4, H: 5, W: 5, Cout: 6, K: 3, stride: 1, pad: 1, groups: 2 };
  const x = ref.randomArray(2 * 4 * 25, 1);
  const w = ref.randomArray(6 * 2 * 9, 2);
  const dy = ref.randomArray(2 * 6 * 25, 3);
  const dx0 = ref.randomArray(x.length, 4);
  const dw0 = ref.randomArray(w.length, 5);
  const g = runOp('conv2d_backward', s, { x, w, dy, dx: dx0, dw: dw0 });
  const r = ref.conv2dBackward(s, x, w, dy);
  ref.assertClose(g.dx as Float32Array, r.dx.map((v, i) => v + dx0[i]!), TOL, 'dx +=');
  ref.assertClose(g.dw as Float32Array, r.dw.map((v, i) => v + dw0[i]!), TOL, 'dw +=');
});

test('sgemm: every transpose combination, alpha/beta, sizes off the register tile', () => {
  for (const [M, N, K] of [
    [1, 1, 1],
    [7, 33, 5],
    [37, 53, 71],
    [130, 70, 300],
  ] as const)
    for (const transA of [false, true])
      for (const transB of [false, true]) {
        const A = ref.randomArray(M * K, M + K);
        const B = ref.randomArray(K * N, N + K);
        const C = ref.randomArray(M * N, M + N);
        const alpha = 0.75;
        const beta = transA ? 0 : -0.5;
        const out = runOp('sgemm', { M, N, K, transA, transB, alpha, beta }, { A, B, C }).C as Float32Array;
        const label = `${M}x${N}x${K} tA=${transA} tB=${transB}`;
        // K <= 300 products in [-1,1): rounding stays far below 1e-4 * K^0.5
        ref.assertClose(out, ref.sgemm(transA, transB, M, N, K, alpha, A, B, beta, C), { atol: 3e-4, rtol: 1e-4 }, label);
      }
});

test('sgemm with beta = 0 ignores whatever C held (NaN included)', () => {
  const A = ref.randomArray(6 * 4, 1);
  const B = ref.randomArray(4 * 5, 2);
  const C = new Float32Array(30).fill(Number.NaN);
  const out = runOp('sgemm', { M: 6, N: 5, K: 4, beta: 0 }, { A, B, C }).C as Float32Array;
  ref.assertClose(out, ref.sgemm(false, false, 6, 5, 4, 1, A, B, 0, new Float32Array(30)), { atol: 1e-5, rtol: 1e-5 }, 'beta 0');
});

test('runOp refuses sizes that do not match the shape instead of reading past arrays', () => {
  assert.throws(
    () => runOp('conv2d_forward', { N: 1, Cin: 2, H: 3, W: 3, Cout: 2, K: 3, stride: 1, pad: 1, groups: 1 }, { x: new Float32Array(17), w: new Float32Array(36) }),
    /tensor 'x' has 17 values, expected 18/,
  );
  assert.throws(
    () => runOp('conv2d_forward', { N: 1, Cin: 3, H: 3, W: 3, Cout: 2, K: 3, stride: 1, pad: 1, groups: 2 }, {}),
    /groups must divide/,
  );
  assert.throws(() => runOp('nope' as never, {}, {}), /unknown op/);
});

test('conv2d weight gradients are bit-identical run to run for a fixed thread count', () => {
  const s = { N: 6, Cin: 8, H: 9, W: 9, Cout: 12, K: 3, stride: 1, pad: 1, groups: 2, bias: true };
  const x = ref.randomArray(6 * 8 * 81, 1);
  const w = ref.randomArray(12 * 4 * 9, 2);
  const dy = ref.randomArray(6 * 12 * 81, 3);
  try {
    setOpThreads(2);
    const a = runOp('conv2d_backward', s, { x, w, dy });
    const b = runOp('conv2d_backward', s, { x, w, dy });
    assert.deepEqual(a.dw, b.dw);
    assert.deepEqual(a.dbias, b.dbias);
    assert.deepEqual(a.dx, b.dx);
    setOpThreads(1);
    const c = runOp('conv2d_backward', s, { x, w, dy });
    ref.assertClose(c.dw as Float32Array, a.dw as Float32Array, TOL, 'dw across thread counts');
  } finally {
    setOpThreads(0);
  }
});

// Depthwise 3x3 on planes of at most 16 pixels past the few-pixel route (each plane one
// register, taps as lane permutations; conv_dw3x3_cpu.cc): 1x1, 2x2, 3x3, 4x4 and odd or
// one-row/one-column planes, strides 1 and 2, batch 1 (backward only: its forward is the
// few-pixel route) to 5, channel counts around the backward's 16-channel blocks, one and two
// threads; dX overwritten (over garbage) and added, dW added, against the float64 reference.
test('depthwise 3x3 on planes of at most 16 pixels: forward, dX (set and add) and dW, threads 1 and 2', () => {
  let cases = 0;
  try {
    for (const threads of [1, 2]) {
      setOpThreads(threads);
      for (const [H, W] of [[1, 1], [2, 2], [3, 3], [4, 4], [3, 5], [2, 7], [1, 16], [16, 1]] as const)
        for (const stride of [1, 2])
          for (const [N, C] of [[1, 5], [2, 17], [5, 33]] as const) {
            const s = { N, Cin: C, H, W, Cout: C, K: 3, stride, pad: 1, groups: C };
            const label = `${JSON.stringify(s)} threads=${threads}`;
            const { Ho, Wo } = ref.convOut(s);
            const seed = 1000 + 10 * cases;
            const x = ref.randomArray(N * C * H * W, seed);
            const w = ref.randomArray(C * 9, seed + 1);
            const b = ref.randomArray(C, seed + 2);
            const dy = ref.randomArray(N * C * Ho * Wo, seed + 3);
            const dx0 = ref.randomArray(x.length, seed + 4);
            const dw0 = ref.randomArray(w.length, seed + 5);
            const y = runOp('conv2d_forward', { ...s }, { x, w, bias: b }).y as Float32Array;
            ref.assertClose(y, ref.conv2dForward(s, x, w, b), TOL, `${label} forward`);
            const r = ref.conv2dBackward(s, x, w, dy);
            const set = runOp('conv2d_backward', { ...s, overwrite: 1 }, { x, w, dy, dx: dx0.map((v) => 1e3 * v + 7), dw: dw0 });
            ref.assertClose(set.dx as Float32Array, r.dx, TOL, `${label} dx set`);
            ref.assertClose(set.dw as Float32Array, r.dw.map((v, i) => v + dw0[i]!), TOL, `${label} dw +=`);
            const add = runOp('conv2d_backward', { ...s }, { x, w, dy, dx: dx0 });
            ref.assertClose(add.dx as Float32Array, r.dx.map((v, i) => v + dx0[i]!), TOL, `${label} dx +=`);
            ref.assertClose(add.dw as Float32Array, r.dw, TOL, `${label} dw`);
            cases++;
          }
    }
  } finally {
    setOpThreads(0);
  }
  assert.equal(cases, 2 * 8 * 2 * 3);
});
