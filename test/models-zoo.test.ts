// Model zoo structure: published parameter/MAC counts, slot layout, tensor wiring and shapes,
// build options, and the spec hash.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countCost } from '../src/cost/index.js';
import { UsageError } from '../src/errors.js';
import { buildModel, canonicalJson, listModels, slotsOf, specHash } from '../src/models/index.js';
import type { Layer, ModelSpec, Shape } from '../src/models/spec.js';

test('ResNet-18 and ResNet-20 std at 3x32x32, 10 classes match the published counts exactly', () => {
  const r18 = countCost(buildModel('resnet18', { variants: { kind: 'std' } }));
  assert.equal(r18.params, 11_173_962);
  assert.equal(r18.macs, 555_422_720);
  assert.equal(r18.flops, 2 * 555_422_720);
  const r20 = countCost(buildModel('resnet20', { variants: { kind: 'std' } }));
  assert.equal(r20.params, 269_722);
  assert.equal(r20.macs, 40_551_040);
});

test('ResNet-34/50 (pytorch-cifar, bias-free convs) match their well-known parameter counts', () => {
  assert.equal(countCost(buildModel('resnet34')).params, 21_282_122);
  assert.equal(countCost(buildModel('resnet50')).params, 23_520_842);
});

test('every model lists, builds, and has the expected number of slots', () => {
  // slot counts from the architectures: VGG = convs - stem; ResNet basic = 2 per block;
  // ResNet-50 = 1 per bottleneck; MobileNetV1 = 13 blocks; CIFAR ResNet-(6n+2) = 6n
  const expected: Record<string, number> = {
    vgg11: 8 - 1,
    vgg13: 10 - 1,
    vgg16: 13 - 1,
    vgg19: 16 - 1,
    resnet18: 2 * 8,
    resnet34: 2 * 16,
    resnet50: 16,
    mobilenetv1: 13,
    resnet20: 18,
    resnet32: 30,
    resnet44: 42,
    resnet56: 54,
    resnet110: 108,
  };
  assert.deepEqual([...listModels()].sort(), Object.keys(expected).sort());
  for (const [name, count] of Object.entries(expected)) {
    assert.equal(slotsOf(name).slots.length, count, name);
    assert.equal(buildModel(name).slots.length, count, name);
  }
});

/** Recompute each layer's output shape from its inputs and compare with spec.tensors. */
function checkWiring(spec: ModelSpec): void {
  const [c0, h0, w0] = spec.inputShape;
  assert.deepEqual(spec.tensors[0], [c0, h0, w0]);
  const written = new Set<number>([0]);
  const names = new Set<string>();
  spec.layers.forEach((l: Layer, i) => {
    assert.ok(!names.has(l.name), `duplicate name ${l.name}`);
    names.add(l.name);
    assert.equal(l.output, i + 1, `${l.name} writes a new tensor`);
    for (const t of l.inputs) assert.ok(written.has(t), `${l.name} reads tensor ${t} before it is written`);
    written.add(l.output);
    const [c, h, w] = spec.tensors[l.inputs[0]!]!;
    const out = spec.tensors[l.output]!;
    let want: Shape;
    switch (l.op) {
      case 'conv2d': {
        assert.equal(l.inChannels, c, l.name);
        assert.equal(c % l.groups, 0, l.name);
        assert.equal(l.outChannels % l.groups, 0, l.name);
        const o = (n: number) => Math.floor((n + 2 * l.padding - l.kernel) / l.stride) + 1;
        want = [l.outChannels, o(h), o(w)];
        break;
      }
      case 'scc':
        assert.equal(l.inChannels, c, l.name);
        want = [l.outChannels, h, w];
        break;
      case 'batchnorm':
        assert.equal(l.channels, c, l.name);
        want = [c, h, w];
        break;
      case 'maxpool':
        want = [c, Math.floor((h - l.kernel) / l.stride) + 1, Math.floor((w - l.kernel) / l.stride) + 1];
        break;
      case 'gap':
        want = [c, 1, 1];
        break;
      case 'linear':
        assert.equal(l.inFeatures, c * h * w, l.name);
        want = [l.outFeatures, 1, 1];
        break;
      case 'add':
        assert.equal(l.inputs.length, 2);
        assert.deepEqual(spec.tensors[l.inputs[1]!], [c, h, w], l.name);
        want = [c, h, w];
        break;
      case 'shortcut_a':
        assert.ok(l.padFront >= 0 && l.padFront + c <= l.outChannels, l.name);
        want = [l.outChannels, Math.ceil(h / l.stride), Math.ceil(w / l.stride)];
        break;
      default:
        want = [c, h, w];
    }
    assert.deepEqual(out, want, l.name);
  });
  assert.equal(spec.tensors.length, spec.layers.length + 1);
  assert.deepEqual(spec.tensors.at(-1), [spec.classes, 1, 1]);
}

test('every model is wired consistently: inputs exist, shapes follow from the layers', () => {
  for (const name of listModels()) {
    checkWiring(buildModel(name, { variants: { kind: 'std' } }));
    checkWiring(buildModel(name, { variants: { kind: 'dw-scc', cg: 2, co: 0.5 }, inChannels: 1, classes: 7 }));
    checkWiring(buildModel(name, { variants: { kind: 'gc-shuffle', g: 4 } }));
  }
});

test('convs followed by BN have no bias; the classifier has one; ends in classes logits', () => {
  for (const name of listModels()) {
    const spec = buildModel(name, { classes: 100 });
    const convs = spec.layers.filter((l) => l.op === 'conv2d' || l.op === 'scc');
    for (const l of convs) if (l.op === 'conv2d') assert.equal(l.bias, false, `${name} ${l.name}`);
    const last = spec.layers.at(-1)!;
    assert.equal(last.op, 'linear');
    if (last.op === 'linear') {
      assert.equal(last.bias, true);
      assert.equal(last.outFeatures, 100);
    }
    // every conv2d and scc output feeds a BN (the slot's or the architecture's)
    for (const l of convs) {
      const consumers = spec.layers.filter((m) => m.inputs.includes(l.output));
      const viaShuffle = consumers.flatMap((m) => (m.op === 'shuffle' ? spec.layers.filter((k) => k.inputs.includes(m.output)) : [m]));
      assert.ok(viaShuffle.length === 1 && viaShuffle[0]!.op === 'batchnorm', `${name} ${l.name} is followed by BN`);
    }
  }
});

test('VGG classifier is 512 -> classes; the stem is not a slot; larger inputs are pooled', () => {
  const v = buildModel('vgg11');
  const fc = v.layers.at(-1)!;
  assert.ok(fc.op === 'linear' && fc.inFeatures === 512);
  assert.equal(v.layers[0]!.name, 'stem.conv');
  assert.equal(v.layers[0]!.slot, undefined);
  assert.equal(v.slots[0]!.inChannels, 64);
  const big = buildModel('vgg16', { inputSize: 64 });
  const fcBig = big.layers.at(-1)!;
  assert.ok(fcBig.op === 'linear' && fcBig.inFeatures === 512);
});

test('CIFAR ResNets use parameter-free option A shortcuts padded evenly', () => {
  const spec = buildModel('resnet56');
  const shortcuts = spec.layers.filter((l) => l.op === 'shortcut_a');
  assert.equal(shortcuts.length, 2);
  for (const s of shortcuts) {
    assert.ok(s.op === 'shortcut_a');
    const cin = spec.tensors[s.inputs[0]!]![0];
    assert.equal(s.padFront, (s.outChannels - cin) / 2);
    assert.equal(s.stride, 2);
  }
  assert.equal(spec.layers.filter((l) => l.op === 'conv2d' && l.kernel === 1).length, 0);
});

test('ResNet-18/50 projection shortcuts are 1x1 conv + BN; ResNet-50 slots are only the 3x3 convs', () => {
  const r18 = buildModel('resnet18');
  const proj = r18.layers.filter((l) => l.name.endsWith('.shortcut'));
  assert.equal(proj.length, 3); // stages 2..4 change shape
  for (const p of proj) assert.ok(p.op === 'conv2d' && p.kernel === 1 && p.bias === false);
  const r50 = buildModel('resnet50');
  assert.equal(r50.layers.filter((l) => l.name.endsWith('.shortcut')).length, 4); // 64 -> 256 too
  for (const s of r50.slots) assert.ok(s.name.endsWith('.conv2'), s.name);
  assert.equal(r50.layers.find((l) => l.op === 'maxpool'), undefined);
});

test('MobileNetV1 baseline is dw-pw in every slot, with a stride-1 stem', () => {
  const m = buildModel('mobilenetv1');
  assert.ok(m.slots.every((s) => s.variant.kind === 'dw-pw'));
  const stem = m.layers[0]!;
  assert.ok(stem.op === 'conv2d' && stem.stride === 1 && stem.kernel === 3);
  // kuangliu/pytorch-cifar MobileNet: 3,217,226 parameters at 10 classes
  assert.equal(countCost(m).params, 3_217_226);
});

test('input channels, input size and classes are parameters; bad values are UsageErrors', () => {
  const mnist = buildModel('resnet20', { inChannels: 1, inputSize: 32, classes: 10 });
  assert.deepEqual(mnist.inputShape, [1, 32, 32]);
  const stem = mnist.layers[0]!;
  assert.ok(stem.op === 'conv2d' && stem.inChannels === 1);
  // stem weights shrink from 3*16*9 to 1*16*9 and nothing else changes
  assert.equal(countCost(mnist).params, 269_722 - 2 * 16 * 9);
  assert.throws(() => buildModel('vgg11', { inputSize: 16 }), (e: unknown) => e instanceof UsageError && /input size 16/.test(e.message));
  assert.throws(() => buildModel('resnet20', { classes: 0 }), (e: unknown) => e instanceof UsageError && /classes/.test(e.message));
  assert.throws(() => buildModel('resnet21'), (e: unknown) => e instanceof UsageError && /resnet20/.test(e.message));
});

test('slot skeleton carries stages and sizes', () => {
  const sk = slotsOf('resnet20');
  assert.deepEqual(sk.stages, [1, 2, 3]);
  const first2 = sk.slots.find((s) => s.stage === 2)!;
  assert.deepEqual([first2.inChannels, first2.outChannels, first2.stride, first2.inSize, first2.outSize], [16, 32, 2, 32, 16]);
  assert.equal(sk.slots.filter((s) => s.stage === 3).length, 6);
  assert.deepEqual(slotsOf('mobilenetv1').stages, [1, 2, 3, 4, 5]);
});

/** The same value with every object's keys in reverse order, at every depth. */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]));
  return v;
}

test('spec hash: stable, key-order independent, sensitive to any change', () => {
  const a = buildModel('resnet20', { variants: { kind: 'dw-scc', cg: 2, co: 0.5 } });
  const b = buildModel('resnet20', { variants: { kind: 'dw-scc', cg: 2, co: 0.5 } });
  assert.match(specHash(a), /^[0-9a-f]{64}$/);
  assert.equal(specHash(a), specHash(b));
  assert.equal(specHash(reverseKeys(a) as ModelSpec), specHash(a));
  assert.equal(canonicalJson({ b: 1, a: [1, { d: 2, c: undefined }] }), '{"a":[1,{"d":2}],"b":1}');
  const c = buildModel('resnet20', { variants: { kind: 'dw-scc', cg: 2, co: 0.25 } });
  assert.notEqual(specHash(c), specHash(a));
  assert.notEqual(specHash(buildModel('resnet20', { classes: 11 })), specHash(buildModel('resnet20')));
});
