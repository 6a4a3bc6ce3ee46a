// The fast CPU paths added for training speed, at the shapes the zoo really runs:
// the direct depthwise 3x3 kernels on feature maps wide enough for their vector loops
// (32/16/8 wide, plus widths with tails), the one-pass batch-norm statistics on data with a
// large mean, and the executor's BN+ReLU fusion, which must give the same loss and gradients
// as the separate ops. The op-level suites use small odd shapes; these use the real ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runOp, setOpThreads } from '../src/engine/ops.js';
import { debugStep } from '../src/engine/index.js';
import { buildModel } from '../src/models/registry.js';
import { parseVariant } from '../src/models/variant.js';
import * as ref from './helpers/reference.js';

const TOL = { atol: 2e-4, rtol: 1e-4 };

function checkDepthwise(s: ref.ConvShape, bias: boolean, seed: number, label: string): void {
  const { Ho, Wo } = ref.convOut(s);
  const x = ref.randomArray(s.N * s.Cin * s.H * s.W, seed);
  const w = ref.randomArray(s.Cout * s.K * s.K, seed + 1);
  const b = bias ? ref.randomArray(s.Cout, seed + 2) : undefined;
  const dy = ref.randomArray(s.N * s.Cout * Ho * Wo, seed + 3);
  const y = runOp('conv2d_forward', { ...s }, b ? { x, w, bias: b } : { x, w }).y as Float32Array;
  ref.assertClose(y, ref.conv2dForward(s, x, w, b), TOL, `${label} forward`);
  const dx0 = ref.randomArray(x.length, seed + 4);
  const dw0 = ref.randomArray(w.length, seed + 5);
  const g = runOp('conv2d_backward', { ...s, bias }, { x, w, dy, dx: dx0, dw: dw0 });
  const r = ref.conv2dBackward(s, x, w, dy);
  ref.assertClose(g.dx as Float32Array, r.dx.map((v, i) => v + dx0[i]!), TOL, `${label} dx (added)`);
  // dw sums N*Ho*Wo products: allow for the longer sum
  ref.assertClose(g.dw as Float32Array, r.dw.map((v, i) => v + dw0[i]!), { atol: 1e-3, rtol: 1e-4 }, `${label} dw (added)`);
}

test('depthwise 3x3 direct kernels: stride 1 and 2 at 32/16/8 wide and with tail columns, 1 and 2 threads', () => {
  const sizes: [number, number][] = [
    [32, 32],
    [16, 16],
    [8, 8],
    [12, 20],
    [17, 9],
    [3, 5],
  ];
  for (const threads of [1, 2]) {
    setOpThreads(threads);
    sizes.forEach(([H, W], i) => {
      for (const stride of [1, 2]) {
        const s = { N: 2, Cin: 3, H, W, Cout: 3, K: 3, stride, pad: 1, groups: 3 };
        checkDepthwise(s, i % 2 === 0, 1000 + 10 * i + stride, `dw ${H}x${W}/${stride} t${threads}`);
      }
    });
  }
  setOpThreads(0);
});

test('batchnorm one-pass statistics stay exact on data with a large mean; odd plane sizes', () => {
  for (const [N, C, HW] of [
    [3, 4, 1024],
    [5, 3, 49],
    [2, 2, 1],
  ] as [number, number, number][]) {
    const x = ref.randomArray(N * C * HW, 7).map((v, i) => v + 100 + (Math.floor(i / HW) % C));
    const gamma = ref.randomArray(C, 8);
    const beta = ref.randomArray(C, 9);
    const out = runOp('batchnorm_train', { N, C, HW, momentum: 0.1, eps: 1e-5 }, {
      x,
      gamma,
      beta,
      runningMean: new Float32Array(C),
      runningVar: new Float32Array(C).fill(1),
    });
    const r = ref.batchnormTrain(N, C, HW, x, gamma, beta, 1e-5);
    // x ~ 100 in float32 carries ~4e-6 absolute error per value, ~1e-5 relative in x - mean
    ref.assertClose(out.y as Float32Array, r.y, { atol: 5e-4, rtol: 1e-3 }, `bn ${N}x${C}x${HW} y`);
    ref.assertClose(out.saveMean as Float32Array, r.mean, { atol: 1e-4, rtol: 1e-6 }, `bn ${N}x${C}x${HW} mean`);
    ref.assertClose(out.saveInvstd as Float32Array, r.invstd, { atol: 1e-4, rtol: 1e-3 }, `bn ${N}x${C}x${HW} invstd`);
  }
});

function withoutFusion<T>(f: () => T): T {
  const before = process.env.DSXPLORE_NO_FUSION;
  process.env.DSXPLORE_NO_FUSION = '1';
  try {
    return f();
  } finally {
    if (before === undefined) delete process.env.DSXPLORE_NO_FUSION;
    else process.env.DSXPLORE_NO_FUSION = before;
  }
}

test('BN+ReLU fusion: same loss, gradients and running statistics as the separate ops (ResNet-20 dw-scc)', () => {
  const spec = buildModel('resnet20', { inChannels: 1, inputSize: 16, classes: 10, variants: parseVariant('dw-scc:cg=2,co=0.5') });
  const n = 4;
  const images = ref.randomArray(n * 16 * 16, 3);
  const labels = new Int32Array([0, 3, 7, 9]);
  for (const threads of [1, 2]) {
    const fused = debugStep({ spec, images, labels, seed: 11, threads });
    const plain = withoutFusion(() => debugStep({ spec, images, labels, seed: 11, threads }));
    assert.ok(Math.abs(fused.loss - plain.loss) <= 1e-5 * Math.abs(plain.loss), `loss ${fused.loss} vs ${plain.loss}`);
    ref.assertClose(fused.grads!, plain.grads!, { atol: 1e-5, rtol: 1e-3 }, `grads, ${threads} thread(s)`);
    ref.assertClose(fused.state, plain.state, { atol: 1e-6, rtol: 1e-5 }, `state, ${threads} thread(s)`);
    // fused runs are deterministic
    const again = debugStep({ spec, images, labels, seed: 11, threads });
    assert.equal(again.loss, fused.loss);
    assert.deepEqual(again.grads, fused.grads);
  }
});
