// The few-pixel kernels (N*H*W <= 16: batch-1 inference on 4x4, 2x2 and 1x1 planes), against
// the float64 reference: the SCC forward for every window layout (wrap-around, overlaps,
// shared windows, Cout above and below Cin, windows not a multiple of the vector width) and
// the depthwise 3x3 forward (strides 1 and 2, with and without bias, channel counts off the
// vector width), on one and two threads; and both read through a folded BN+ReLU (the loss of
// a small network in train mode against a float64 forward of the same network).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channelStrideFromOverlap } from '../src/index.js';
import { runOp, setOpThreads } from '../src/engine/ops.js';
import { debugStep, stateLayout } from '../src/engine/index.js';
import * as ref from './helpers/reference.js';
import { MiniBuilder } from './net-fixtures.js';
import type { ModelSpec } from '../src/models/spec.js';

const TOL = { atol: 1e-4, rtol: 1e-4 };

test('few-pixel SCC forward equals the reference (N*H*W <= 16), one and two threads', () => {
  let cases = 0;
  try {
    for (const threads of [1, 2]) {
      setOpThreads(threads);
      for (const [N, H, W] of [[1, 1, 1], [1, 2, 2], [2, 2, 2], [1, 4, 4], [2, 2, 4], [1, 3, 5]] as const)
        for (const Cin of [24, 40])
          for (const groups of [1, 2, 4])
            for (const co of [0, 0.33, 0.75])
              for (const Cout of [Cin / 2, 3 * Cin]) {
                const D = Cin / groups;
                const stride = channelStrideFromOverlap(D, co);
                const s = { N, Cin, H, W, Cout, groups, stride };
                const x = ref.randomArray(N * Cin * H * W, cases);
                const w = ref.randomArray(Cout * D, cases + 1);
                const y = runOp('scc_forward', { ...s }, { x, w }).y as Float32Array;
                ref.assertClose(y, ref.sccForward(s, x, w), TOL, `${JSON.stringify(s)} threads=${threads}`);
                cases++;
              }
    }
  } finally {
    setOpThreads(0);
  }
  assert.equal(cases, 2 * 6 * 2 * 3 * 3 * 2);
});

test('few-pixel depthwise 3x3 forward equals the reference (N*H*W <= 16), one and two threads', () => {
  let cases = 0;
  try {
    for (const threads of [1, 2]) {
      setOpThreads(threads);
      for (const [N, H, W] of [[1, 1, 1], [1, 2, 2], [2, 2, 2], [1, 4, 4], [4, 2, 2], [1, 3, 5]] as const)
        for (const C of [5, 16, 37])
          for (const stride of [1, 2])
            for (const withBias of [false, true]) {
              const s = { N, Cin: C, H, W, Cout: C, K: 3, stride, pad: 1, groups: C };
              const x = ref.randomArray(N * C * H * W, cases);
              const w = ref.randomArray(C * 9, cases + 1);
              const b = withBias ? ref.randomArray(C, cases + 2) : undefined;
              const y = runOp('conv2d_forward', { ...s }, b ? { x, w, bias: b } : { x, w }).y as Float32Array;
              ref.assertClose(y, ref.conv2dForward(s, x, w, b), TOL, `${JSON.stringify(s)} bias=${withBias} threads=${threads}`);
              cases++;
            }
    }
  } finally {
    setOpThreads(0);
  }
  assert.equal(cases, 2 * 6 * 3 * 2 * 2);
});

// bn -> relu -> LAYER -> gap -> fc on a [8, 2, 2] input, in train mode: the engine folds the
// BN+ReLU into LAYER's read; its loss must equal a float64 forward of the same network.
function foldedLoss(layer: (b: MiniBuilder, t: number) => number, forward: (a: Float64Array, state: Float32Array, at: (layer: string, kind: string) => { offset: number; size: number }) => Float64Array, cout: number) {
  const b = new MiniBuilder([8, 2, 2]);
  let t = b.bn('bn', 0);
  t = b.relu('relu', t);
  t = layer(b, t);
  const HWo = b.shape(t)[1]! * b.shape(t)[2]!;
  t = b.gap('gap', t);
  b.linear('fc', t, 3);
  const spec: ModelSpec = { format: 1, model: 'few', inputShape: [8, 2, 2], classes: 3, slots: [], layers: b.layers, tensors: b.tensors };
  const N = 2;
  const x = ref.randomArray(N * 8 * 4, 5);
  const labels = Int32Array.from([0, 2]);
  const layout = stateLayout(spec);
  const state = new Float32Array(layout.stateSize);
  const rnd = ref.randomArray(state.length, 9);
  const at = (layer: string, kind: string) => layout.entries.find((e) => e.layer === layer && e.kind === kind)!;
  for (const e of layout.entries) {
    for (let i = 0; i < e.size; i++) state[e.offset + i] = e.kind === 'gamma' || e.kind === 'running_var' ? 1 + 0.5 * rnd[e.offset + i]! : rnd[e.offset + i]!;
  }
  const r = debugStep({ spec, images: x, labels, state, train: true });
  // float64 forward: BN with batch statistics, ReLU, the layer, GAP, linear, mean cross-entropy
  const g = at('bn', 'gamma');
  const be = at('bn', 'beta');
  const bn = ref.batchnormTrain(N, 8, 4, x, state.subarray(g.offset, g.offset + 8), state.subarray(be.offset, be.offset + 8), 1e-5).y;
  const y = forward(Float64Array.from(bn, (v) => Math.max(0, v)), state, at);
  const fw = at('fc', 'weight');
  const fb = at('fc', 'bias');
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const feat = Array.from({ length: cout }, (_, c) => {
      let sum = 0;
      for (let q = 0; q < HWo; q++) sum += y[(n * cout + c) * HWo + q]!;
      return sum / HWo;
    });
    const logits = Array.from({ length: 3 }, (_, k) => state[fb.offset + k]! + feat.reduce((s, f, c) => s + state[fw.offset + k * cout + c]! * f, 0));
    const m = Math.max(...logits);
    const lse = m + Math.log(logits.reduce((s, l) => s + Math.exp(l - m), 0));
    loss += lse - logits[labels[n]!]!;
  }
  loss /= N;
  assert.ok(Math.abs(r.loss - loss) <= 1e-5 * Math.max(1, Math.abs(loss)), `engine ${r.loss} vs float64 ${loss}`);
}

test('train mode: a BN+ReLU folded into a few-pixel SCC gives the float64 loss', () => {
  foldedLoss(
    (b, t) => b.scc('scc', t, 16, 2, 3),
    (a, state, at) => {
      const sw = at('scc', 'weight');
      return ref.sccForward({ N: 2, Cin: 8, H: 2, W: 2, Cout: 16, groups: 2, stride: 3 }, a, state.subarray(sw.offset, sw.offset + sw.size));
    },
    16,
  );
});

test('train mode: a BN+ReLU folded into a few-pixel depthwise 3x3 gives the float64 loss', () => {
  for (const stride of [1, 2])
    foldedLoss(
      (b, t) => b.conv('dw', t, 8, 3, stride, 8, true),
      (a, state, at) => {
        const dw = at('dw', 'weight');
        const db = at('dw', 'bias');
        return ref.conv2dForward({ N: 2, Cin: 8, H: 2, W: 2, Cout: 8, K: 3, stride, pad: 1, groups: 8 }, a, state.subarray(dw.offset, dw.offset + dw.size), state.subarray(db.offset, db.offset + db.size));
      },
      8,
    );
});

// bn -> relu -> depthwise 3x3 (bias) -> gap -> fc in train mode on planes of at most 16
// pixels: the engine folds the BN+ReLU into the depthwise conv's read (forward and weight
// gradient). Every parameter's gradient must equal the float64 chain's: BN with batch
// statistics, ReLU, the conv, GAP, linear, mean cross-entropy, and back.
function foldedDepthwiseGrads(C: number, H: number, W: number, stride: number, N: number, threads: number): void {
  const b = new MiniBuilder([C, H, W]);
  let t = b.bn('bn', 0);
  t = b.relu('relu', t);
  t = b.conv('dw', t, C, 3, stride, C, true);
  const [, Ho, Wo] = b.shape(t) as [number, number, number];
  t = b.gap('gap', t);
  b.linear('fc', t, 3);
  const spec: ModelSpec = { format: 1, model: 'few', inputShape: [C, H, W], classes: 3, slots: [], layers: b.layers, tensors: b.tensors };
  const HW = H * W, P = Ho * Wo;
  const x = ref.randomArray(N * C * HW, 11 * C + H);
  const labels = Int32Array.from({ length: N }, (_, n) => n % 3);
  const layout = stateLayout(spec);
  const state = new Float32Array(layout.stateSize);
  const rnd = ref.randomArray(state.length, 13);
  for (const e of layout.entries)
    for (let i = 0; i < e.size; i++) state[e.offset + i] = e.kind === 'gamma' || e.kind === 'running_var' ? 1 + 0.5 * rnd[e.offset + i]! : rnd[e.offset + i]!;
  const at = (layer: string, kind: string) => layout.entries.find((e) => e.layer === layer && e.kind === kind)!;
  const param = (layer: string, kind: string) => {
    const e = at(layer, kind);
    return state.subarray(e.offset, e.offset + e.size);
  };
  const r = debugStep({ spec, images: x, labels, state, train: true, threads });
  const grad = (layer: string, kind: string) => {
    const e = at(layer, kind);
    return r.grads!.subarray(e.offset, e.offset + e.size);
  };
  // float64 forward
  const gamma = param('bn', 'gamma');
  const a = ref.batchnormTrain(N, C, HW, x, gamma, param('bn', 'beta'), 1e-5).y;
  const relu = a.map((v) => Math.max(0, v));
  const s = { N, Cin: C, H, W, Cout: C, K: 3, stride, pad: 1, groups: C };
  const y = ref.conv2dForward(s, relu, param('dw', 'weight'), param('dw', 'bias'));
  const feat = new Float64Array(N * C);
  for (let i = 0; i < y.length; i++) feat[Math.floor(i / P)]! += y[i]! / P;
  const z = ref.linearForward(N, C, 3, feat, param('fc', 'weight'), param('fc', 'bias'));
  const xent = ref.softmaxXent(N, 3, z, labels, 1 / N);
  // and back
  const lin = ref.linearBackward(N, C, 3, feat, param('fc', 'weight'), xent.d);
  const dy = new Float64Array(y.length);
  for (let i = 0; i < dy.length; i++) dy[i] = lin.dx[Math.floor(i / P)]! / P;
  const conv = ref.conv2dBackward(s, relu, param('dw', 'weight'), dy);
  const da = conv.dx.map((v, i) => (a[i]! > 0 ? v : 0));
  const bn = ref.batchnormBackward(N, C, HW, x, gamma, da, 1e-5);
  const label = `[${C},${H},${W}] stride ${stride} N=${N} threads=${threads}`;
  assert.ok(Math.abs(r.loss - xent.loss / N) <= 1e-5 * Math.max(1, Math.abs(xent.loss / N)), `${label} loss ${r.loss} vs ${xent.loss / N}`);
  const G = { atol: 1e-5, rtol: 1e-3 };
  ref.assertClose(grad('dw', 'weight'), conv.dw, G, `${label} dw weight`);
  ref.assertClose(grad('dw', 'bias'), conv.dbias, G, `${label} dw bias`);
  ref.assertClose(grad('bn', 'gamma'), bn.dgamma, G, `${label} bn gamma`);
  ref.assertClose(grad('bn', 'beta'), bn.dbeta, G, `${label} bn beta`);
  ref.assertClose(grad('fc', 'weight'), lin.dw, G, `${label} fc weight`);
}

test('train mode: gradients through a BN+ReLU folded into a depthwise 3x3 on 16 pixels or fewer equal float64', () => {
  let cases = 0;
  for (const threads of [1, 2])
    for (const [H, W] of [[1, 1], [2, 2], [3, 3], [4, 4], [3, 5]] as const)
      for (const stride of [1, 2])
        for (const N of [1, 3]) {
          if (N * H * W < 2) continue; // batch statistics of one value
          // 16 channels: the BN packed 16 / HW channels to a vector (1x1, 2x2), 18: per channel
          for (const C of [16, 18]) foldedDepthwiseGrads(C, H, W, stride, N, threads);
          cases++;
        }
  assert.equal(cases, 2 * (5 * 2 * 2 - 2));
});
