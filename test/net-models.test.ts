// Every model of the zoo, with every slot variant, builds in the native executor, and the
// executor's parameter count equals the analytic count of src/cost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paramCount, stateSize } from '../src/engine/index.js';
import { countTotals } from '../src/cost/index.js';
import { buildModel, listModels, type VariantChoice } from '../src/models/index.js';

const VARIANTS: VariantChoice[] = [
  { kind: 'std' },
  { kind: 'dw-pw' },
  { kind: 'dw-gpw', cg: 2 },
  { kind: 'dw-gpw-shuffle', cg: 2 },
  { kind: 'gc-shuffle', g: 2 },
  { kind: 'dw-scc', cg: 2, co: 0.5 },
  { kind: 'dw-scc', cg: 4, co: 0.33 },
  { kind: 'dw-scc', cg: 2, s: 1 },
];

for (const [label, opts] of [
  ['cifar (3x32x32)', { inChannels: 3, inputSize: 32, classes: 10 }],
  ['mnist (1x32x32)', { inChannels: 1, inputSize: 32, classes: 10 }],
] as const) {
  test(`native parameter count equals the analytic count: every model and variant, ${label}`, () => {
    let checked = 0;
    for (const model of listModels()) {
      for (const variant of VARIANTS) {
        const spec = buildModel(model, { ...opts, variants: variant });
        const analytic = countTotals(spec).params;
        assert.equal(paramCount(spec), analytic, `${model} ${JSON.stringify(variant)}`);
        const bn = spec.layers.reduce((s, l) => s + (l.op === 'batchnorm' ? 2 * l.channels : 0), 0);
        assert.equal(stateSize(spec), analytic + bn);
        checked++;
      }
    }
    assert.ok(checked >= 7 * 10, `only ${checked} model/variant pairs`);
  });
}
