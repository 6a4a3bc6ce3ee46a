// The roofline's side of the cost model: per layer of a spec, at a batch size, the
// floating-point operations it does and the bytes it must move at least (float32), for
// inference (the forward) and for training (forward + backward; the SGD update is its own
// term), grouped into op families. `npm run bench -- roofline` sets these against the
// machine's measured ceilings (README.md, Performance).
//
// Minimum bytes: every tensor an op reads or writes crosses memory once (inputs, weights,
// outputs; in the backward the saved activations it reads, the output gradient, the input
// and weight gradients it writes). A layer reading the network input writes no input
// gradient. Per-channel vectors of batch norm beyond gamma and beta (saved statistics,
// running statistics in training) are left out: C floats against N*C*H*W.
// FLOPs: 2 per multiply-accumulate; one per add, max, compare or scale elsewhere, as listed
// op by op below. The executor fuses some ops (BN+ReLU, the residual tail), which skips
// traffic counted here: a fused row can pass its bound.
import type { Layer, ModelSpec, Shape } from '../models/spec.js';
import { countTotals } from './count.js';

/** Op families the roofline groups layers into. */
export type OpFamily = 'conv' | 'depthwise' | 'scc' | 'grouped1x1' | 'bn' | 'eltwise' | 'pool' | 'linear';

export const OP_FAMILIES: readonly OpFamily[] = ['conv', 'depthwise', 'scc', 'grouped1x1', 'bn', 'eltwise', 'pool', 'linear'];

/** What each family holds, for tables and docs. */
export const FAMILY_LABELS: Record<OpFamily, string> = {
  conv: 'conv (dense, grouped kxk)',
  depthwise: 'depthwise',
  scc: 'scc',
  grouped1x1: 'grouped 1x1 (pointwise, shuffle)',
  bn: 'bn',
  eltwise: 'relu/add',
  pool: 'pool',
  linear: 'linear',
};

/** The family of a layer. A depthwise conv has one group per channel in and out; any other
 * 1x1 conv is a (grouped) pointwise conv, with the shuffle that permutes its groups. */
export function opFamily(layer: Layer): OpFamily {
  switch (layer.op) {
    case 'conv2d':
      if (layer.groups > 1 && layer.groups === layer.inChannels && layer.groups === layer.outChannels) return 'depthwise';
      return layer.kernel === 1 ? 'grouped1x1' : 'conv';
    case 'scc':
      return 'scc';
    case 'shuffle':
      return 'grouped1x1';
    case 'batchnorm':
      return 'bn';
    case 'relu':
    case 'add':
    case 'shortcut_a':
      return 'eltwise';
    case 'maxpool':
    case 'gap':
      return 'pool';
    case 'linear':
      return 'linear';
  }
}

/** Work of one pass: floating-point operations and the bytes moved at least. */
export interface Work {
  flops: number;
  bytes: number;
}

export interface LayerWork {
  name: string;
  family: OpFamily;
  /** the forward alone, eval mode */
  inference: Work;
  /** forward + backward, training mode */
  training: Work;
}

const F = 4; // bytes per float32
const elements = (n: number, s: Shape) => n * s[0] * s[1] * s[2];
const work = (flops: number, floats: number): Work => ({ flops, bytes: F * floats });
const plus = (a: Work, b: Work): Work => ({ flops: a.flops + b.flops, bytes: a.bytes + b.bytes });

/** Work of layer `layer` of `spec` at batch `n`. */
export function layerWork(spec: ModelSpec, layer: Layer, n: number): LayerWork {
  const xs = spec.tensors[layer.inputs[0]!]!;
  const ys = spec.tensors[layer.output]!;
  const X = elements(n, xs);
  const Y = elements(n, ys);
  // the network input (tensor 0) has no gradient
  const dx = (k = 0) => (layer.inputs[k] === 0 ? 0 : 1);
  let fwd: Work, inf: Work, bwd: Work;
  switch (layer.op) {
    case 'conv2d':
    case 'scc':
    case 'linear': {
      const wts =
        layer.op === 'linear'
          ? layer.inFeatures * layer.outFeatures
          : layer.op === 'scc'
            ? layer.outChannels * (layer.inChannels / layer.groups)
            : layer.outChannels * (layer.inChannels / layer.groups) * layer.kernel * layer.kernel;
      const macs = layer.op === 'linear' ? n * wts : n * wts * ys[1] * ys[2];
      const bias = layer.op !== 'scc' && layer.bias ? (layer.op === 'linear' ? layer.outFeatures : layer.outChannels) : 0;
      // forward: y = W x (+ b): reads x, W, b; writes y
      fwd = work(2 * macs + (bias ? Y : 0), X + wts + bias + Y);
      inf = fwd;
      // backward: dW (+ db) from x and dy, dx from W and dy; reads x, W, dy; writes dW, db, dx
      bwd = work(2 * macs * (1 + dx()) + (bias ? Y : 0), X + wts + Y + wts + bias + dx() * X);
      break;
    }
    case 'batchnorm': {
      const C = layer.channels;
      // eval: y = a*x + b per channel (one multiply-add), from gamma, beta and the running
      // mean and variance
      inf = work(2 * X, X + 4 * C + Y);
      // training forward: statistics (sum: 1, sum of squares: 2) then the affine map (2)
      fwd = work(5 * X, X + 2 * C + Y);
      // backward: x-hat again (2), sums of dy (1) and dy*x-hat (2), then
      // dx = k*(dy - mean(dy) - x-hat*mean(dy*x-hat)) (4); reads x, dy, gamma; writes dx,
      // dgamma, dbeta
      bwd = work(9 * X, X + Y + C + dx() * X + 2 * C);
      break;
    }
    case 'relu':
      inf = fwd = work(Y, X + Y); // one max per element
      bwd = work(Y, 2 * Y + dx() * X); // dx = y > 0 ? dy : 0, from y and dy
      break;
    case 'add':
      inf = fwd = work(Y, 2 * X + Y); // one add per element, two inputs
      bwd = work(0, Y + (dx(0) + dx(1)) * Y); // dy copied to both inputs' gradients
      break;
    case 'shortcut_a': {
      // subsample by the stride, zero channels around: reads the kept pixels, writes y;
      // the backward routes dy's real channels to the kept pixels of dx
      const kept = n * xs[0] * ys[1] * ys[2];
      inf = fwd = work(0, kept + Y);
      bwd = work(0, kept + dx() * kept);
      break;
    }
    case 'shuffle':
      inf = fwd = work(0, X + Y); // a permutation of channels
      bwd = work(0, Y + dx() * X);
      break;
    case 'maxpool': {
      const window = layer.kernel * layer.kernel;
      inf = fwd = work(Y * (window - 1), X + Y); // window - 1 comparisons per output
      bwd = work(Y * (window - 1), X + Y + dx() * X); // the arg max again, from x
      break;
    }
    case 'gap':
      inf = fwd = work(X, X + Y); // one add per input element (the scale per output is left out)
      bwd = work(Y, Y + dx() * X); // dy / HW per output, broadcast
      break;
  }
  return { name: layer.name, family: opFamily(layer), inference: inf, training: plus(fwd, bwd) };
}

/** Work of the whole network at batch `n`, layer by layer, and of the SGD update. */
export interface NetworkWork {
  layers: LayerWork[];
  /** SGD with momentum and weight decay over every parameter: reads weight, gradient and
   * momentum, writes weight and momentum; 6 FLOPs (three multiply-adds) per parameter */
  update: Work;
}

export function networkWork(spec: ModelSpec, n: number): NetworkWork {
  const params = countTotals(spec).params;
  return {
    layers: spec.layers.map((l) => layerWork(spec, l, n)),
    update: work(6 * params, 5 * params),
  };
}

/** The machine's ceilings: FMA peak and streaming bandwidth. */
export interface Ceilings {
  gflops: number;
  gbs: number;
}

/** The least time a pass can take on a machine: max(FLOPs / peak, bytes / bandwidth). */
export function boundSeconds(w: Work, c: Ceilings): { seconds: number; by: 'compute' | 'memory' } {
  const compute = w.flops / (c.gflops * 1e9);
  const memory = w.bytes / (c.gbs * 1e9);
  return compute >= memory ? { seconds: compute, by: 'compute' } : { seconds: memory, by: 'memory' };
}

/** A network's bound: the sum of its ops' bounds (plus the update's, for training). */
export function networkBoundSeconds(w: NetworkWork, c: Ceilings, mode: 'training' | 'inference'): number {
  let s = 0;
  for (const l of w.layers) s += boundSeconds(l[mode], c).seconds;
  return mode === 'training' ? s + boundSeconds(w.update, c).seconds : s;
}
