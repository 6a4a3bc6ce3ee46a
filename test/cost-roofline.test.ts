// The roofline's work model (src/cost/roofline.ts): FLOPs and minimum bytes of each op family
// against arithmetic written out here from each op's definition, the network bound as the
// sum of its ops' bounds, and every layer of the benchmarked networks in a family.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  OP_FAMILIES,
  boundSeconds,
  layerWork,
  networkBoundSeconds,
  networkWork,
  opFamily,
  type OpFamily,
} from '../src/cost/roofline.js';
import { buildModel, parseVariant } from '../src/models/index.js';
import { MiniBuilder } from './net-fixtures.js';

const N = 2;
// One layer of each kind at batch N = 2 on a 4x5x5 input. Per row: the family, then
// [FLOPs, floats moved] of inference (the forward) and of training (forward + backward).
// Elements: x = N*C*H*W of the input, y of the output, w = weights.
function small() {
  const b = new MiniBuilder([4, 5, 5]);
  const stem = b.conv('stem', 0, 8, 3, 1); // [8,5,5], reads the network input
  const bn = b.bn('bn', stem);
  const relu = b.relu('relu', bn);
  const dw = b.conv('dw', relu, 8, 3, 2, 8); // [8,3,3]
  const scc = b.scc('scc', dw, 8, 2, 2); // D = 8/2 = 4 input channels per output
  const pw = b.conv('pw', scc, 8, 1, 1, 2); // grouped 1x1, 4 inputs per output
  const sh = b.shuffle('sh', pw, 2);
  const add = b.sum('add', sh, scc);
  const sa = b.shortcutA('sa', relu, 2, 16, 4); // [8,5,5] -> [16,3,3]
  b.maxpool('mp', add, 2, 2); // [8,3,3] -> [8,1,1]
  const gap = b.gap('gap', sa); // [16,1,1]
  b.linear('fc', gap, 10, true);
  return b.spec('roofline-small', 10);
}

const expected: Record<string, [OpFamily, [number, number], [number, number]]> = {
  // x 200, y 400, w 8*4*9 = 288, MACs N*288*25 = 14400; no dx (network input):
  // fwd 2*MACs, x+w+y; bwd dW 2*MACs, reads x+w+dy, writes dW
  stem: ['conv', [28800, 200 + 288 + 400], [28800 + 28800, 888 + 200 + 288 + 400 + 288]],
  // E = 400, C = 8: eval 2E, x + 4C + y; train fwd 5E, x + 2C + y; bwd 9E, x + dy + C + dx + 2C
  bn: ['bn', [800, 400 + 32 + 400], [2000 + 3600, 816 + 400 + 400 + 8 + 400 + 16]],
  // E = 400: fwd E, x + y; bwd E, y + dy + dx
  relu: ['eltwise', [400, 800], [800, 800 + 1200]],
  // x 400, y 2*8*9 = 144, w 8*9 = 72, MACs N*72*9 = 1296: bwd 4*MACs, x + w + dy + dW + dx
  dw: ['depthwise', [2592, 400 + 72 + 144], [2592 + 5184, 616 + 400 + 72 + 144 + 72 + 400]],
  // x = y = 144, w 8*4 = 32, MACs N*32*9 = 576
  scc: ['scc', [1152, 144 + 32 + 144], [1152 + 2304, 320 + 144 + 32 + 144 + 32 + 144]],
  pw: ['grouped1x1', [1152, 320], [3456, 320 + 496]],
  // a permutation: x + y each way
  sh: ['grouped1x1', [0, 288], [0, 576]],
  // E = 144: fwd E, a + b + y; bwd dy + da + db
  add: ['eltwise', [144, 432], [144, 432 + 432]],
  // kept pixels N*8*3*3 = 144, y N*16*9 = 288; bwd kept dy + kept dx
  sa: ['eltwise', [0, 144 + 288], [0, 432 + 288]],
  // y = N*8 = 16 outputs, 2x2 window: 3 compares each; bwd again from x: x + dy + dx
  mp: ['pool', [48, 144 + 16], [96, 160 + 144 + 16 + 144]],
  // x 288, y 32: fwd one add per x; bwd one scale per y, dy + dx
  gap: ['pool', [288, 320], [288 + 32, 320 + 32 + 288]],
  // x 32, y 20, w 160, b 10, MACs N*160 = 320: fwd 2*MACs + y (bias), x + w + b + y;
  // bwd dW and dx 4*MACs + y (db), x + w + dy + dW + db + dx
  fc: ['linear', [660, 32 + 160 + 10 + 20], [660 + 1300, 222 + 32 + 160 + 20 + 160 + 10 + 32]],
};

test('FLOPs and minimum bytes of each op family match the hand-computed values', () => {
  const spec = small();
  assert.equal(spec.layers.length, Object.keys(expected).length);
  for (const layer of spec.layers) {
    const [family, inf, train] = expected[layer.name]!;
    const w = layerWork(spec, layer, N);
    assert.equal(w.family, family, `${layer.name} family`);
    assert.deepEqual([w.inference.flops, w.inference.bytes], [inf[0], 4 * inf[1]], `${layer.name} inference`);
    assert.deepEqual([w.training.flops, w.training.bytes], [train[0], 4 * train[1]], `${layer.name} training`);
  }
  // SGD: params 288 + 16 (bn) + 72 + 32 + 32 + 160 + 10 = 610; reads w, g, m, writes w, m;
  // 3 multiply-adds each
  assert.deepEqual(networkWork(spec, N).update, { flops: 6 * 610, bytes: 4 * 5 * 610 });
});

test('a pass is bound by the slower of compute and memory, and the network by the sum of its ops', () => {
  const spec = small();
  const c = { gflops: 2, gbs: 3 }; // 2e9 FLOP/s, 3e9 B/s
  // the stem's inference: 28800 FLOPs = 14.4 us, 3552 B = 1.184 us: compute-bound
  const stem = boundSeconds(layerWork(spec, spec.layers[0]!, N).inference, c);
  assert.equal(stem.by, 'compute');
  assert.ok(Math.abs(stem.seconds - 28800 / 2e9) < 1e-15);
  // the shuffle: no FLOPs, 1152 B: memory-bound
  assert.equal(boundSeconds(layerWork(spec, spec.layers[6]!, N).inference, c).by, 'memory');
  const work = networkWork(spec, N);
  for (const mode of ['inference', 'training'] as const) {
    let sum = 0;
    for (const name of Object.keys(expected)) {
      const [, inf, train] = expected[name]!;
      const [f, floats] = mode === 'inference' ? inf : train;
      sum += Math.max(f / 2e9, (4 * floats) / 3e9);
    }
    if (mode === 'training') sum += Math.max((6 * 610) / 2e9, (20 * 610) / 3e9);
    const got = networkBoundSeconds(work, c, mode);
    assert.ok(Math.abs(got - sum) <= 1e-12 * sum, `${mode}: ${got} against ${sum}`);
  }
});

test('every layer of the benchmarked networks falls in a family, and the families are the expected ones', () => {
  const networks: [string, string, OpFamily[]][] = [
    ['resnet20', 'std', ['conv', 'bn', 'eltwise', 'pool', 'linear']],
    ['resnet20', 'dw-pw', ['conv', 'depthwise', 'grouped1x1', 'bn', 'eltwise', 'pool', 'linear']],
    ['resnet20', 'dw-gpw:cg=4', ['conv', 'depthwise', 'grouped1x1', 'bn', 'eltwise', 'pool', 'linear']],
    ['resnet20', 'dw-scc:cg=2,co=0.5', ['conv', 'depthwise', 'scc', 'bn', 'eltwise', 'pool', 'linear']],
    ['resnet20', 'dw-scc:cg=8,co=0.5', ['conv', 'depthwise', 'scc', 'bn', 'eltwise', 'pool', 'linear']],
    ['mobilenetv1', 'dw-scc:cg=4,co=0.5', ['conv', 'depthwise', 'scc', 'bn', 'eltwise', 'pool', 'linear']],
  ];
  for (const [model, variant, families] of networks) {
    const spec = buildModel(model, { variants: parseVariant(variant), inChannels: 3, inputSize: 32, classes: 10 });
    const seen = new Set<OpFamily>();
    for (const layer of spec.layers) {
      const f = opFamily(layer);
      assert.ok(OP_FAMILIES.includes(f), `${model} ${variant}: ${layer.name} (${layer.op}) has no family`);
      seen.add(f);
    }
    assert.deepEqual([...seen].sort(), [...families].sort(), `${model} ${variant}`);
    // in the dw-* networks, the only dense conv is the stem (not a slot)
    if (variant !== 'std') {
      const dense = spec.layers.filter((l) => opFamily(l) === 'conv');
      assert.ok(dense.every((l) => l.slot === undefined), `${model} ${variant}: a slot layer classed as dense conv`);
    }
  }
});
