// The small ops against the float64 reference: batch norm (train with running-stat update,
// eval, backward), relu, add, max pool, global average pool, linear, channel shuffle,
// option-A shortcut, softmax cross-entropy, SGD (momentum, weight decay, Nesterov), all_finite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runOp, setOpThreads } from '../src/engine/ops.js';
import * as ref from './helpers/reference.js';

// Short float32 reductions of O(1) values: 1e-4 absolute + 1e-4 relative; BN divides by a
// batch standard deviation, so its gradients get 1e-3 (still far below an indexing error).
const TOL = { atol: 1e-4, rtol: 1e-4 };
const BN_TOL = { atol: 1e-3, rtol: 1e-3 };

test('batchnorm train: batch statistics, output, saved stats, running-stat update', () => {
  for (const HW of [10, 37]) checkBnTrain(4, 3, HW);
});

function checkBnTrain(N: number, C: number, HW: number): void {
  const x = ref.randomArray(N * C * HW, 1).map((v, i) => v * (1 + (i % 3)) + 0.5);
  const gamma = ref.randomArray(C, 2);
  const beta = ref.randomArray(C, 3);
  const runningMean = ref.randomArray(C, 4);
  const runningVar = ref.randomArray(C, 5).map((v) => 1 + v * 0.5);
  const [momentum, eps] = [0.1, 1e-5];
  const out = runOp('batchnorm_train', { N, C, HW, momentum, eps }, { x, gamma, beta, runningMean, runningVar });
  const r = ref.batchnormTrain(N, C, HW, x, gamma, beta, eps);
  ref.assertClose(out.y as Float32Array, r.y, TOL, 'y');
  ref.assertClose(out.saveMean as Float32Array, r.mean, TOL, 'save_mean');
  ref.assertClose(out.saveInvstd as Float32Array, r.invstd, TOL, 'save_invstd');
  const rm = Array.from(runningMean, (v, c) => (1 - momentum) * v + momentum * r.mean[c]!);
  const rv = Array.from(runningVar, (v, c) => (1 - momentum) * v + momentum * r.varUnbiased[c]!);
  ref.assertClose(out.runningMean as Float32Array, rm, TOL, 'running_mean');
  ref.assertClose(out.runningVar as Float32Array, rv, TOL, 'running_var (unbiased)');
}

// Planes of 1, 2, 4 and 8 values run packed, 16 / HW channels to a vector (norm_cpu.cc),
// when C is a multiple of that; 6 channels stay on the per-channel route. 300 images of 4
// values and 1100 of 1 pass the 1024-value fold point of a channel's float lanes.
test('batchnorm train and backward on planes of 1, 2, 4 and 8 values (packed channels), one and two threads', () => {
  try {
    for (const threads of [1, 2]) {
      setOpThreads(threads);
      for (const [N, HW] of [[3, 1], [1100, 1], [5, 2], [3, 4], [300, 4], [2, 8]] as const)
        for (const C of [16, 48, 6]) {
          checkBnTrain(N, C, HW);
          checkBnBackward(N, C, HW);
        }
    }
  } finally {
    setOpThreads(0);
  }
});

test('batchnorm eval uses the running statistics', () => {
  const [N, C, HW] = [2, 4, 6];
  const x = ref.randomArray(N * C * HW, 11);
  const gamma = ref.randomArray(C, 12);
  const beta = ref.randomArray(C, 13);
  const rm = ref.randomArray(C, 14);
  const rv = ref.randomArray(C, 15).map((v) => 1.2 + v);
  const y = runOp('batchnorm_eval', { N, C, HW, eps: 1e-5 }, { x, gamma, beta, runningMean: rm, runningVar: rv }).y as Float32Array;
  ref.assertClose(y, ref.batchnormEval(N, C, HW, x, gamma, beta, rm, rv, 1e-5), TOL, 'eval y');
});

test('batchnorm backward: dx, dgamma, dbeta, added into existing gradients', () => {
  for (const HW of [7, 40]) checkBnBackward(3, 4, HW);
});

function checkBnBackward(N: number, C: number, HW: number): void {
  const x = ref.randomArray(N * C * HW, 21);
  const gamma = ref.randomArray(C, 22);
  const beta = ref.randomArray(C, 23);
  const dy = ref.randomArray(N * C * HW, 24);
  const fwd = runOp('batchnorm_train', { N, C, HW, momentum: 0.1, eps: 1e-5 }, { x, gamma, beta, runningMean: new Float32Array(C), runningVar: new Float32Array(C) });
  const dx0 = ref.randomArray(x.length, 25);
  const g = runOp('batchnorm_backward', { N, C, HW }, { x, gamma, saveMean: fwd.saveMean as Float32Array, saveInvstd: fwd.saveInvstd as Float32Array, dy, dx: dx0 });
  const r = ref.batchnormBackward(N, C, HW, x, gamma, dy, 1e-5);
  ref.assertClose(g.dx as Float32Array, r.dx.map((v, i) => v + dx0[i]!), BN_TOL, 'dx');
  ref.assertClose(g.dgamma as Float32Array, r.dgamma, BN_TOL, 'dgamma');
  ref.assertClose(g.dbeta as Float32Array, r.dbeta, BN_TOL, 'dbeta');
}

test('relu forward/backward and add forward/backward', () => {
  const n = 70001; // above the serial threshold: exercises the threaded path
  const x = ref.randomArray(n, 31);
  const y = runOp('relu_forward', { n }, { x }).y as Float32Array;
  ref.assertClose(y, Array.from(x, (v) => Math.max(v, 0)), { atol: 0, rtol: 0 }, 'relu');
  const dy = ref.randomArray(n, 32);
  const dx0 = ref.randomArray(n, 33);
  const dx = runOp('relu_backward', { n }, { y, dy, dx: dx0 }).dx as Float32Array;
  ref.assertClose(dx, Array.from(dy, (g, i) => dx0[i]! + (y[i]! > 0 ? g : 0)), TOL, 'relu backward');
  const b = ref.randomArray(n, 34);
  const s = runOp('add_forward', { n }, { a: x, b }).y as Float32Array;
  ref.assertClose(s, Array.from(x, (v, i) => v + b[i]!), TOL, 'add');
  const g = runOp('add_backward', { n }, { dy, da: dx0 });
  ref.assertClose(g.da as Float32Array, Array.from(dy, (v, i) => v + dx0[i]!), TOL, 'add da');
  ref.assertClose(g.db as Float32Array, dy, { atol: 0, rtol: 0 }, 'add db');
});

test('maxpool forward/backward: 2x2/2, 3x3/2 padded, odd sizes', () => {
  for (const s of [
    { N: 2, C: 3, H: 8, W: 6, K: 2, stride: 2, pad: 0 },
    { N: 3, C: 2, H: 7, W: 9, K: 2, stride: 2, pad: 0 }, // odd: last row and column unpooled
    { N: 2, C: 2, H: 7, W: 9, K: 3, stride: 2, pad: 1 },
    { N: 1, C: 2, H: 5, W: 5, K: 3, stride: 1, pad: 1 },
  ]) {
    const x = ref.randomArray(s.N * s.C * s.H * s.W, s.H * 7 + s.K);
    const r0 = ref.maxpool(s, x);
    const dy = ref.randomArray(r0.y.length, 41);
    const r = ref.maxpool(s, x, dy);
    ref.assertClose(runOp('maxpool_forward', s, { x }).y as Float32Array, r.y, { atol: 0, rtol: 0 }, 'maxpool y');
    ref.assertClose(runOp('maxpool_backward', s, { x, dy }).dx as Float32Array, r.dx, TOL, 'maxpool dx');
  }
});

test('global average pool forward/backward', () => {
  const [N, C, HW] = [3, 5, 49];
  const x = ref.randomArray(N * C * HW, 51);
  const y = runOp('gap_forward', { N, C, HW }, { x }).y as Float32Array;
  const expect = Array.from({ length: N * C }, (_, i) => x.slice(i * HW, (i + 1) * HW).reduce((a, v) => a + v, 0) / HW);
  ref.assertClose(y, expect, TOL, 'gap y');
  const dy = ref.randomArray(N * C, 52);
  const dx = runOp('gap_backward', { N, C, HW }, { dy }).dx as Float32Array;
  ref.assertClose(dx, Array.from(dx, (_, i) => dy[Math.floor(i / HW)]! / HW), TOL, 'gap dx');
});

test('linear forward/backward with bias', () => {
  const [N, In, Out] = [5, 37, 10];
  const x = ref.randomArray(N * In, 61);
  const w = ref.randomArray(Out * In, 62);
  const bias = ref.randomArray(Out, 63);
  const dy = ref.randomArray(N * Out, 64);
  ref.assertClose(runOp('linear_forward', { N, In, Out }, { x, w, bias }).y as Float32Array, ref.linearForward(N, In, Out, x, w, bias), TOL, 'linear y');
  const g = runOp('linear_backward', { N, In, Out, bias: true }, { x, w, dy });
  const r = ref.linearBackward(N, In, Out, x, w, dy);
  ref.assertClose(g.dx as Float32Array, r.dx, TOL, 'linear dx');
  ref.assertClose(g.dw as Float32Array, r.dw, TOL, 'linear dw');
  ref.assertClose(g.dbias as Float32Array, r.dbias, TOL, 'linear dbias');
});

test('channel shuffle forward, and backward is its inverse (added)', () => {
  const [N, C, HW, groups] = [2, 12, 5, 3];
  const x = ref.randomArray(N * C * HW, 71);
  const y = runOp('shuffle_forward', { N, C, HW, groups }, { x }).y as Float32Array;
  ref.assertClose(y, ref.shuffle(N, C, HW, groups, x), { atol: 0, rtol: 0 }, 'shuffle');
  const dx = runOp('shuffle_backward', { N, C, HW, groups }, { dy: y }).dx as Float32Array;
  ref.assertClose(dx, x, { atol: 0, rtol: 0 }, 'shuffle backward undoes forward');
});

test('option-A shortcut forward/backward: subsample and zero-pad channels', () => {
  for (const [H, W, stride] of [
    [8, 8, 2],
    [7, 5, 2],
    [4, 4, 1],
  ] as const) {
    const [N, Cin, Cout, padFront] = [2, 3, 7, 2];
    const x = ref.randomArray(N * Cin * H * W, H + W);
    const y = runOp('shortcut_a_forward', { N, Cin, H, W, stride, Cout, padFront }, { x }).y as Float32Array;
    const r = ref.shortcutA(N, Cin, H, W, stride, Cout, padFront, x);
    ref.assertClose(y, r, { atol: 0, rtol: 0 }, `shortcut ${H}x${W}/${stride}`);
    // The backward is the transpose: <shortcut(x), dy> == <x, shortcut^T(dy)>.
    const dy = ref.randomArray(y.length, 81);
    const dx = runOp('shortcut_a_backward', { N, Cin, H, W, stride, Cout, padFront }, { dy }).dx as Float32Array;
    const lhs = r.reduce((a, v, i) => a + v * dy[i]!, 0);
    const rhs = x.reduce((a, v, i) => a + v * dx[i]!, 0);
    assert.ok(Math.abs(lhs - rhs) < 1e-4, `adjoint: ${lhs} vs ${rhs}`);
  }
});

test('softmax cross-entropy: loss sum, hits, scaled gradient; eval variant', () => {
  const [N, K] = [6, 10];
  const logits = ref.randomArray(N * K, 91).map((v) => v * 4);
  const labels = Int32Array.from({ length: N }, (_, i) => (i * 3) % K);
  const scale = 1 / N;
  const out = runOp('softmax_xent', { N, K, gradScale: scale }, { logits, labels });
  const r = ref.softmaxXent(N, K, logits, labels, scale);
  assert.ok(Math.abs((out.lossSum as number) - r.loss) < 1e-4, `loss ${out.lossSum} vs ${r.loss}`);
  assert.equal(out.correct, r.correct);
  ref.assertClose(out.dlogits as Float32Array, r.d, { atol: 1e-6, rtol: 1e-5 }, 'dlogits');
  const ev = runOp('softmax_xent_eval', { N, K }, { logits, labels });
  assert.ok(Math.abs((ev.lossSum as number) - r.loss) < 1e-4);
  assert.equal(ev.correct, r.correct);
  assert.throws(() => runOp('softmax_xent', { N, K }, { logits, labels: Int32Array.from(labels, () => K) }), /labels/);
});

test('sgd step: momentum, weight decay, plain and Nesterov', () => {
  const n = 1000;
  const p = ref.randomArray(n, 101);
  const g = ref.randomArray(n, 102);
  const m = ref.randomArray(n, 103);
  for (const nesterov of [false, true]) {
    const out = runOp('sgd_step', { n, lr: 0.1, momentum: 0.9, wd: 5e-4, nesterov }, { p, g, m });
    const r = ref.sgdStep(p, g, m, 0.1, 0.9, 5e-4, nesterov);
    ref.assertClose(out.p as Float32Array, r.p, { atol: 1e-6, rtol: 1e-5 }, `p nesterov=${nesterov}`);
    ref.assertClose(out.m as Float32Array, r.m, { atol: 1e-6, rtol: 1e-5 }, `m nesterov=${nesterov}`);
  }
});

test('all_finite spots NaN and infinities', () => {
  const x = ref.randomArray(100, 111);
  assert.equal(runOp('all_finite', { n: 100 }, { x }).finite, true);
  for (const bad of [Number.NaN, Infinity, -Infinity]) {
    const y = x.slice();
    y[57] = bad;
    assert.equal(runOp('all_finite', { n: 100 }, { x: y }).finite, false, String(bad));
  }
});
