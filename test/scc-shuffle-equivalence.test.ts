// dw-scc at co = 0 is dw-gpw-shuffle: with the channel stride s = D, SCC output c reads the
// window starting at (c*s) mod Cin = D * (c mod cg), i.e. group c mod cg, which is where
// ShuffleNet's channel shuffle puts the outputs of a grouped 1x1 conv. Proven here on the
// layers the model builder makes for the two variants, with random weights: the SCC weights
// are carried to the grouped conv by a permutation derived from the definitions (which input
// channels each weight multiplies, and where the shuffle moves each channel), and the two give
// the same outputs and input gradients, through the native ops and against the float64
// reference. The same weights without the shuffle (dw-gpw) must differ, so the check can fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runOp, sccForward } from '../src/engine/ops.js';
import { buildModel, parseVariant } from '../src/models/index.js';
import type { Conv2dLayer, Layer, ModelSpec, SccLayer, ShuffleLayer } from '../src/models/spec.js';
import * as ref from './helpers/reference.js';

// float32 sums of at most D = 8 products of values in [-1, 1) (and one gather for the
// shuffle): 1e-5 is ~100x their rounding error and far below a wrong weight (O(0.1..1))
const TOL = { atol: 1e-5, rtol: 1e-5 };

/** The layers of the first slot with these channel counts, in the spec of this variant. */
function slotLayers(spec: ModelSpec, cin: number, cout: number): Layer[] {
  const slot = spec.slots.find((s) => s.inChannels === cin && s.outChannels === cout);
  assert.ok(slot, `${spec.model} has a ${cin}->${cout} slot`);
  return spec.layers.filter((l) => l.slot === slot.index);
}

interface Pair {
  scc: SccLayer;
  gpw: Conv2dLayer;
  shuffle: ShuffleLayer;
}

function layersOf(cg: number, cin: number, cout: number): Pair {
  const scc = slotLayers(buildModel('resnet20', { variants: parseVariant(`dw-scc:cg=${cg},co=0`) }), cin, cout);
  const gs = slotLayers(buildModel('resnet20', { variants: parseVariant(`dw-gpw-shuffle:cg=${cg}`) }), cin, cout);
  // both start with the same DW3x3, BN, ReLU; what differs is the channel mixing after them
  assert.deepEqual(scc.slice(0, 3).map((l) => l.op), ['conv2d', 'batchnorm', 'relu']);
  assert.deepEqual(gs.slice(0, 3).map((l) => l.op), ['conv2d', 'batchnorm', 'relu']);
  assert.deepEqual(scc.slice(3).map((l) => l.op), ['scc']);
  assert.deepEqual(gs.slice(3).map((l) => l.op), ['conv2d', 'shuffle']);
  return { scc: scc[3] as SccLayer, gpw: gs[3] as Conv2dLayer, shuffle: gs[4] as ShuffleLayer };
}

/**
 * For each grouped-conv weight index, the SCC weight index it must hold, derived from the
 * definitions: SCC weight [c, k] multiplies input channel (c*s + k) mod Cin into output c
 * (test/helpers/reference.ts); grouped-conv weight [i, j] multiplies input channel
 * g*D + j into pre-shuffle channel i of group g = floor(i / (Cout/cg)); the shuffle's
 * source of each output, found by running the reference shuffle on channel numbers.
 * Throws when an output of the shuffled conv cannot read what the SCC output reads.
 */
function derivePermutation(p: Pair): { perm: number[]; sourceOf: number[] } {
  const { inChannels: cin, outChannels: cout, groups: cg, channelStride: s } = p.scc;
  const d = cin / cg;
  const probe = Float64Array.from({ length: cout }, (_, c) => c);
  const sourceOf = Array.from(ref.shuffle(1, cout, 1, p.shuffle.groups, probe)); // output o <- channel sourceOf[o]
  const perGroup = cout / p.gpw.groups;
  const perm = new Array<number>(cout * d).fill(-1);
  for (let o = 0; o < cout; o++) {
    const i = sourceOf[o]!;
    const g = Math.floor(i / perGroup);
    for (let k = 0; k < d; k++) {
      const j = ((o * s + k) % cin) - g * d;
      if (j < 0 || j >= d) throw new Error(`SCC output ${o} reads channel ${(o * s + k) % cin}, outside group ${g} of shuffled output ${o}`);
      perm[i * d + j] = o * d + k;
    }
  }
  assert.ok(perm.every((v) => v >= 0) && new Set(perm).size === perm.length, 'the mapping is a permutation');
  return { perm, sourceOf };
}

for (const ratio of [1, 2]) {
  for (const cg of [2, 4, 8]) {
    test(`dw-scc:cg=${cg},co=0 equals dw-gpw-shuffle:cg=${cg} (Cout = ${ratio === 1 ? 'Cin' : '2*Cin'}): outputs and input gradients`, () => {
      const cin = 16;
      const cout = ratio * cin;
      const p = layersOf(cg, cin, cout);
      const d = cin / cg;
      assert.equal(p.scc.channelStride, d, 'co = 0 means no overlap: s = D');
      assert.equal(p.gpw.groups, cg);
      assert.equal(p.gpw.kernel, 1);
      assert.equal(p.shuffle.groups, cg);
      const { perm, sourceOf } = derivePermutation(p);

      const N = 2;
      const H = 5;
      const W = 3;
      const HW = H * W;
      const seed = 100 * cg + ratio;
      const x = ref.randomArray(N * cin * HW, seed);
      const wScc = ref.randomArray(cout * d, seed + 1);
      const dy = ref.randomArray(N * cout * HW, seed + 2);
      const wGpw = Float32Array.from(perm, (src) => wScc[src]!);

      const sccShape = { N, Cin: cin, H, W, Cout: cout, groups: cg, stride: p.scc.channelStride };
      const convShape = { N, Cin: cin, H, W, Cout: cout, K: 1, stride: 1, pad: 0, groups: cg };
      const shuffleAttrs = { N, C: cout, HW, groups: cg };

      // forward: native SCC (op table and library API), native conv + shuffle, float64 reference
      const ySccOp = runOp('scc_forward', sccShape, { x, w: wScc }).y as Float32Array;
      const ySccApi = sccForward(x, wScc, { batch: N, inChannels: cin, height: H, width: W, outChannels: cout, groups: cg, channelStride: d });
      const yConv = runOp('conv2d_forward', convShape, { x, w: wGpw }).y as Float32Array;
      const yShuffled = runOp('shuffle_forward', shuffleAttrs, { x: yConv }).y as Float32Array;
      const ySccRef = ref.sccForward(sccShape, x, wScc);
      const yShuffledRef = ref.shuffle(N, cout, HW, cg, ref.conv2dForward(convShape, x, wGpw));
      ref.assertClose(ySccRef, yShuffledRef, { atol: 1e-12, rtol: 1e-12 }, 'float64 references');
      ref.assertClose(ySccOp, ySccRef, TOL, 'native SCC forward');
      ref.assertClose(ySccApi, ySccRef, TOL, 'library sccForward');
      ref.assertClose(yShuffled, ySccRef, TOL, 'native grouped conv + shuffle forward');
      ref.assertClose(yShuffled, ySccOp, TOL, 'the two native paths');

      // input gradients: SCC backward against the shuffle's backward, then the conv's
      const dxScc = runOp('scc_backward', sccShape, { x, w: wScc, dy }).dx as Float32Array;
      const dyConv = runOp('shuffle_backward', shuffleAttrs, { dy }).dx as Float32Array;
      const gConv = runOp('conv2d_backward', convShape, { x, w: wGpw, dy: dyConv });
      const dxSccRef = ref.sccBackward(sccShape, x, wScc, dy).dx;
      // the shuffle's backward from its definition: each source channel gets its output's gradient
      const dyConvRef = new Float64Array(dy.length);
      for (let n = 0; n < N; n++)
        for (let o = 0; o < cout; o++)
          for (let q = 0; q < HW; q++) dyConvRef[(n * cout + sourceOf[o]!) * HW + q] = dy[(n * cout + o) * HW + q]!;
      const gConvRef = ref.conv2dBackward(convShape, x, wGpw, dyConvRef);
      ref.assertClose(dxSccRef, gConvRef.dx, { atol: 1e-12, rtol: 1e-12 }, 'float64 reference dX');
      ref.assertClose(dxScc, dxSccRef, TOL, 'native SCC dX');
      ref.assertClose(gConv.dx as Float32Array, dxSccRef, TOL, 'native grouped conv + shuffle dX');
      ref.assertClose(gConv.dx as Float32Array, dxScc, TOL, 'the two native dX');
      // and the weight gradients are the same numbers under the same permutation
      const dwScc = runOp('scc_backward', sccShape, { x, w: wScc, dy }).dw as Float32Array;
      ref.assertClose(Float32Array.from(perm, (src) => dwScc[src]!), gConv.dw as Float32Array, TOL, 'dW under the permutation');

      // the check can fail: the same weights without the shuffle (dw-gpw) are another function
      let worst = 0;
      for (let i = 0; i < yConv.length; i++) worst = Math.max(worst, Math.abs(yConv[i]! - ySccOp[i]!));
      assert.ok(worst > 0.1, `without the shuffle the outputs should differ, max |diff| = ${worst}`);
    });
  }
}
