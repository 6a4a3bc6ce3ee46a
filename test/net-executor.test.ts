// The native network executor: state layout, parameter count, initialisation, spec
// validation, and a finite-difference gradient check of a whole small network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { debugStep, paramCount, stateLayout, stateSize } from '../src/engine/index.js';
import { countTotals } from '../src/cost/index.js';
import { MiniBuilder, tinyResnet } from './net-fixtures.js';

test('parameter count equals the analytic count, and the layout tiles the state', () => {
  const spec = tinyResnet([3, 12, 12], 5, 8);
  const layout = stateLayout(spec);
  assert.equal(paramCount(spec), countTotals(spec).params);
  assert.equal(layout.params, countTotals(spec).params);
  const bnChannels = spec.layers.reduce((s, l) => s + (l.op === 'batchnorm' ? l.channels : 0), 0);
  assert.equal(stateSize(spec), layout.params + 2 * bnChannels);
  // entries tile [0, stateSize) without gaps or overlap, decayed ones first
  const sorted = [...layout.entries].sort((a, b) => a.offset - b.offset);
  let at = 0;
  for (const e of sorted) {
    assert.equal(e.offset, at, `entry ${e.layer}.${e.kind} starts at ${e.offset}, expected ${at}`);
    at += e.size;
  }
  assert.equal(at, layout.stateSize);
  for (const e of layout.entries) {
    assert.equal(e.decayed, e.kind === 'weight');
    assert.equal(e.offset < layout.decayed, e.kind === 'weight', `${e.layer}.${e.kind}`);
  }
  // every conv/scc/linear weight and the linear bias are present, with their sizes
  const fc = layout.entries.find((e) => e.layer === 'fc' && e.kind === 'bias');
  assert.equal(fc?.size, 5);
  const scc = layout.entries.find((e) => e.layer === 'b1.scc');
  assert.equal(scc?.size, 16 * (8 / 2));
});

test('initialisation: Kaiming-normal fan_out, PyTorch linear, BN identity, seeded', () => {
  const b = new MiniBuilder([16, 6, 6]);
  let x = b.conv('conv', 0, 32, 3, 1);
  x = b.bn('bn', x);
  x = b.scc('scc', x, 64, 2, 4);
  x = b.gap('gap', x);
  b.linear('fc', x, 10, true);
  const spec = b.spec('init', 10);
  const images = new Float32Array(2 * 16 * 36);
  const labels = new Int32Array([0, 1]);
  const r = debugStep({ spec, images, labels, seed: 7, train: false });
  const block = (layer: string, kind: string) => {
    const e = r.layout.entries.find((q) => q.layer === layer && q.kind === kind)!;
    return r.state.subarray(e.offset, e.offset + e.size);
  };
  const std = (v: Float32Array) => {
    const m = v.reduce((s, a) => s + a, 0) / v.length;
    return { mean: m, std: Math.sqrt(v.reduce((s, a) => s + (a - m) ** 2, 0) / v.length) };
  };
  // conv: 32*16*9 = 4608 samples, relative standard error of the std ~1%; allow 5%
  const conv = std(block('conv', 'weight'));
  const convWant = Math.sqrt(2 / (32 * 9));
  assert.ok(Math.abs(conv.std / convWant - 1) < 0.05, `conv std ${conv.std} vs ${convWant}`);
  assert.ok(Math.abs(conv.mean) < 0.1 * convWant);
  // scc: 64*8 = 512 samples, ~3% standard error; allow 10%. fan_out = Cout for a 1x1 op
  const scc = std(block('scc', 'weight'));
  const sccWant = Math.sqrt(2 / 64);
  assert.ok(Math.abs(scc.std / sccWant - 1) < 0.1, `scc std ${scc.std} vs ${sccWant}`);
  // linear: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias
  const bound = 1 / Math.sqrt(64);
  for (const kind of ['weight', 'bias']) {
    const v = block('fc', kind);
    assert.ok(v.every((a) => Math.abs(a) <= bound), `fc ${kind} within the bound`);
  }
  const fw = block('fc', 'weight');
  assert.ok(Math.max(...fw.map(Math.abs)) > 0.8 * bound, 'fc weights spread over the range');
  assert.deepEqual([...block('bn', 'gamma')], Array(32).fill(1));
  assert.deepEqual([...block('bn', 'beta')], Array(32).fill(0));
  assert.deepEqual([...block('bn', 'running_mean')], Array(32).fill(0));
  assert.deepEqual([...block('bn', 'running_var')], Array(32).fill(1));
  // same seed, same state; another seed, another state
  const again = debugStep({ spec, images, labels, seed: 7, train: false });
  assert.deepEqual(again.state, r.state);
  const other = debugStep({ spec, images, labels, seed: 8, train: false });
  assert.notDeepEqual(other.state, r.state);
});

test('an inconsistent spec is refused with the layer named', () => {
  const spec = tinyResnet([3, 12, 12], 5, 8);
  const broken = structuredClone(spec);
  const scc = broken.layers.find((l) => l.op === 'scc')!;
  if (scc.op === 'scc') scc.channelStride = 99;
  assert.throws(() => paramCount(broken), /b1\.scc.*channelStride/);
  const wrongShape = structuredClone(spec);
  wrongShape.tensors[2] = [7, 12, 12];
  assert.throws(() => paramCount(wrongShape), /stem\.(conv|bn).*shape/);
  const unknownOp = structuredClone(spec) as unknown as { layers: { op: string }[] };
  unknownOp.layers[1]!.op = 'softmax';
  assert.throws(() => paramCount(unknownOp as never), /unknown op 'softmax'/);
});

test('whole-network gradients match central finite differences (add, shortcut_a, shuffle, scc, bn, maxpool)', () => {
  const spec = tinyResnet([2, 8, 8], 3, 8);
  const n = 6;
  const chw = 2 * 8 * 8;
  const images = new Float32Array(n * chw);
  let s = 12345;
  for (let i = 0; i < images.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    images[i] = (s / 2 ** 32) * 2 - 1;
  }
  const labels = new Int32Array([0, 1, 2, 0, 1, 2]);
  const base = debugStep({ spec, images, labels, seed: 3 });
  const state0 = new Float32Array(base.state.length);
  // the train-mode step updated the running statistics; they do not affect the train loss
  state0.set(base.state);
  const ref = debugStep({ spec, images, labels, state: state0 });
  assert.equal(ref.loss, base.loss, 'train-mode loss does not depend on running statistics');
  const grads = ref.grads!;
  // a few parameters from every block of the layout
  const picks: { index: number; what: string }[] = [];
  for (const e of ref.layout.entries) {
    if (e.kind === 'running_mean' || e.kind === 'running_var') continue;
    for (const k of [0, Math.floor(e.size / 2), e.size - 1]) picks.push({ index: e.offset + k, what: `${e.layer}.${e.kind}[${k}]` });
  }
  // small enough that few ReLU/max-pool kinks are crossed, large enough for float32
  const eps = 1e-3;
  let worst = 0;
  for (const { index, what } of picks) {
    const p = state0[index]!;
    const plus = Math.fround(p + eps);
    const minus = Math.fround(p - eps);
    const st = new Float32Array(state0);
    st[index] = plus;
    const lp = debugStep({ spec, images, labels, state: st, train: true }).loss;
    st[index] = minus;
    const lm = debugStep({ spec, images, labels, state: st, train: true }).loss;
    const numeric = (lp - lm) / (plus - minus);
    const analytic = grads[index]!;
    // float32 forward: the difference quotient carries ~1e-5 absolute noise
    const tol = 1e-4 + 0.02 * Math.abs(numeric);
    worst = Math.max(worst, Math.abs(numeric - analytic) / tol);
    assert.ok(Math.abs(numeric - analytic) <= tol, `${what}: analytic ${analytic}, numeric ${numeric}`);
  }
  // the check is not vacuous: gradients are far from zero somewhere in every kind of block
  assert.ok(picks.some((q) => Math.abs(grads[q.index]!) > 1e-2));
  assert.ok(worst <= 1);
});
