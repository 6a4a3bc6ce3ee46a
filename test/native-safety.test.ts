// Native safety: every function the addon exports, called directly (not
// through the typed wrappers that validate first) with wrong shapes, typed arrays of the
// wrong type or length, zero, negative, fractional and huge sizes (2^31, 1e12), throws a
// JavaScript Error with a message, and this process survives all of them without a huge
// allocation. The exports are enumerated, so a new export without cases fails this test.
// Needs the native addon (npm run build:native).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addon } from '../src/engine/addon.js';
import { buildModel } from '../src/models/index.js';
import type { ModelSpec } from '../src/models/spec.js';

const native = addon();

const f32 = (n: number) => new Float32Array(n).fill(0.5);
const HUGE = [2 ** 31, 1e12];
/** Values no size attribute accepts (0 is added for the positive ones). */
const BAD_SIZES: unknown[] = [-1, 1.5, NaN, Infinity, ...HUGE, 'x', null, undefined, {}];
/** Tensors of the wrong type (or not tensors) standing in for a Float32Array of length n. */
const wrongTensors = (n: number): unknown[] => [
  new Float64Array(n),
  new Int32Array(n),
  new Uint8Array(n * 4),
  f32(Math.max(0, n - 1)),
  f32(n + 1),
  new Float32Array(0),
  Array.from({ length: n }, () => 0.5),
  42,
  'x',
];

/** A call that must fail: a synchronous throw or a rejected promise, with an Error and a message. */
async function mustFail(what: string, call: () => unknown): Promise<void> {
  let result: unknown;
  try {
    result = call();
  } catch (err) {
    assert.ok(err instanceof Error, `${what}: threw ${String(err)}, not an Error`);
    assert.ok(err.message.length > 0, `${what}: an Error without a message`);
    return;
  }
  if (result instanceof Promise) {
    await assert.rejects(result, (err: unknown) => err instanceof Error && err.message.length > 0, what);
    return;
  }
  assert.fail(`${what}: returned ${String(result).slice(0, 80)} instead of throwing`);
}

// ---------- runOp: one valid call per op, then each attribute and tensor broken ----------

type Op = { attrs: Record<string, unknown>; tensors: Record<string, Float32Array | Int32Array>; nonneg?: string[] };
const conv = { N: 1, Cin: 2, H: 3, W: 3, Cout: 2, K: 3, stride: 1, pad: 1, groups: 1 };
const scc = { N: 1, Cin: 4, H: 2, W: 2, Cout: 4, groups: 2, stride: 1 };
const pool = { N: 1, C: 1, H: 4, W: 4, K: 2, stride: 2, pad: 0 };
const shortcut = { N: 1, Cin: 2, H: 2, W: 2, stride: 2, Cout: 4, padFront: 1 };
const OPS: Record<string, Op> = {
  sgemm: { attrs: { M: 2, N: 2, K: 2 }, tensors: { A: f32(4), B: f32(4) } },
  conv2d_forward: { attrs: conv, tensors: { x: f32(18), w: f32(36) }, nonneg: ['pad'] },
  conv2d_backward: { attrs: conv, tensors: { x: f32(18), w: f32(36), dy: f32(18) }, nonneg: ['pad'] },
  scc_forward: { attrs: scc, tensors: { x: f32(16), w: f32(8) } },
  scc_backward: { attrs: scc, tensors: { x: f32(16), w: f32(8), dy: f32(16) } },
  batchnorm_train: { attrs: { N: 2, C: 2, HW: 2 }, tensors: { x: f32(8), gamma: f32(2), beta: f32(2) } },
  batchnorm_eval: { attrs: { N: 2, C: 2, HW: 2 }, tensors: { x: f32(8), gamma: f32(2), beta: f32(2), runningMean: f32(2), runningVar: f32(2) } },
  batchnorm_backward: { attrs: { N: 2, C: 2, HW: 2 }, tensors: { x: f32(8), gamma: f32(2), saveMean: f32(2), saveInvstd: f32(2), dy: f32(8) } },
  relu_forward: { attrs: { n: 4 }, tensors: { x: f32(4) }, nonneg: ['n'] },
  relu_backward: { attrs: { n: 4 }, tensors: { y: f32(4), dy: f32(4) }, nonneg: ['n'] },
  add_forward: { attrs: { n: 4 }, tensors: { a: f32(4), b: f32(4) }, nonneg: ['n'] },
  add_backward: { attrs: { n: 4 }, tensors: { dy: f32(4) }, nonneg: ['n'] },
  all_finite: { attrs: { n: 4 }, tensors: { x: f32(4) }, nonneg: ['n'] },
  maxpool_forward: { attrs: pool, tensors: { x: f32(16) }, nonneg: ['pad'] },
  maxpool_backward: { attrs: pool, tensors: { x: f32(16), dy: f32(4) }, nonneg: ['pad'] },
  gap_forward: { attrs: { N: 1, C: 2, HW: 4 }, tensors: { x: f32(8) } },
  gap_backward: { attrs: { N: 1, C: 2, HW: 4 }, tensors: { dy: f32(2) } },
  linear_forward: { attrs: { N: 1, In: 3, Out: 2 }, tensors: { x: f32(3), w: f32(6) } },
  linear_backward: { attrs: { N: 1, In: 3, Out: 2 }, tensors: { x: f32(3), w: f32(6), dy: f32(2) } },
  shuffle_forward: { attrs: { N: 1, C: 4, HW: 1, groups: 2 }, tensors: { x: f32(4) } },
  shuffle_backward: { attrs: { N: 1, C: 4, HW: 1, groups: 2 }, tensors: { dy: f32(4) } },
  shortcut_a_forward: { attrs: shortcut, tensors: { x: f32(8) }, nonneg: ['padFront'] },
  shortcut_a_backward: { attrs: shortcut, tensors: { dy: f32(4) }, nonneg: ['padFront'] },
  softmax_xent: { attrs: { N: 2, K: 3 }, tensors: { logits: f32(6), labels: Int32Array.from([0, 2]) } },
  softmax_xent_eval: { attrs: { N: 2, K: 3 }, tensors: { logits: f32(6), labels: Int32Array.from([0, 2]) } },
  sgd_step: { attrs: { n: 4, lr: 0.1 }, tensors: { p: f32(4), g: f32(4), m: f32(4) }, nonneg: ['n'] },
};
/** Attributes that are sizes (lr is a hyper-parameter: any finite number). */
const isSize = (k: string) => k !== 'lr';

async function runOpCases(): Promise<number> {
  let n = 0;
  const run = native.runOp as (name: unknown, attrs?: unknown, tensors?: unknown) => unknown;
  for (const [name, op] of Object.entries(OPS)) {
    run(name, op.attrs, op.tensors); // the valid call works: what follows fails for its breakage alone
    for (const key of Object.keys(op.attrs).filter(isSize)) {
      const bad = op.nonneg?.includes(key) ? BAD_SIZES : [0, ...BAD_SIZES];
      for (const v of bad) {
        const attrs = { ...op.attrs, [key]: v };
        if (v === undefined) delete attrs[key];
        await mustFail(`runOp ${name} ${key}=${String(v)}`, () => run(name, attrs, op.tensors));
        n++;
      }
    }
    for (const [key, t] of Object.entries(op.tensors)) {
      const wrong = t instanceof Int32Array ? [new Float32Array(t.length), new Int32Array(t.length + 1), Int32Array.from(t, () => 99)] : wrongTensors(t.length);
      for (const w of wrong) {
        await mustFail(`runOp ${name} tensor ${key}=${w?.constructor?.name}(${(w as { length?: number }).length})`, () =>
          run(name, op.attrs, { ...op.tensors, [key]: w }),
        );
        n++;
      }
    }
    // every size attribute huge at once, with the real (small) tensors: refused before allocating
    const huge = Object.fromEntries(Object.entries(op.attrs).map(([k, v]) => [k, isSize(k) ? 65536 * 256 : v]));
    await mustFail(`runOp ${name} with every size 2^24`, () => run(name, huge, op.tensors));
    await mustFail(`runOp ${name} without attributes`, () => run(name, {}, op.tensors));
    await mustFail(`runOp ${name} without tensors`, () => run(name, op.attrs, {}));
    await mustFail(`runOp ${name} with attrs a number`, () => run(name, 42, op.tensors));
    await mustFail(`runOp ${name} with an unknown overwrite mask`, () => run(name, { ...op.attrs, overwrite: 1e12 }, op.tensors));
    n += 5;
  }
  for (const name of [undefined, 42, 'no_such_op', '', {}]) {
    await mustFail(`runOp name ${String(name)}`, () => run(name, {}, {}));
    n++;
  }
  return n;
}

// ---------- the SCC library API ----------

const SCC_SHAPE = { batch: 1, inChannels: 4, height: 2, width: 2, outChannels: 4, groups: 2, channelStride: 1 };

async function sccApiCases(): Promise<number> {
  let n = 0;
  const fwd = native.sccForward as (...a: unknown[]) => unknown;
  const bwd = native.sccBackward as (...a: unknown[]) => unknown;
  const x = f32(16);
  const w = f32(8);
  const dy = f32(16);
  fwd(x, w, SCC_SHAPE);
  bwd(x, w, dy, SCC_SHAPE);
  for (const key of Object.keys(SCC_SHAPE)) {
    for (const v of [0, ...BAD_SIZES]) {
      const shape = { ...SCC_SHAPE, [key]: v };
      await mustFail(`sccForward shape.${key}=${String(v)}`, () => fwd(x, w, shape));
      await mustFail(`sccBackward shape.${key}=${String(v)}`, () => bwd(x, w, dy, shape));
      n += 2;
    }
  }
  for (const [i, len] of [[0, 16], [1, 8], [2, 16]] as const) {
    for (const t of wrongTensors(len)) {
      const args: unknown[] = [x, w, dy];
      args[i] = t;
      if (i < 2) await mustFail(`sccForward argument ${i} ${t?.constructor?.name}`, () => fwd(args[0], args[1], SCC_SHAPE));
      await mustFail(`sccBackward argument ${i} ${t?.constructor?.name}`, () => bwd(args[0], args[1], args[2], SCC_SHAPE));
      n += 2;
    }
  }
  const huge = { ...SCC_SHAPE, batch: 1 << 24, height: 1 << 24, width: 1 << 24 };
  for (const shape of [huge, null, 42, [], 'shape', { ...SCC_SHAPE, groups: 3 }, { ...SCC_SHAPE, channelStride: 3 }]) {
    await mustFail(`sccForward shape ${JSON.stringify(shape)?.slice(0, 60)}`, () => fwd(x, w, shape));
    await mustFail(`sccBackward shape ${JSON.stringify(shape)?.slice(0, 60)}`, () => bwd(x, w, dy, shape));
    n += 2;
  }
  await mustFail('sccForward without arguments', () => fwd());
  await mustFail('sccBackward without arguments', () => bwd());
  return n + 2;
}

// ---------- the network executor ----------

const SPEC = buildModel('resnet20', { inChannels: 1, inputSize: 8, classes: 3, variants: { kind: 'dw-scc', cg: 2, co: 0.5 } });
const RECIPE = {
  epochs: 1, batchSize: 4, lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 5e-4, decayBnAndBias: false,
  schedule: { kind: 'cosine' }, warmupEpochs: 0, seed: 0, threads: 1, augment: { cropPadding: 0, flip: false },
};
const data = (count: number) => ({
  images: new Uint8Array(count * 64).fill(7),
  labels: Uint8Array.from({ length: count }, (_, i) => i % 3),
  count,
  shape: [1, 8, 8],
  mean: [0.5],
  std: [0.25],
});

// layer fields the executor reads (others, like a layer's slot index, are the cost model's)
const READ_BY_ENGINE = new Set(['inChannels', 'outChannels', 'kernel', 'stride', 'padding', 'groups', 'channelStride', 'channels', 'inFeatures', 'outFeatures', 'padFront', 'output']);

/** Broken copies of a valid spec: each numeric field of a few layers, the tensors, the top level. */
function brokenSpecs(): [string, unknown][] {
  const out: [string, unknown][] = [];
  const clone = () => structuredClone(SPEC) as unknown as Record<string, any>;
  for (const v of [0, ...BAD_SIZES]) {
    for (const i of [0, 1, 3, 5, SPEC.layers.length - 1]) {
      const layer = SPEC.layers[i] as unknown as Record<string, unknown>;
      for (const key of Object.keys(layer).filter((k) => typeof layer[k] === 'number' && READ_BY_ENGINE.has(k))) {
        if (layer[key] === v || (v === 0 && ['padding', 'padFront'].includes(key))) continue;
        const s = clone();
        s.layers[i][key] = v;
        out.push([`layers[${i}].${key}=${String(v)}`, s]);
      }
    }
    for (const t of [0, 2, SPEC.tensors.length - 1]) {
      for (const d of [0, 1, 2]) {
        const s = clone();
        s.tensors[t][d] = v;
        out.push([`tensors[${t}][${d}]=${String(v)}`, s]);
      }
    }
    const s = clone();
    s.classes = v;
    out.push([`classes=${String(v)}`, s]);
  }
  const wrong = (f: (s: Record<string, any>) => void, what: string) => {
    const s = clone();
    f(s);
    out.push([what, s]);
  };
  wrong((s) => (s.layers[2].op = 'bogus'), 'unknown op');
  wrong((s) => (s.layers[2].inputs = [1e12]), 'input tensor 1e12');
  wrong((s) => (s.layers[2].inputs = 'x'), 'inputs a string');
  wrong((s) => (s.layers = {}), 'layers an object');
  wrong((s) => (s.tensors = [[1, 8]]), 'a tensor of rank 2');
  wrong((s) => (s.tensors[1] = [65536, 65536, 65536]), 'a tensor of 2^48 elements');
  wrong((s) => (s.inputShape = [1, 8, 9]), 'inputShape not tensors[0]');
  wrong((s) => (s.layers = []), 'no layers');
  wrong((s) => s.layers.pop(), 'last layer missing');
  for (const v of [null, undefined, 42, 'spec', [], {}, new Float32Array(4)]) out.push([`spec ${String(v)}`, v]);
  return out;
}

async function netCases(): Promise<number> {
  let n = 0;
  const { paramCount, stateSize, stateLayout, train, evaluate, netDebug } = native as Record<string, (...a: unknown[]) => any>;
  const size = stateSize!(SPEC) as number;
  const images = f32(2 * 64);
  const labels = Int32Array.from([0, 1]);
  netDebug!(SPEC, { device: 'cpu', threads: 1 }, images, labels); // valid
  for (const [what, spec] of brokenSpecs()) {
    for (const [fn, call] of [
      ['paramCount', () => paramCount!(spec)],
      ['stateSize', () => stateSize!(spec)],
      ['stateLayout', () => stateLayout!(spec)],
      ['train', () => train!(spec, RECIPE, data(8), data(4), { device: 'cpu' })],
      ['evaluate', () => evaluate!(spec, new Float32Array(size), data(4), { device: 'cpu' })],
      ['netDebug', () => netDebug!(spec, { device: 'cpu' }, images, labels)],
    ] as const) {
      await mustFail(`${fn}: ${what}`, call);
      n++;
    }
  }
  // recipes: every field missing, of the wrong type, or out of range
  // values a field accepts (optional fields, and hyper-parameters without an upper bound)
  const ACCEPTS: Record<string, unknown[]> = {
    lr: [1e12, 2 ** 31], weightDecay: [1e12, 2 ** 31], seed: [1e12, 2 ** 31],
    nesterov: [undefined], decayBnAndBias: [undefined], warmupEpochs: [undefined], threads: [undefined], augment: [undefined, {}],
  };
  for (const key of Object.keys(RECIPE)) {
    for (const v of [undefined, 'x', -1, NaN, Infinity, 1e12, 2 ** 31, {}]) {
      if (ACCEPTS[key]?.some((a) => Object.is(a, v) || (typeof a === 'object' && typeof v === 'object'))) continue;
      const recipe: Record<string, unknown> = { ...RECIPE, [key]: v };
      if (v === undefined) delete recipe[key];
      await mustFail(`train recipe.${key}=${String(v)}`, () => train!(SPEC, recipe, data(8), data(4), { device: 'cpu' }));
      n++;
    }
  }
  for (const recipe of [null, 42, [], { ...RECIPE, schedule: { kind: 'step', milestones: 'x', gamma: 0.1 } }, { ...RECIPE, schedule: { kind: 'warm' } }, { ...RECIPE, augment: { cropPadding: 8 } }]) {
    await mustFail(`train recipe ${JSON.stringify(recipe)?.slice(0, 80)}`, () => train!(SPEC, recipe, data(8), data(4), { device: 'cpu' }));
    n++;
  }
  // datasets: each field wrong
  const brokenData: [string, unknown][] = [
    ['images Float32Array', { ...data(8), images: new Float32Array(8 * 64) }],
    ['images short', { ...data(8), images: new Uint8Array(10) }],
    ['labels Int32Array', { ...data(8), labels: new Int32Array(8) }],
    ['labels short', { ...data(8), labels: new Uint8Array(2) }],
    ['a label past the classes', { ...data(8), labels: new Uint8Array(8).fill(3) }],
    ['count 1e12', { ...data(8), count: 1e12 }],
    ['count 2^31', { ...data(8), count: 2 ** 31 }],
    ['count -1', { ...data(8), count: -1 }],
    ['count 1.5', { ...data(8), count: 1.5 }],
    ['shape [1,8]', { ...data(8), shape: [1, 8] }],
    ['shape [3,8,8]', { ...data(8), shape: [3, 8, 8] }],
    ['shape huge', { ...data(8), shape: [1, 2 ** 31, 8] }],
    ['mean of 3', { ...data(8), mean: [0, 0, 0] }],
    ['std 0', { ...data(8), std: [0] }],
    ['std NaN', { ...data(8), std: [NaN] }],
    ['mean a string', { ...data(8), mean: 'x' }],
    ['no images', { ...data(8), images: undefined }],
    ['data null', null],
  ];
  for (const [what, d] of brokenData) {
    await mustFail(`train data ${what}`, () => train!(SPEC, RECIPE, d, data(4), { device: 'cpu' }));
    await mustFail(`train test data ${what}`, () => train!(SPEC, RECIPE, data(8), d, { device: 'cpu' }));
    await mustFail(`evaluate data ${what}`, () => evaluate!(SPEC, new Float32Array(size), d, { device: 'cpu' }));
    n += 3;
  }
  for (const options of [{ device: 'tpu' }, { device: 'cuda:99999' }, { device: 42 }, { device: 'cpu', keepState: 'yes' }, 42]) {
    await mustFail(`train options ${JSON.stringify(options)}`, () => train!(SPEC, RECIPE, data(8), data(4), options));
    n++;
  }
  await mustFail('train onProgress a number', () => train!(SPEC, RECIPE, data(8), data(4), { device: 'cpu' }, 42));
  for (const state of [new Float32Array(size - 1), new Float64Array(size), new Int32Array(size), [], null, new Float32Array(0)]) {
    await mustFail(`evaluate state ${state?.constructor?.name}(${(state as { length?: number })?.length})`, () => evaluate!(SPEC, state, data(4), { device: 'cpu' }));
    n++;
  }
  for (const options of [{ batchSize: 0 }, { batchSize: 1e12 }, { batchSize: 2 ** 31 }, { threads: 1e12 }, { threads: -1 }, { device: 'cuda:x' }, 'cpu']) {
    await mustFail(`evaluate options ${JSON.stringify(options)}`, () => evaluate!(SPEC, new Float32Array(size), data(4), options));
    n++;
  }
  const debugCases: [string, unknown[]][] = [
    ['images Int32Array', [SPEC, { device: 'cpu' }, new Int32Array(128), labels]],
    ['images short', [SPEC, { device: 'cpu' }, f32(100), labels]],
    ['labels Float32Array', [SPEC, { device: 'cpu' }, images, new Float32Array(2)]],
    ['no labels', [SPEC, { device: 'cpu' }, f32(0), new Int32Array(0)]],
    ['a label past the classes', [SPEC, { device: 'cpu' }, images, Int32Array.from([0, 3])]],
    ['a negative label', [SPEC, { device: 'cpu' }, images, Int32Array.from([0, -1])]],
    ['options null', [SPEC, null, images, labels]],
    ['state short', [SPEC, { device: 'cpu', state: new Float32Array(size - 1) }, images, labels]],
    ['state Float64Array', [SPEC, { device: 'cpu', state: new Float64Array(size) }, images, labels]],
    ['seed -1', [SPEC, { device: 'cpu', seed: -1 }, images, labels]],
    ['seed 1e300', [SPEC, { device: 'cpu', seed: 1e300 }, images, labels]],
    ['threads 1e12', [SPEC, { device: 'cpu', threads: 1e12 }, images, labels]],
    ['device gpu', [SPEC, { device: 'gpu' }, images, labels]],
    ['no arguments', []],
  ];
  for (const [what, args] of debugCases) {
    await mustFail(`netDebug ${what}`, () => netDebug!(...args));
    n++;
  }
  return n;
}

async function otherCases(): Promise<number> {
  let n = 0;
  const { opsSetThreads, opsBench } = native as Record<string, (...a: unknown[]) => unknown>;
  for (const v of [-1, 1.5, NaN, ...HUGE, 'x', undefined, {}]) {
    await mustFail(`opsSetThreads(${String(v)})`, () => opsSetThreads!(v));
    n++;
  }
  opsSetThreads!(1);
  const benchCases: unknown[][] = [
    [],
    ['nope', {}],
    [42, {}],
    ['sgemm', null],
    ['sgemm', {}],
    ['sgemm', { M: 2 ** 31, N: 1, K: 1 }],
    ['sgemm', { M: 1e12, N: 1, K: 1 }],
    ['sgemm', { M: 1 << 24, N: 1 << 24, K: 1 << 24 }],
    ['sgemm', { M: 0, N: 1, K: 1 }],
    ['sgemm', { M: 1, N: 1, K: 1, minSeconds: 1e12 }],
    ['sgemm', { M: 1, N: 1, K: 1, minSeconds: NaN }],
    ['scc', { N: 1 << 24, Cin: 1 << 24, H: 1 << 24, W: 1, Cout: 1, groups: 1, stride: 1 }],
    ['scc', { N: 1, Cin: 4, H: 1, W: 1, Cout: 4, groups: 3, stride: 1 }],
    ['scc', { N: 1e12, Cin: 4, H: 1, W: 1, Cout: 4, groups: 1, stride: 1 }],
    ['peak', { minSeconds: NaN }],
    ['stream', { minSeconds: -1 }],
    ['copy', {}],
    ['copy', { src: new Float32Array(4), dst: new Float32Array(3) }],
    ['copy', { src: new Float64Array(4), dst: new Float32Array(4) }],
    ['copy', { src: new Float32Array(4), dst: 'x' }],
  ];
  for (const args of benchCases) {
    await mustFail(`opsBench ${JSON.stringify(args)}`, () => opsBench!(...args));
    n++;
  }
  const { netProfile } = native as Record<string, (...a: unknown[]) => unknown>;
  const profileCases: [string, unknown[]][] = [
    ['no arguments', []],
    ['no options', [SPEC]],
    ['options a string', [SPEC, 'train']],
    ['mode x', [SPEC, { mode: 'x' }]],
    ['batch 0', [SPEC, { batch: 0 }]],
    ['batch 1e12', [SPEC, { batch: 1e12 }]],
    ['steps 0', [SPEC, { steps: 0 }]],
    ['warmup -1', [SPEC, { warmup: -1 }]],
    ['threads -1', [SPEC, { threads: -1 }]],
    ['seed 1.5', [SPEC, { seed: 1.5 }]],
  ];
  for (const [what, args] of profileCases) {
    await mustFail(`netProfile ${what}`, () => netProfile!(...args));
    n++;
  }
  for (const [what, spec] of brokenSpecs()) {
    await mustFail(`netProfile: ${what}`, () => netProfile!(spec, { steps: 1, warmup: 0 }));
    n++;
  }
  return n;
}

async function inferCases(): Promise<number> {
  let n = 0;
  const { netForward, netLatency, mapFile, stateSize } = native as Record<string, (...a: unknown[]) => any>;
  const size = stateSize!(SPEC) as number;
  const images = f32(2 * 64);
  assert.equal((netForward!(SPEC, { device: 'cpu', threads: 1 }, images) as Float32Array).length, 2 * 3); // valid
  const forward: [string, unknown[]][] = [
    ['no arguments', []],
    ['images Int32Array', [SPEC, { device: 'cpu' }, new Int32Array(128)]],
    ['images not a multiple of C*H*W', [SPEC, { device: 'cpu' }, f32(100)]],
    ['no images', [SPEC, { device: 'cpu' }, f32(0)]],
    ['options a string', [SPEC, 'cpu', images]],
    ['state short', [SPEC, { device: 'cpu', state: new Float32Array(size - 1) }, images]],
    ['state Float64Array', [SPEC, { device: 'cpu', state: new Float64Array(size) }, images]],
    ['seed -1', [SPEC, { device: 'cpu', seed: -1 }, images]],
    ['threads 1e12', [SPEC, { device: 'cpu', threads: 1e12 }, images]],
    ['device gpu', [SPEC, { device: 'gpu' }, images]],
    ['schedule unknown', [SPEC, { device: 'cpu', schedule: 'fused' }, images]],
    ['schedule a number', [SPEC, { device: 'cpu', schedule: 1 }, images]],
  ];
  for (const [what, args] of forward) {
    await mustFail(`netForward ${what}`, () => netForward!(...args));
    n++;
  }
  for (const [what, spec] of brokenSpecs()) {
    await mustFail(`netForward: ${what}`, () => netForward!(spec, { device: 'cpu' }, images));
    await mustFail(`netLatency: ${what}`, () => netLatency!(spec, { device: 'cpu', reps: 1, warmup: 0 }));
    n += 2;
  }
  for (const options of [{ batch: 0 }, { batch: 2 ** 31 }, { batch: 1e12 }, { reps: 0 }, { warmup: -1 }, { threads: -1 }, { device: 'cuda:x' }, 'cpu']) {
    await mustFail(`netLatency options ${JSON.stringify(options)}`, () => netLatency!(SPEC, options));
    n++;
  }
  for (const path of [undefined, 42, '', 'a\u0000b', '/nonexistent/dsx-file', {}, 'x'.repeat(5000)]) {
    await mustFail(`mapFile(${JSON.stringify(path)?.slice(0, 20)})`, () => mapFile!(path));
    n++;
  }
  return n;
}

/** Exports that take no input: junk arguments are ignored, and they still answer. */
const NO_INPUT = ['opsInfo', 'buildInfo'];
/** Exports that are values, not functions. */
const VALUES = ['abiVersion'];
const COVERED = [
  'runOp', 'sccForward', 'sccBackward', 'paramCount', 'stateSize', 'stateLayout', 'train', 'evaluate', 'netDebug',
  'opsSetThreads', 'opsBench', 'netProfile', 'netForward', 'netLatency', 'mapFile',
];

test('every export has safety cases here', () => {
  for (const key of Object.keys(native)) {
    const known = [...NO_INPUT, ...VALUES, ...COVERED].includes(key);
    assert.ok(known, `the addon exports "${key}", which this test does not call with wrong input: add its cases`);
    assert.equal(typeof native[key], VALUES.includes(key) ? 'number' : 'function', key);
  }
});

test('every export refuses wrong shapes, types, lengths, zero and huge sizes with an Error; the process survives', async (t) => {
  const rssBefore = process.memoryUsage().rss;
  const counts = {
    runOp: await runOpCases(),
    scc: await sccApiCases(),
    net: await netCases(),
    infer: await inferCases(),
    other: await otherCases(),
  };
  for (const key of NO_INPUT) {
    for (const args of [[], [42], [null, 'x'], [{ a: 1 }, new Float32Array(3)]]) {
      const r = (native[key] as (...a: unknown[]) => unknown)(...args);
      assert.equal(typeof r, 'object', key);
    }
  }
  // refusals come before allocation: calls asking for 2^31..2^72 elements cost no memory
  const grown = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.ok(grown < 512, `resident memory grew by ${grown.toFixed(0)} MiB`);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  t.diagnostic(`${total} refused calls (${JSON.stringify(counts)}); resident memory grew by ${grown.toFixed(0)} MiB`);
  // and the addon still works
  const y = native.sccForward(f32(16), f32(8), SCC_SHAPE) as Float32Array;
  assert.equal(y.length, 16);
  assert.ok(Math.abs(y[0]! - 0.5) < 1e-6, `scc of 0.5s with 2 weights of 0.5: ${y[0]}`);
});

export type { ModelSpec };
