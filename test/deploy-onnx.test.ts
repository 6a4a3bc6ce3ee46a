// ONNX export checked by a real runtime: every model family and every variant (SCC with
// several overlaps, Cout > Cin slots and wrap-around windows included) is exported and run
// under ONNX Runtime, and its logits compared with our engine's eval-mode forward on the
// same pixels; the graph's parameter and MAC counts, walked node by node, equal inspect's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { exportOnnx, lowerScc } from '../src/deploy/export.js';
import { countTotals } from '../src/cost/index.js';
import { forwardLogits, stateLayout, stateSize } from '../src/engine/index.js';
import { countGraph } from './helpers/onnx-graph.js';
import { randomPixels, randomState, relativeError, specOf } from './helpers/deploy-fixtures.js';

const MEAN = [0.49, 0.48, 0.45];
const STD = [0.25, 0.24, 0.26];
const VARIANTS = [
  'std',
  'dw-pw',
  'dw-gpw:cg=2',
  'dw-gpw-shuffle:cg=2',
  'gc-shuffle:g=2',
  'dw-scc:cg=2,co=0',
  'dw-scc:cg=2,co=0.25',
  'dw-scc:cg=2,co=0.33',
  'dw-scc:cg=4,co=0.5',
  'dw-scc:cg=2,co=0.75',
];
const FAMILIES = ['resnet20', 'vgg11', 'resnet18', 'resnet50', 'mobilenetv1'];
// ResNet-50 at 16x16 keeps the suite fast; its bottleneck blocks are what it adds
const inputSize = (model: string) => (model === 'resnet50' ? 16 : 32);

async function runOnnx(bytes: Uint8Array, pixels: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', pixels, dims) });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}


test('SCC lowering: gathered windows, groups and reordering reproduce the cyclic windows exactly', () => {
  const cases = [
    { inChannels: 16, outChannels: 16, groups: 2, channelStride: 4 },
    { inChannels: 16, outChannels: 32, groups: 2, channelStride: 8 },
    { inChannels: 12, outChannels: 20, groups: 3, channelStride: 3 },
    { inChannels: 16, outChannels: 20, groups: 2, channelStride: 6 }, // period 8, 20 % 8 != 0
    { inChannels: 8, outChannels: 8, groups: 1, channelStride: 8 },
  ];
  for (const l of cases) {
    const low = lowerScc(l);
    const d = l.inChannels / l.groups;
    const gathered = low.gather.length ? low.gather : Array.from({ length: l.inChannels }, (_, i) => i);
    const perGroupIn = gathered.length / low.groups;
    const perGroupOut = l.outChannels / low.groups;
    assert.equal(perGroupIn, d, `${JSON.stringify(l)}: each group reads one window`);
    assert.ok(Number.isInteger(perGroupOut));
    for (let q = 0; q < l.outChannels; q++) {
      const c = low.rowOf[q]!;
      const group = Math.floor(q / perGroupOut);
      const window = gathered.slice(group * d, (group + 1) * d);
      const expected = Array.from({ length: d }, (_, k) => ((c * l.channelStride) % l.inChannels + k) % l.inChannels);
      assert.deepEqual(window, expected, `${JSON.stringify(l)}: output ${c}`);
      const back = low.reorder.length ? low.reorder[c]! : c;
      assert.equal(back, q);
    }
  }
});

for (const model of FAMILIES) {
  test(`${model}: ONNX Runtime logits equal the engine's for every variant (max |diff| <= 1e-4 x max |logit|)`, async (t) => {
    const worst: string[] = [];
    for (const [vi, variant] of VARIANTS.entries()) {
      const spec = specOf(model, variant, { inputSize: inputSize(model) });
      const { state, layout } = randomState(spec, 7);
      // batch 1 takes the few-pixel kernels on the last stages' small planes, batch 2 the others
      const n = vi % 2 === 0 ? 1 : 2;
      const { pixels, normalised } = randomPixels(spec, n, MEAN, STD, 11);
      const ours = forwardLogits({ spec, state, images: normalised });
      for (const foldBn of [true, false]) {
        const bytes = exportOnnx({ spec, state, layout, normalisation: { dataset: 'test', mean: MEAN, std: STD }, foldBn });
        const theirs = await runOnnx(bytes, pixels, [n, ...spec.inputShape]);
        const rel = relativeError(theirs, ours);
        worst.push(`${variant}${foldBn ? '' : ' (BN kept)'}: ${rel.toExponential(2)}`);
        assert.ok(rel <= 1e-4, `${model} ${variant} foldBn=${foldBn}: max |diff| / max |logit| = ${rel}`);
      }
    }
    t.diagnostic(`${model} relative error: ${worst.join('; ')}`);
  });
}

test('graph walk: params and MACs of the exported graph equal inspect\'s (BN kept), MACs equal with BN folded', () => {
  for (const model of FAMILIES) {
    for (const variant of ['std', 'gc-shuffle:g=2', 'dw-gpw-shuffle:cg=4', 'dw-scc:cg=2,co=0.33', 'dw-scc:cg=4,co=0.75']) {
      const spec = specOf(model, variant, { inputSize: inputSize(model) });
      // counting needs shapes, not values
      const state = new Float32Array(stateSize(spec));
      const layout = stateLayout(spec);
      const cost = countTotals(spec);
      const kept = countGraph(exportOnnx({ spec, state, layout, normalisation: { dataset: 't', mean: MEAN, std: STD }, foldBn: false }));
      assert.equal(kept.params, cost.params, `${model} ${variant} params`);
      assert.equal(kept.macs, cost.macs, `${model} ${variant} MACs`);
      const folded = countGraph(exportOnnx({ spec, state, layout, normalisation: { dataset: 't', mean: MEAN, std: STD } }));
      assert.equal(folded.macs, cost.macs, `${model} ${variant} MACs, BN folded`);
      // a folded BN leaves its shift as the conv's bias: C parameters instead of 2C
      const bnKept = kept.ops.BatchNormalization ?? 0;
      assert.ok((folded.ops.BatchNormalization ?? 0) < bnKept, `${model} ${variant}: some BN folded`);
      assert.ok(folded.opset >= 17);
      assert.deepEqual(kept.inputDims, ['batch', ...spec.inputShape]);
      assert.deepEqual(kept.outputDims, ['batch', 10]);
      // SCC is never a dense conv: no Conv reads more input channels per group than a window
      if (variant.startsWith('dw-scc')) assert.ok((kept.ops.Gather ?? 0) > 0, 'windows are gathered');
    }
  }
});
