// The analytic cost model: whole-network counts against closed-form formulas written out here
// from the architectures (not from the implementation), per-layer rules, and agreement of the
// fast slot path with the full build-and-count path on every model and variant.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileCost, costFromSlots, countCost } from '../src/cost/index.js';
import { UsageError } from '../src/errors.js';
import { buildModel, listModels, slotProblem, slotsOf, type VariantChoice } from '../src/models/index.js';

/** [cin, cout, output side] of each slot, written out from the architecture papers */
type SlotRow = [number, number, number];

function resnet20Slots(): SlotRow[] {
  const rows: SlotRow[] = [];
  for (let i = 0; i < 6; i++) rows.push([16, 16, 32]);
  rows.push([16, 32, 16]);
  for (let i = 0; i < 5; i++) rows.push([32, 32, 16]);
  rows.push([32, 64, 8]);
  for (let i = 0; i < 5; i++) rows.push([64, 64, 8]);
  return rows;
}
// everything outside the slots of ResNet-20 at cin x 32 x 32: stem conv + BN, the BN after
// each slot, the 64 -> k classifier
function resnet20Fixed(slots: SlotRow[], cin: number, k: number): [number, number] {
  const params = 9 * cin * 16 + 2 * 16 + slots.reduce((a, [, co]) => a + 2 * co, 0) + 64 * k + k;
  const macs = 9 * cin * 16 * 32 * 32 + 64 * k;
  return [params, macs];
}

// VGG-11: stem 3 -> 64 at 32x32, then slots (pool halves the side before each stage)
const VGG11: SlotRow[] = [
  [64, 128, 16],
  [128, 256, 8],
  [256, 256, 8],
  [256, 512, 4],
  [512, 512, 4],
  [512, 512, 2],
  [512, 512, 2],
];
function vgg11Fixed(k: number): [number, number] {
  const params = 9 * 3 * 64 + 2 * 64 + VGG11.reduce((a, [, co]) => a + 2 * co, 0) + 512 * k + k;
  return [params, 9 * 3 * 64 * 32 * 32 + 512 * k];
}

const MOBILENET: SlotRow[] = [
  [32, 64, 32],
  [64, 128, 16],
  [128, 128, 16],
  [128, 256, 8],
  [256, 256, 8],
  [256, 512, 4],
  [512, 512, 4],
  [512, 512, 4],
  [512, 512, 4],
  [512, 512, 4],
  [512, 512, 4],
  [512, 1024, 2],
  [1024, 1024, 2],
];
function mobilenetFixed(k: number): [number, number] {
  const params = 9 * 3 * 32 + 2 * 32 + MOBILENET.reduce((a, [, co]) => a + 2 * co, 0) + 1024 * k + k;
  return [params, 9 * 3 * 32 * 32 * 32 + 1024 * k];
}

/** One slot of each variant (README.md, Variants and Cost conventions): [params, macs] */
function slotFormula(v: VariantChoice, [ci, co, side]: SlotRow): [number, number] {
  const px = side * side;
  switch (v.kind) {
    case 'std':
      return [9 * ci * co, 9 * ci * co * px];
    case 'dw-pw': // DW3x3 + its BN + dense 1x1
      return [9 * ci + 2 * ci + ci * co, (9 * ci + ci * co) * px];
    case 'dw-gpw':
    case 'dw-gpw-shuffle': // the channel shuffle moves data only: no params, no MACs
      return [9 * ci + 2 * ci + (ci * co) / v.cg, (9 * ci + (ci * co) / v.cg) * px];
    case 'gc-shuffle':
      return [(9 * ci * co) / v.g, ((9 * ci * co) / v.g) * px];
    case 'dw-scc': // SCC weight is Cout x D, D = Cin/cg, whatever the stride
      return [9 * ci + 2 * ci + co * (ci / v.cg), (9 * ci + co * (ci / v.cg)) * px];
  }
}

function expected(fixed: [number, number], slots: SlotRow[], v: VariantChoice): [number, number] {
  let [p, m] = fixed;
  for (const row of slots) {
    const [sp, sm] = slotFormula(v, row);
    p += sp;
    m += sm;
  }
  return [p, m];
}

const VARIANTS: VariantChoice[] = [
  { kind: 'std' },
  { kind: 'dw-pw' },
  { kind: 'dw-gpw', cg: 2 },
  { kind: 'dw-gpw', cg: 16 },
  { kind: 'dw-gpw-shuffle', cg: 2 },
  { kind: 'dw-gpw-shuffle', cg: 8 },
  { kind: 'gc-shuffle', g: 4 },
  { kind: 'gc-shuffle', g: 16 },
  { kind: 'dw-scc', cg: 1, co: 0.5 },
  { kind: 'dw-scc', cg: 2, co: 0.5 },
  { kind: 'dw-scc', cg: 4, co: 0.33 },
  { kind: 'dw-scc', cg: 8, s: 1 },
  { kind: 'dw-scc', cg: 16, co: 0 },
];

test('ResNet-20, VGG-11 and MobileNetV1 totals equal the closed-form per-slot formulas', () => {
  for (const v of VARIANTS) {
    const r20 = resnet20Slots();
    const cases: [string, [number, number], { inChannels?: number; classes?: number }][] = [
      ['resnet20', expected(resnet20Fixed(r20, 3, 10), r20, v), {}],
      ['resnet20', expected(resnet20Fixed(r20, 1, 100), r20, v), { inChannels: 1, classes: 100 }],
      ['vgg11', expected(vgg11Fixed(10), VGG11, v), {}],
      ['mobilenetv1', expected(mobilenetFixed(10), MOBILENET, v), {}],
    ];
    for (const [model, [params, macs], opts] of cases) {
      const c = countCost(buildModel(model, { ...opts, variants: v }));
      assert.equal(c.params, params, `${model} ${JSON.stringify(v)} params`);
      assert.equal(c.macs, macs, `${model} ${JSON.stringify(v)} macs`);
      assert.equal(c.flops, 2 * c.macs);
    }
  }
});

test('per-layer rules: SCC is Cout*D params and Cout*D*H*W MACs; BN counts affine only', () => {
  const spec = buildModel('resnet20', { variants: { kind: 'dw-scc', cg: 4, co: 0.5 } });
  const cost = countCost(spec);
  assert.equal(cost.layers.length, spec.layers.length);
  cost.layers.forEach((row, i) => {
    const l = spec.layers[i]!;
    assert.equal(row.name, l.name);
    assert.deepEqual(row.outputShape, spec.tensors[l.output]);
    const [c, h, w] = spec.tensors[l.output]!;
    if (l.op === 'scc') {
      const d = l.inChannels / 4;
      assert.equal(row.params, c * d);
      assert.equal(row.macs, c * d * h * w);
    } else if (l.op === 'batchnorm') {
      assert.equal(row.params, 2 * c);
      assert.equal(row.macs, 0);
    } else if (['relu', 'add', 'gap', 'shortcut_a', 'shuffle', 'maxpool'].includes(l.op)) {
      assert.equal(row.params, 0);
      assert.equal(row.macs, 0);
    }
  });
  assert.equal(cost.params, cost.layers.reduce((a, r) => a + r.params, 0));
  assert.equal(cost.macs, cost.layers.reduce((a, r) => a + r.macs, 0));
});

test('SCC cost does not depend on the channel stride, only on cg', () => {
  const a = countCost(buildModel('resnet32', { variants: { kind: 'dw-scc', cg: 2, s: 1 } }));
  const b = countCost(buildModel('resnet32', { variants: { kind: 'dw-scc', cg: 2, co: 0 } }));
  assert.equal(a.params, b.params);
  assert.equal(a.macs, b.macs);
});

/** deterministic pseudo-random numbers for the mixed assignments */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

test('the fast slot path agrees with build + count on every model and variant', () => {
  const shapes = [{}, { inChannels: 1, classes: 100 }, { inputSize: 64 }];
  for (const model of listModels()) {
    for (const opts of shapes) {
      const skeleton = slotsOf(model, opts);
      for (const v of VARIANTS) {
        // a variant that does not fit some slot must fail both paths alike
        const fits = skeleton.slots.every((s) => slotProblem(s, v) === null);
        if (!fits) {
          assert.throws(() => buildModel(model, { ...opts, variants: v }), UsageError);
          assert.throws(() => costFromSlots(model, opts, v), UsageError);
          assert.equal(compileCost(model, opts).tryCost(v), null);
          continue;
        }
        const full = countCost(buildModel(model, { ...opts, variants: v }));
        const fast = costFromSlots(model, opts, v);
        assert.deepEqual(fast, { params: full.params, macs: full.macs, flops: full.flops }, `${model} ${JSON.stringify(opts)} ${JSON.stringify(v)}`);
      }
      // mixed per-slot assignments, drawn among the variants that fit each slot
      const rand = lcg(model.length * 7919 + skeleton.slots.length);
      for (let trial = 0; trial < 5; trial++) {
        const vs = skeleton.slots.map((s) => {
          const ok = VARIANTS.filter((v) => slotProblem(s, v) === null);
          return ok[Math.floor(rand() * ok.length)]!;
        });
        const full = countCost(buildModel(model, { ...opts, variants: vs }));
        const fast = compileCost(model, opts).cost(vs);
        assert.deepEqual(fast, { params: full.params, macs: full.macs, flops: full.flops }, `${model} mixed`);
      }
    }
  }
});

test('the fast path rejects wrong slot counts and names the failing slot', () => {
  assert.throws(() => costFromSlots('resnet20', {}, [{ kind: 'std' }]), (e: unknown) => e instanceof UsageError && /18 slots/.test(e.message));
  const vs: VariantChoice[] = Array.from({ length: 18 }, () => ({ kind: 'std' }));
  vs[12] = { kind: 'gc-shuffle', g: 64 }; // stage 3's first slot reads 32 channels
  assert.throws(() => costFromSlots('resnet20', {}, vs), (e: unknown) => e instanceof UsageError && /slot 12 \(stage3\.block1\.conv1/.test(e.message));
});
