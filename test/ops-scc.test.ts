// SCC against its float64 definition (test/helpers/reference.ts), for every legal kind of window
// layout (groups x overlap x outChannels, wraps included), against its dense banded 1x1 conv,
// and through the public library API (validation, errors naming the field).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sccForward, sccBackward, channelStrideFromOverlap } from '../src/index.js';
import { runOp, setOpThreads } from '../src/engine/ops.js';
import * as ref from './helpers/reference.js';

// float32 sums of up to a few hundred products of values in [-1, 1): 1e-4 absolute plus
// 1e-4 relative is ~100x the rounding error and far below any indexing mistake (O(0.1..1)).
const TOL = { atol: 1e-4, rtol: 1e-4 };

function checkScc(s: ref.SccRefShape, seed: number, label: string): void {
  const D = s.Cin / s.groups;
  const x = ref.randomArray(s.N * s.Cin * s.H * s.W, seed);
  const w = ref.randomArray(s.Cout * D, seed + 1);
  const dy = ref.randomArray(s.N * s.Cout * s.H * s.W, seed + 2);
  const y = runOp('scc_forward', { ...s }, { x, w }).y as Float32Array;
  ref.assertClose(y, ref.sccForward(s, x, w), TOL, `${label} forward`);
  const g = runOp('scc_backward', { ...s }, { x, w, dy });
  const r = ref.sccBackward(s, x, w, dy);
  ref.assertClose(g.dx as Float32Array, r.dx, TOL, `${label} dX`);
  ref.assertClose(g.dw as Float32Array, r.dw, TOL, `${label} dW`);
}

test('SCC matches the reference for groups x overlap x outChannels (odd spatial size)', () => {
  const Cin = 24;
  let cases = 0;
  for (const groups of [1, 2, 4, 8])
    for (const co of [0, 0.25, 0.33, 0.5, 0.75])
      for (const Cout of [Cin / 2, Cin, 3 * Cin]) {
        const D = Cin / groups;
        const stride = channelStrideFromOverlap(D, co);
        checkScc({ N: 2, Cin, H: 3, W: 5, Cout, groups, stride }, cases, `g=${groups} co=${co} s=${stride} Cout=${Cout}`);
        cases++;
      }
  assert.equal(cases, 60);
});

test('SCC matches the reference on larger shapes with partial pixel panels and many slivers', () => {
  checkScc({ N: 3, Cin: 64, H: 9, W: 7, Cout: 96, groups: 2, stride: 16 }, 101, 'Cin64 g2 s16');
  checkScc({ N: 2, Cin: 40, H: 11, W: 11, Cout: 136, groups: 4, stride: 3 }, 102, 'Cin40 g4 s3');
  checkScc({ N: 1, Cin: 17, H: 1, W: 1, Cout: 50, groups: 1, stride: 5 }, 103, 'prime Cin, 1x1 image');
  checkScc({ N: 2, Cin: 30, H: 5, W: 13, Cout: 7, groups: 5, stride: 6 }, 104, 'D = s, Cout not a multiple');
});

test('SCC equals the 1x1 conv with the banded circulant dense weight, forward and backward', () => {
  const Cin = 32;
  for (const [groups, stride, Cout] of [
    [1, 32, 32],
    [2, 5, 48],
    [4, 3, 96],
    [8, 1, 16],
    [4, 8, 32],
  ] as const) {
    const s = { N: 2, Cin, H: 4, W: 6, Cout, groups, stride };
    const D = Cin / groups;
    const x = ref.randomArray(s.N * Cin * 24, 7);
    const w = ref.randomArray(Cout * D, 8);
    const dy = ref.randomArray(s.N * Cout * 24, 9);
    const dense = ref.sccDenseWeight(s, w);
    const conv = { N: 2, Cin, H: 4, W: 6, Cout, K: 1, stride: 1, pad: 0, groups: 1 };
    const label = `g=${groups} s=${stride} Cout=${Cout}`;
    const yScc = runOp('scc_forward', s, { x, w }).y as Float32Array;
    const yConv = runOp('conv2d_forward', conv, { x, w: dense }).y as Float32Array;
    ref.assertClose(yScc, yConv, TOL, `${label} forward`);
    const gScc = runOp('scc_backward', s, { x, w, dy });
    const gConv = runOp('conv2d_backward', conv, { x, w: dense, dy });
    ref.assertClose(gScc.dx as Float32Array, gConv.dx as Float32Array, TOL, `${label} dX`);
    ref.assertClose(gScc.dw as Float32Array, ref.sccBandOf(s, gConv.dw as Float32Array), TOL, `${label} dW`);
  }
});

test('SCC backward adds into the given gradients and skips the ones not asked for', () => {
  const s = { N: 2, Cin: 16, H: 3, W: 3, Cout: 24, groups: 2, stride: 3 };
  const x = ref.randomArray(2 * 16 * 9, 1);
  const w = ref.randomArray(24 * 8, 2);
  const dy = ref.randomArray(2 * 24 * 9, 3);
  const dx0 = ref.randomArray(x.length, 4);
  const dw0 = ref.randomArray(w.length, 5);
  const r = ref.sccBackward(s, x, w, dy);
  const g = runOp('scc_backward', s, { x, w, dy, dx: dx0, dw: dw0 });
  ref.assertClose(g.dx as Float32Array, r.dx.map((v, i) => v + dx0[i]!), TOL, 'dx += ');
  ref.assertClose(g.dw as Float32Array, r.dw.map((v, i) => v + dw0[i]!), TOL, 'dw += ');
  const onlyDw = runOp('scc_backward', { ...s, skip: ['dx'] }, { x, w, dy, dx: dx0 });
  assert.deepEqual(onlyDw.dx, dx0, 'a skipped dx is left untouched');
  ref.assertClose(onlyDw.dw as Float32Array, r.dw, TOL, 'dw alone');
});

test('SCC results are bit-identical for a fixed thread count and match across thread counts', () => {
  const s = { N: 5, Cin: 48, H: 8, W: 8, Cout: 96, groups: 2, stride: 7 };
  const x = ref.randomArray(5 * 48 * 64, 11);
  const w = ref.randomArray(96 * 24, 12);
  const dy = ref.randomArray(5 * 96 * 64, 13);
  try {
    setOpThreads(2);
    const a = runOp('scc_backward', s, { x, w, dy });
    const b = runOp('scc_backward', s, { x, w, dy });
    assert.deepEqual(a.dw, b.dw, 'same thread count: identical dW');
    assert.deepEqual(a.dx, b.dx, 'same thread count: identical dX');
    setOpThreads(1);
    const c = runOp('scc_backward', s, { x, w, dy });
    assert.deepEqual(c.dx, a.dx, 'dX has one writer per element: identical for any thread count');
    ref.assertClose(c.dw as Float32Array, a.dw as Float32Array, TOL, 'dW across thread counts');
  } finally {
    setOpThreads(0);
  }
});

test('SCC at high channel-group counts (shared-window kernels) matches the reference on 1 and 2 threads', () => {
  // every window start shared by 8 or more outputs: the forward and the data gradient by
  // shared windows (native/test/scc_cpu_check.cc asserts which kernels each layout takes),
  // co 0 / 0.25 / 0.5 / 0.75, Cout > Cin with wrap-around windows, vector and scalar pixel
  // tails, few pixels and batch 1; runs of 4 (co=0.75 g4) take those kernels on AVX2 and
  // portable builds (register blocks of 4) and the banded slivers on AVX-512
  const shapes: (ref.SccRefShape & { label: string })[] = [
    { label: 'co=0.5 g8', N: 2, Cin: 128, H: 4, W: 4, Cout: 128, groups: 8, stride: 8 },
    { label: 'co=0 g4 7x9', N: 2, Cin: 32, H: 7, W: 9, Cout: 64, groups: 4, stride: 8 },
    { label: 'co=0.5 g2 Cout>Cin 1x101', N: 3, Cin: 32, H: 1, W: 101, Cout: 96, groups: 2, stride: 8 },
    { label: 'co=0.25 g2', N: 2, Cin: 48, H: 4, W: 4, Cout: 96, groups: 2, stride: 18 },
    { label: 'co=0.75 g2', N: 2, Cin: 16, H: 3, W: 3, Cout: 64, groups: 2, stride: 2 },
    { label: '1x1 batch 1', N: 1, Cin: 64, H: 1, W: 1, Cout: 128, groups: 4, stride: 8 },
    { label: '2x2 batch 1', N: 1, Cin: 32, H: 2, W: 2, Cout: 64, groups: 2, stride: 8 },
    { label: 'co=0.75 g4 runs of 4 5x7', N: 2, Cin: 64, H: 5, W: 7, Cout: 64, groups: 4, stride: 4 },
    { label: 'co=0.75 g4 Cout=2Cin wrap 3x11', N: 3, Cin: 32, H: 3, W: 11, Cout: 64, groups: 4, stride: 2 },
  ];
  try {
    for (const threads of [1, 2]) {
      setOpThreads(threads);
      shapes.forEach((s, i) => checkScc(s, 200 + i, `${s.label} t${threads}`));
    }
    // one writer per output and per dX element: identical on any thread count
    const { label: _label, ...s } = shapes[0]!;
    const x = ref.randomArray(s.N * s.Cin * s.H * s.W, 31);
    const w = ref.randomArray(s.Cout * (s.Cin / s.groups), 32);
    const dy = ref.randomArray(s.N * s.Cout * s.H * s.W, 33);
    const runs = [1, 2].map((threads) => {
      setOpThreads(threads);
      return { y: runOp('scc_forward', { ...s }, { x, w }).y, dx: runOp('scc_backward', { ...s }, { x, w, dy }).dx };
    });
    assert.deepEqual(runs[0]!.y, runs[1]!.y, 'forward identical on 1 and 2 threads');
    assert.deepEqual(runs[0]!.dx, runs[1]!.dx, 'dX identical on 1 and 2 threads');
  } finally {
    setOpThreads(0);
  }
});

test('SCC over a batch of planes smaller than a vector (regrouped images) matches the reference on 1 and 2 threads', () => {
  // 2x2, 1x3 and 1x1 planes (and 3x3 on AVX-512 builds) over batches whose pixels exceed
  // the few-pixel forward's: native/src/ops/scc_small_planes_cpu.cc regroups the images
  // into groups of unequal sizes (37 x 4 pixels: 19 + 18 images), or one group (9 x 4);
  // runs of 8+ same-start outputs take its weight gradient, shorter runs (co=0.75 g2) the
  // per-image one; Cout > Cin with wrap-around windows, Cout < Cin
  const shapes: (ref.SccRefShape & { label: string })[] = [
    { label: '2x2 b37 co=0.5 g4', N: 37, Cin: 64, H: 2, W: 2, Cout: 64, groups: 4, stride: 8 },
    { label: '2x2 b9 Cout=2Cin wrap', N: 9, Cin: 32, H: 2, W: 2, Cout: 64, groups: 4, stride: 4 },
    { label: '1x3 b23 Cout<Cin', N: 23, Cin: 64, H: 1, W: 3, Cout: 32, groups: 2, stride: 16 },
    { label: '1x1 b70 co=0.5 g8', N: 70, Cin: 128, H: 1, W: 1, Cout: 128, groups: 8, stride: 8 },
    { label: '3x3 b23 co=0.75 g2 short runs', N: 23, Cin: 16, H: 3, W: 3, Cout: 64, groups: 2, stride: 2 },
  ];
  try {
    const outs: Record<string, ReturnType<typeof runOp>>[] = [];
    for (const threads of [1, 2]) {
      setOpThreads(threads);
      shapes.forEach((s, i) => checkScc(s, 300 + i, `${s.label} t${threads}`));
      // adding into given gradients, and overwriting dX
      const { label: _label, ...s } = shapes[0]!;
      const n = s.N * s.Cin * s.H * s.W;
      const x = ref.randomArray(n, 41), w = ref.randomArray(s.Cout * (s.Cin / s.groups), 42);
      const dy = ref.randomArray(s.N * s.Cout * s.H * s.W, 43), dx0 = ref.randomArray(n, 44);
      const dw0 = ref.randomArray(w.length, 45);
      const r = ref.sccBackward(s, x, w, dy);
      const add = runOp('scc_backward', { ...s }, { x, w, dy, dx: dx0, dw: dw0 });
      ref.assertClose(add.dx as Float32Array, r.dx.map((v, i) => v + dx0[i]!), TOL, `dX adds t${threads}`);
      ref.assertClose(add.dw as Float32Array, r.dw.map((v, i) => v + dw0[i]!), TOL, `dW adds t${threads}`);
      const over = runOp('scc_backward', { ...s, overwrite: 1 }, { x, w, dy, dx: dx0 });
      ref.assertClose(over.dx as Float32Array, r.dx, TOL, `dX overwritten t${threads}`);
      outs.push({ y: runOp('scc_forward', { ...s }, { x, w }), g: runOp('scc_backward', { ...s }, { x, w, dy }) });
    }
    // one writer per output and per dX element: identical on any thread count
    assert.deepEqual(outs[0]!.y!.y, outs[1]!.y!.y, 'forward identical on 1 and 2 threads');
    assert.deepEqual(outs[0]!.g!.dx, outs[1]!.g!.dx, 'dX identical on 1 and 2 threads');
  } finally {
    setOpThreads(0);
  }
});

test('library API: sccForward/sccBackward from the package main', () => {
  const shape = { batch: 2, inChannels: 12, height: 3, width: 3, outChannels: 18, groups: 3, channelStride: 2 };
  const s = { N: 2, Cin: 12, H: 3, W: 3, Cout: 18, groups: 3, stride: 2 };
  const x = ref.randomArray(2 * 12 * 9, 21);
  const w = ref.randomArray(18 * 4, 22);
  const dy = ref.randomArray(2 * 18 * 9, 23);
  ref.assertClose(sccForward(x, w, shape), ref.sccForward(s, x, w), TOL, 'sccForward');
  const g = sccBackward(x, w, dy, shape);
  const r = ref.sccBackward(s, x, w, dy);
  ref.assertClose(g.gradInput, r.dx, TOL, 'gradInput');
  ref.assertClose(g.gradWeight, r.dw, TOL, 'gradWeight');
});

test('library API: bad shapes and arrays throw an Error naming the field', () => {
  const shape = { batch: 1, inChannels: 8, height: 2, width: 2, outChannels: 8, groups: 2, channelStride: 2 };
  const x = new Float32Array(32);
  const w = new Float32Array(32);
  const dy = new Float32Array(32);
  const cases: [Record<string, number>, RegExp][] = [
    [{ groups: 3 }, /groups/],
    [{ channelStride: 5 }, /channelStride/],
    [{ channelStride: 0 }, /channelStride/],
    [{ batch: 1.5 }, /batch/],
    [{ height: 0 }, /height/],
    [{ outChannels: 2.5 }, /outChannels/],
    [{ inChannels: Number.NaN }, /inChannels/],
  ];
  for (const [patch, re] of cases) {
    assert.throws(() => sccForward(x, w, { ...shape, ...patch }), re, JSON.stringify(patch));
    assert.throws(() => sccBackward(x, w, dy, { ...shape, ...patch }), re, JSON.stringify(patch));
  }
  assert.throws(() => sccForward(new Float32Array(31), w, shape), /input/);
  assert.throws(() => sccForward(x, new Float32Array(33), shape), /weight/);
  assert.throws(() => sccBackward(x, w, new Float32Array(8), shape), /gradOutput/);
  assert.throws(() => sccForward(x, w, { ...shape, width: undefined } as never), /width/);
});

test('channelStrideFromOverlap follows s = clamp(D - round(co*D), 1, D)', () => {
  assert.equal(channelStrideFromOverlap(32, 0), 32);
  assert.equal(channelStrideFromOverlap(32, 0.5), 16);
  assert.equal(channelStrideFromOverlap(24, 0.33), 16);
  assert.equal(channelStrideFromOverlap(3, 0.75), 1);
  assert.equal(channelStrideFromOverlap(1, 0.9), 1);
  assert.throws(() => channelStrideFromOverlap(8, 1), /overlap/);
});
