// Finite-difference check of a small composite chained through the op entry points:
// conv3x3 -> batchnorm (train) -> relu -> SCC -> maxpool -> global average pool -> linear ->
// softmax cross-entropy. The analytic gradients (each op's backward) must agree with
// central differences of the loss along random directions, for every parameter and the input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runOp } from '../src/engine/ops.js';
import { randomArray } from './helpers/reference.js';

const N = 2;
const conv = { N, Cin: 3, H: 6, W: 6, Cout: 8, K: 3, stride: 1, pad: 1, groups: 1 };
const HW = 36;
const scc = { N, Cin: 8, H: 6, W: 6, Cout: 12, groups: 2, stride: 3 };
const pool = { N, C: 12, H: 6, W: 6, K: 2, stride: 2, pad: 0 };
const lin = { N, In: 12, Out: 5 };

type Params = Record<'x' | 'convW' | 'convB' | 'gamma' | 'beta' | 'sccW' | 'linW' | 'linB', Float32Array>;

function initial(): Params {
  return {
    x: randomArray(N * 3 * HW, 1),
    convW: randomArray(8 * 3 * 9, 2).map((v) => v * 0.5),
    convB: randomArray(8, 3),
    gamma: randomArray(8, 4).map((v) => 1 + 0.3 * v),
    beta: randomArray(8, 5).map((v) => 0.3 * v),
    sccW: randomArray(12 * 4, 6),
    linW: randomArray(5 * 12, 7),
    linB: randomArray(5, 8),
  };
}
const labels = Int32Array.from([1, 3]);

function forward(p: Params) {
  const f32 = (o: Record<string, unknown>, k: string) => o[k] as Float32Array;
  const c = f32(runOp('conv2d_forward', conv, { x: p.x, w: p.convW, bias: p.convB }), 'y');
  const bn = runOp('batchnorm_train', { N, C: 8, HW, momentum: 0.1, eps: 1e-5 }, {
    x: c, gamma: p.gamma, beta: p.beta, runningMean: new Float32Array(8), runningVar: new Float32Array(8),
  });
  const r = f32(runOp('relu_forward', { n: c.length }, { x: f32(bn, 'y') }), 'y');
  const s = f32(runOp('scc_forward', scc, { x: r, w: p.sccW }), 'y');
  const m = f32(runOp('maxpool_forward', pool, { x: s }), 'y');
  const g = f32(runOp('gap_forward', { N, C: 12, HW: 9 }, { x: m }), 'y');
  const z = f32(runOp('linear_forward', lin, { x: g, w: p.linW, bias: p.linB }), 'y');
  const loss = runOp('softmax_xent', { N, K: 5, gradScale: 1 / N }, { logits: z, labels });
  return { c, bn, r, s, m, g, z, loss: (loss.lossSum as number) / N, dz: loss.dlogits as Float32Array };
}

function gradients(p: Params): Params {
  const f = forward(p);
  const lg = runOp('linear_backward', { ...lin, bias: true }, { x: f.g, w: p.linW, dy: f.dz });
  const dm = runOp('gap_backward', { N, C: 12, HW: 9 }, { dy: lg.dx as Float32Array }).dx as Float32Array;
  const ds = runOp('maxpool_backward', pool, { x: f.s, dy: dm }).dx as Float32Array;
  const sg = runOp('scc_backward', scc, { x: f.r, w: p.sccW, dy: ds });
  const dbn = runOp('relu_backward', { n: f.r.length }, { y: f.r, dy: sg.dx as Float32Array }).dx as Float32Array;
  const bg = runOp('batchnorm_backward', { N, C: 8, HW }, {
    x: f.c, gamma: p.gamma, saveMean: f.bn.saveMean as Float32Array, saveInvstd: f.bn.saveInvstd as Float32Array, dy: dbn,
  });
  const cg = runOp('conv2d_backward', { ...conv, bias: true }, { x: p.x, w: p.convW, dy: bg.dx as Float32Array });
  return {
    x: cg.dx as Float32Array,
    convW: cg.dw as Float32Array,
    convB: cg.dbias as Float32Array,
    gamma: bg.dgamma as Float32Array,
    beta: bg.dbeta as Float32Array,
    sccW: sg.dw as Float32Array,
    linW: lg.dw as Float32Array,
    linB: lg.dbias as Float32Array,
  };
}

test('composite conv-BN-ReLU-SCC-maxpool-GAP-linear-loss: gradients match finite differences', () => {
  const p = initial();
  const grads = gradients(p);
  const eps = 1e-3;
  for (const key of Object.keys(p) as (keyof Params)[]) {
    for (let trial = 0; trial < 2; trial++) {
      const dir = randomArray(p[key].length, 100 + trial * 17 + key.length);
      const shifted = (sign: number) => ({ ...p, [key]: p[key].map((v, i) => v + sign * eps * dir[i]!) });
      const fd = (forward(shifted(1)).loss - forward(shifted(-1)).loss) / (2 * eps);
      const analytic = grads[key].reduce((a, g, i) => a + g * dir[i]!, 0);
      // float32 forward passes: loss noise ~1e-6 over 2*eps = 2e-3 gives ~1e-3 absolute;
      // 2% relative covers the O(eps^2) term and rare ReLU/max-pool kinks crossed by the step.
      const tol = 2e-3 + 0.02 * Math.abs(analytic);
      assert.ok(Math.abs(fd - analytic) <= tol, `${key} trial ${trial}: finite difference ${fd} vs analytic ${analytic}`);
    }
  }
});

test('the finite-difference check notices a wrong gradient', () => {
  // Sanity of the harness itself: doubling one analytic gradient must fail the comparison.
  const p = initial();
  const grads = gradients(p);
  const dir = randomArray(p.sccW.length, 5);
  const eps = 1e-3;
  const fd = (forward({ ...p, sccW: p.sccW.map((v, i) => v + eps * dir[i]!) }).loss -
    forward({ ...p, sccW: p.sccW.map((v, i) => v - eps * dir[i]!) }).loss) / (2 * eps);
  const wrong = 2 * grads.sccW.reduce((a, g, i) => a + g * dir[i]!, 0);
  assert.ok(Math.abs(fd - wrong) > 2e-3 + 0.02 * Math.abs(wrong), `doubled gradient ${wrong} vs ${fd} should differ`);
});
