// Slot variants: the notation, the per-slot resolution of dw-scc's channel stride, the
// layers each variant expands to, and the errors for combinations that cannot work.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../src/errors.js';
import {
  buildModel,
  formatVariant,
  parseVariant,
  slotsOf,
  strideFromOverlap,
  type VariantChoice,
} from '../src/models/index.js';

test('parseVariant reads every documented form and formatVariant writes it back', () => {
  const cases: [string, VariantChoice][] = [
    ['std', { kind: 'std' }],
    ['dw-pw', { kind: 'dw-pw' }],
    ['dw-gpw:cg=4', { kind: 'dw-gpw', cg: 4 }],
    ['dw-gpw-shuffle:cg=8', { kind: 'dw-gpw-shuffle', cg: 8 }],
    ['gc-shuffle:g=2', { kind: 'gc-shuffle', g: 2 }],
    ['dw-scc:cg=2,co=0.5', { kind: 'dw-scc', cg: 2, co: 0.5 }],
    ['dw-scc:cg=4,s=3', { kind: 'dw-scc', cg: 4, s: 3 }],
  ];
  for (const [text, want] of cases) {
    assert.deepEqual(parseVariant(text), want, text);
    assert.equal(formatVariant(want), text);
  }
  assert.deepEqual(parseVariant(' dw-scc: co=0.25 , cg=8 '), { kind: 'dw-scc', cg: 8, co: 0.25 });
});

test('parseVariant rejects malformed text with a UsageError listing the valid forms', () => {
  const bad = [
    'conv',
    'dw-gpw',
    'dw-gpw:cg=0',
    'dw-gpw:cg=1.5',
    'dw-gpw-shuffle',
    'dw-gpw-shuffle:g=2',
    'dw-gpw-shuffle:cg=0',
    'gc-shuffle:cg=2',
    'dw-scc:cg=2',
    'dw-scc:cg=2,co=1',
    'dw-scc:cg=2,co=-0.1',
    'dw-scc:cg=2,s=0',
    'dw-scc:cg=2,co=abc',
    'dw-scc:cg=2,cg=4,co=0.5',
    'std:cg=2',
  ];
  for (const text of bad) {
    assert.throws(
      () => parseVariant(text),
      (e: unknown) => e instanceof UsageError && e.message.includes(text) && e.message.includes('dw-scc:cg=N,co=R'),
      text,
    );
  }
});

test('co resolves to s = clamp(D - round(co*D), 1, D)', () => {
  // worked by hand
  assert.equal(strideFromOverlap(0.5, 8), 4);
  assert.equal(strideFromOverlap(0, 8), 8); // no overlap: grouped pointwise
  assert.equal(strideFromOverlap(0.75, 16), 4);
  assert.equal(strideFromOverlap(0.33, 3), 2); // round(0.99) = 1
  assert.equal(strideFromOverlap(0.5, 3), 1); // round(1.5) = 2, halves round up
  assert.equal(strideFromOverlap(0.35, 10), 6); // 3.5 rounds up to 4 despite binary 0.35*10 < 3.5
  assert.equal(strideFromOverlap(0.99, 4), 1); // round(3.96) = 4 -> 0 -> clamped to 1
  assert.equal(strideFromOverlap(0.9, 1), 1);
});

test('dw-scc with co stores co and the per-slot s; with s stores s only', () => {
  const spec = buildModel('resnet20', { variants: parseVariant('dw-scc:cg=2,co=0.5') });
  for (const slot of spec.slots) {
    const d = slot.inChannels / 2;
    assert.deepEqual(slot.variant, { kind: 'dw-scc', cg: 2, co: 0.5, s: d - Math.round(0.5 * d) });
    const scc = spec.layers.find((l) => l.slot === slot.index && l.op === 'scc')!;
    assert.ok(scc.op === 'scc' && scc.groups === 2 && scc.channelStride === d / 2);
  }
  const fixed = buildModel('resnet20', { variants: parseVariant('dw-scc:cg=4,s=1') });
  for (const slot of fixed.slots) assert.deepEqual(slot.variant, { kind: 'dw-scc', cg: 4, s: 1 });
});

test('each variant expands to the layers of the Variants table (README.md), then the architecture BN', () => {
  const cases: [VariantChoice, string[]][] = [
    [{ kind: 'std' }, ['conv2d 3x3 g1']],
    [{ kind: 'dw-pw' }, ['conv2d 3x3 dw', 'batchnorm', 'relu', 'conv2d 1x1 g1']],
    [{ kind: 'dw-gpw', cg: 4 }, ['conv2d 3x3 dw', 'batchnorm', 'relu', 'conv2d 1x1 g4']],
    [{ kind: 'dw-gpw-shuffle', cg: 4 }, ['conv2d 3x3 dw', 'batchnorm', 'relu', 'conv2d 1x1 g4', 'shuffle g4']],
    [{ kind: 'gc-shuffle', g: 2 }, ['conv2d 3x3 g2', 'shuffle g2']],
    [{ kind: 'dw-scc', cg: 2, s: 3 }, ['conv2d 3x3 dw', 'batchnorm', 'relu', 'scc cg2 s3']],
  ];
  for (const [v, want] of cases) {
    const spec = buildModel('resnet20', { variants: v });
    const slot = spec.slots.find((s) => s.stride === 2)!; // first downsampling slot, 16 -> 32
    const layers = spec.layers.filter((l) => l.slot === slot.index);
    const got = layers.map((l) => {
      if (l.op === 'conv2d') {
        const g = l.groups === l.inChannels && l.kernel === 3 && l.groups > 1 ? 'dw' : `g${l.groups}`;
        return `conv2d ${l.kernel}x${l.kernel} ${g}`;
      }
      if (l.op === 'scc') return `scc cg${l.groups} s${l.channelStride}`;
      if (l.op === 'shuffle') return `shuffle g${l.groups}`;
      return l.op;
    });
    assert.deepEqual(got, want, formatVariant(v));
    // spatial stride sits in the first 3x3 conv of the slot
    const first = layers[0]!;
    assert.ok(first.op === 'conv2d' && first.stride === 2);
    // the slot is followed by the architecture's BN over the slot's output channels
    const after = spec.layers[spec.layers.indexOf(layers.at(-1)!) + 1]!;
    assert.ok(after.op === 'batchnorm' && after.slot === undefined && after.channels === 32);
  }
});

test('per-slot variants: an array assigns each slot its own variant', () => {
  const n = slotsOf('resnet20').slots.length;
  const variants: VariantChoice[] = Array.from({ length: n }, (_, i) =>
    i % 3 === 0 ? { kind: 'std' } : i % 3 === 1 ? { kind: 'dw-scc', cg: 4, co: 0.25 } : { kind: 'gc-shuffle', g: 8 },
  );
  const spec = buildModel('resnet20', { variants });
  assert.deepEqual(
    spec.slots.map((s) => s.variant.kind),
    variants.map((v) => v.kind),
  );
  assert.throws(
    () => buildModel('resnet20', { variants: variants.slice(1) }),
    (e: unknown) => e instanceof UsageError && /18 slots/.test(e.message) && /17 variants/.test(e.message),
  );
});

test('combinations that cannot work are UsageErrors naming the slot and the reason', () => {
  const expectSlotError = (model: string, v: VariantChoice, slotName: RegExp, reason: RegExp) =>
    assert.throws(
      () => buildModel(model, { variants: v }),
      (e: unknown) => e instanceof UsageError && slotName.test(e.message) && reason.test(e.message),
      formatVariant(v),
    );
  // resnet20's first slot has 16 input channels
  expectSlotError('resnet20', { kind: 'dw-scc', cg: 3, co: 0.5 }, /slot 0 \(stage1\.block1\.conv1/, /cg=3 does not divide the input channels 16/);
  expectSlotError('resnet20', { kind: 'dw-gpw', cg: 32 }, /slot 0/, /cg=32 does not divide the input channels 16/);
  expectSlotError('resnet20', { kind: 'dw-gpw-shuffle', cg: 32 }, /slot 0/, /cg=32 does not divide the input channels 16/);
  expectSlotError('resnet20', { kind: 'gc-shuffle', g: 32 }, /slot 0/, /g=32 does not divide the input channels 16/);
  // D = 16/2 = 8, so s = 9 is out of range
  expectSlotError('resnet20', { kind: 'dw-scc', cg: 2, s: 9 }, /slot 0/, /s=9 is outside \[1, D\] with D = 16\/2 = 8/);
  expectSlotError('resnet20', { kind: 'dw-scc', cg: 2, co: 1 }, /slot 0/, /co=1 is outside \[0, 1\)/);
  // MobileNetV1's first slot has 32 input channels and 64 outputs: g=64 fails on the input side
  expectSlotError('mobilenetv1', { kind: 'gc-shuffle', g: 64 }, /slot 0 \(block1/, /input channels 32/);
  // a per-slot choice that only fails at a later slot names that slot
  const n = slotsOf('resnet20').slots.length;
  const vs: VariantChoice[] = Array.from({ length: n }, () => ({ kind: 'std' }));
  vs[7] = { kind: 'dw-scc', cg: 32, co: 0.5 }; // slot 7 is stage 2's 32 -> 32 conv
  assert.equal(slotsOf('resnet20').slots[7]!.inChannels, 32);
  assert.doesNotThrow(() => buildModel('resnet20', { variants: vs }));
  vs[6] = { kind: 'dw-scc', cg: 32, co: 0.5 }; // slot 6 reads 16 channels
  assert.throws(
    () => buildModel('resnet20', { variants: vs }),
    (e: unknown) => e instanceof UsageError && /slot 6 \(stage2\.block1\.conv1, 16->32/.test(e.message),
  );
});

test('resolved variants from a spec rebuild the same spec; s contradicting co is an error', () => {
  const spec = buildModel('resnet32', { variants: parseVariant('dw-scc:cg=4,co=0.33') });
  const again = buildModel('resnet32', { variants: spec.slots.map((s) => s.variant) });
  assert.deepEqual(again, spec);
  // slot 0: D = 16/4 = 4, co = 0.33 gives s = 4 - round(1.32) = 3
  assert.deepEqual(spec.slots[0]!.variant, { kind: 'dw-scc', cg: 4, co: 0.33, s: 3 });
  assert.throws(
    () => buildModel('resnet32', { variants: { kind: 'dw-scc', cg: 4, co: 0.33, s: 2 } }),
    (e: unknown) => e instanceof UsageError && /s=2 disagrees with co=0.33, which gives s=3/.test(e.message),
  );
});
