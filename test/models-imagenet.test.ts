// ImageNet-style networks (--stem imagenet): ResNet-18/34/50 exactly as torchvision builds
// them and MobileNetV1 as Howard et al. Parameter counts are torchvision's published
// figures; MACs are derived here, layer by layer, from the architectures as the papers
// describe them (not from src/cost), then compared with the cost model. The native
// executor builds and trains the new stem (7x7/2 conv, 3x3/2 padded max-pool).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countCost } from '../src/cost/index.js';
import { UsageError } from '../src/errors.js';
import { buildModel, slotsOf } from '../src/models/index.js';
import { loadDataset } from '../src/data/index.js';
import { resolveRecipe } from '../src/config/recipe.js';
import { paramCount, train } from '../src/engine/index.js';

const IMAGENET = { inChannels: 3, inputSize: 224, classes: 1000, stem: 'imagenet' as const };

// ---- an independent MAC count: output size and k*k*cin/groups*cout per output pixel ----
const out = (size: number, k: number, s: number, p: number) => Math.floor((size + 2 * p - k) / s) + 1;

function torchvisionResnetMacs(blocks: number[], bottleneck: boolean, size: number, classes: number): number {
  let macs = 0;
  let s = out(size, 7, 2, 3); // conv1 7x7/2
  macs += s * s * 3 * 49 * 64;
  s = out(s, 3, 2, 1); // maxpool 3x3/2
  let cin = 64;
  const expansion = bottleneck ? 4 : 1;
  blocks.forEach((n, stage) => {
    const planes = 64 * 2 ** stage;
    for (let b = 0; b < n; b++) {
      const stride = b === 0 && stage > 0 ? 2 : 1;
      const so = out(s, 3, stride, 1);
      if (bottleneck) {
        macs += s * s * cin * planes; // 1x1 reduce at the input resolution
        macs += so * so * 9 * planes * planes; // 3x3 with the stride (v1.5)
        macs += so * so * planes * planes * 4; // 1x1 expand
      } else {
        macs += so * so * 9 * cin * planes;
        macs += so * so * 9 * planes * planes;
      }
      if (stride !== 1 || cin !== planes * expansion) macs += so * so * cin * planes * expansion; // projection
      cin = planes * expansion;
      s = so;
    }
  });
  return macs + cin * classes;
}

function mobilenetMacs(size: number, classes: number): number {
  const blocks: [number, number][] = [
    [64, 1], [128, 2], [128, 1], [256, 2], [256, 1], [512, 2],
    [512, 1], [512, 1], [512, 1], [512, 1], [512, 1], [1024, 2], [1024, 1],
  ];
  let s = out(size, 3, 2, 1);
  let macs = s * s * 27 * 32;
  let cin = 32;
  for (const [cout, stride] of blocks) {
    s = out(s, 3, stride, 1);
    macs += s * s * 9 * cin; // depthwise 3x3
    macs += s * s * cin * cout; // pointwise
    cin = cout;
  }
  return macs + cin * classes;
}

test('imagenet stem at 3x224x224, 1000 classes: torchvision parameter counts, MACs derived independently', () => {
  const r18 = countCost(buildModel('resnet18', { ...IMAGENET, variants: { kind: 'std' } }));
  assert.equal(r18.params, 11_689_512);
  assert.equal(r18.macs, torchvisionResnetMacs([2, 2, 2, 2], false, 224, 1000));
  const r34 = countCost(buildModel('resnet34', { ...IMAGENET, variants: { kind: 'std' } }));
  assert.equal(r34.params, 21_797_672);
  assert.equal(r34.macs, torchvisionResnetMacs([3, 4, 6, 3], false, 224, 1000));
  const r50 = countCost(buildModel('resnet50', { ...IMAGENET, variants: { kind: 'std' } }));
  assert.equal(r50.params, 25_557_032);
  assert.equal(r50.macs, torchvisionResnetMacs([3, 4, 6, 3], true, 224, 1000));
  // MobileNetV1's own design is dw-pw in every slot (its baseline)
  const mb = countCost(buildModel('mobilenetv1', IMAGENET));
  assert.equal(mb.params, 4_231_976);
  assert.equal(mb.macs, mobilenetMacs(224, 1000));
  // the well-known rounded figures, as a sanity check of the derivations themselves
  assert.equal(Math.round(r18.macs / 1e7) / 100, 1.81);
  assert.equal(Math.round(r50.macs / 1e7) / 100, 4.09);
  assert.equal(Math.round(mb.macs / 1e6), 569);
});

test('imagenet stem layers: 7x7/2 conv (padding 3), BN, ReLU, 3x3/2 max-pool (padding 1); not a slot', () => {
  const spec = buildModel('resnet18', IMAGENET);
  const [conv, bn, relu, pool] = spec.layers;
  assert.deepEqual(
    { op: conv!.op, k: (conv as any).kernel, s: (conv as any).stride, p: (conv as any).padding, slot: conv!.slot },
    { op: 'conv2d', k: 7, s: 2, p: 3, slot: undefined },
  );
  assert.equal(bn!.op, 'batchnorm');
  assert.equal(relu!.op, 'relu');
  assert.deepEqual({ op: pool!.op, k: (pool as any).kernel, s: (pool as any).stride, p: (pool as any).padding }, { op: 'maxpool', k: 3, s: 2, p: 1 });
  assert.deepEqual(spec.tensors[pool!.output], [64, 56, 56]);
  assert.equal(spec.stem, 'imagenet');
  // slots as with the cifar stem: 16 for ResNet-18, the stage-1 slots now see 56x56
  const slots = slotsOf('resnet18', IMAGENET).slots;
  assert.equal(slots.length, 16);
  assert.equal(slots[0]!.inSize, 56);
  // ResNet-50 v1.5: the stride sits on the 3x3 conv (the slot), not on the first 1x1
  const r50 = buildModel('resnet50', IMAGENET);
  const s2 = r50.slots.find((s) => s.name === 'stage2.block1.conv2')!;
  assert.equal(s2.stride, 2);
  const c1 = r50.layers.find((l) => l.name === 'stage2.block1.conv1')!;
  assert.equal((c1 as any).stride, 1);
  // MobileNetV1: 3x3 stride-2 stem conv to 32 channels
  const mb = buildModel('mobilenetv1', IMAGENET);
  assert.deepEqual(mb.tensors[mb.layers[0]!.output], [32, 112, 112]);
  // a CIFAR-stem spec has no stem field, so existing hashes are unchanged
  assert.equal('stem' in buildModel('resnet18'), false);
});

test('the imagenet stem exists only for ResNet-18/34/50 and MobileNetV1; a bad stem is a UsageError', () => {
  assert.throws(() => buildModel('resnet20', { stem: 'imagenet' }), (e: Error) => e instanceof UsageError && /resnet20 has no imagenet stem.*resnet18, resnet34, resnet50, mobilenetv1/.test(e.message));
  assert.throws(() => buildModel('vgg16', { stem: 'imagenet' }), UsageError);
  assert.throws(() => buildModel('resnet18', { stem: 'tiny' as any }), (e: Error) => e instanceof UsageError && /stem: must be one of cifar, imagenet/.test(e.message));
});

test('native executor: imagenet-stem networks have the analytic parameter count and train on the CPU', async () => {
  for (const model of ['resnet18', 'resnet34', 'resnet50', 'mobilenetv1']) {
    for (const variants of [{ kind: 'std' as const }, { kind: 'dw-scc' as const, cg: 2, co: 0.5 }]) {
      const spec = buildModel(model, { ...IMAGENET, inputSize: 64, classes: 10, variants });
      assert.equal(paramCount(spec), countCost(spec).params, `${model} ${variants.kind}`);
    }
  }
  // 7x7/2 conv and padded 3x3/2 max-pool forward and backward inside a real training run:
  // ResNet-18 dw-scc on 4 synthetic classes at 32 px must learn them
  const data = loadDataset('synthetic:c=3,size=32,classes=4,train=512,test=256,noise=0.3');
  const spec = buildModel('resnet18', { inChannels: 3, inputSize: 32, classes: 4, stem: 'imagenet', variants: { kind: 'dw-scc', cg: 2, co: 0.5 } });
  const recipe = resolveRecipe({ epochs: 3, batchSize: 32, lr: 0.05, threads: 2, seed: 1 }, 'synthetic:c=3,size=32,classes=4');
  const r = await train({ spec, recipe, train: data.train, test: data.test, device: 'cpu' });
  assert.equal(r.status, 'done');
  assert.ok(r.testAccuracy > 0.6, `test accuracy ${r.testAccuracy} (chance 0.25)`);
});

test('sweep configs: "stem": "imagenet" builds the torchvision stem; a model without one, or inputSize on a fixed-size dataset, is named', async () => {
  const { parseSweepConfig } = await import('../src/config/sweep.js');
  const { planSweep } = await import('../src/space/index.js');
  const base = {
    name: 'stem-1',
    model: 'resnet18',
    stem: 'imagenet',
    dataset: { name: 'synthetic:size=64,classes=5' },
    space: { variants: ['dw-scc'], cg: [2], co: [0.5] },
    search: { kind: 'grid' },
  };
  const c = parseSweepConfig(base);
  const spec = planSweep(c).search.initial()[0]!.spec;
  assert.equal(spec.stem, 'imagenet');
  assert.deepEqual(spec.tensors[spec.layers[3]!.output], [64, 16, 16]);
  // without "stem" nothing changes for existing configs: no default is filled in (the
  // config's canonical JSON, which identifies a sweep, drops undefined members)
  const { stem: _s, ...noStem } = base;
  assert.equal(parseSweepConfig(noStem).stem, undefined);
  const err = (raw: unknown) => {
    try {
      parseSweepConfig(raw);
    } catch (e) {
      assert.ok(e instanceof UsageError);
      return (e as Error).message;
    }
    assert.fail('accepted');
  };
  assert.match(err({ ...base, model: 'resnet20' }), /stem: resnet20 has no imagenet stem; allowed values for resnet20: cifar/);
  assert.match(err({ ...base, stem: 'huge' }), /stem: .*"cifar".*"imagenet"/);
  assert.match(err({ ...base, dataset: { name: 'mnist', inputSize: 64 } }), /dataset\.inputSize: inputSize 64 does not apply to mnist/);
  assert.match(err({ ...base, dataset: { name: 'imagefolder:/nonexistent/dsx', inputSize: 64 } }), /imagefolder: \/nonexistent\/dsx is not a folder/);
});
