// Single native ops from JavaScript: the SCC library API (`sccForward`, `sccBackward`,
// exported from the package main) and `runOp`, which reaches every op of the CPU backend
// (forward and backward) for tests and benchmarks. Shapes are validated here with zod
// before anything reaches C++; a bad shape throws an Error that names the field.
import { z } from 'zod';
import { formatIssues, pathString } from '../issues.js';
import { addon } from './addon.js';

/** NCHW input [batch, inChannels, height, width]; weight [outChannels, inChannels/groups]. */
export interface SccShape {
  batch: number;
  inChannels: number;
  height: number;
  width: number;
  outChannels: number;
  /** channel groups cg: window width D = inChannels / groups */
  groups: number;
  /** channel stride s, 1 <= s <= D: output channel c reads channels (c*s + k) mod inChannels */
  channelStride: number;
}

const positiveInt = () =>
  z
    .number({ error: 'must be a number' })
    .refine(Number.isInteger, { message: 'must be an integer' })
    .refine((v) => v >= 1, { message: 'must be >= 1' });

const sccShapeSchema = z
  .object({
    batch: positiveInt(),
    inChannels: positiveInt(),
    height: positiveInt(),
    width: positiveInt(),
    outChannels: positiveInt(),
    groups: positiveInt(),
    channelStride: positiveInt(),
  })
  .superRefine((s, ctx) => {
    if (s.inChannels % s.groups !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['groups'],
        input: s.groups,
        message: `must divide inChannels (${s.inChannels})`,
      });
      return;
    }
    const D = s.inChannels / s.groups;
    if (s.channelStride > D) {
      ctx.addIssue({
        code: 'custom',
        path: ['channelStride'],
        input: s.channelStride,
        message: `must be in [1, inChannels/groups = ${D}]`,
      });
    }
  });

/** Validates an SCC shape; throws an Error naming the offending field. */
export function parseSccShape(shape: unknown): SccShape {
  const r = sccShapeSchema.safeParse(shape, { reportInput: true });
  if (!r.success) {
    throw new RangeError(`invalid SCC shape: ${formatIssues(r.error, { at: (path) => pathString(path) || 'shape' }, { first: true })}`);
  }
  return r.data;
}

function checkArray(name: string, a: unknown, expected: number, why: string): Float32Array {
  if (!(a instanceof Float32Array)) throw new TypeError(`${name} must be a Float32Array`);
  if (a.length !== expected) {
    throw new RangeError(`${name} has ${a.length} values but the shape needs ${expected} (${why})`);
  }
  return a;
}

function sizes(s: SccShape) {
  const hw = s.height * s.width;
  return {
    input: s.batch * s.inChannels * hw,
    output: s.batch * s.outChannels * hw,
    weight: s.outChannels * (s.inChannels / s.groups),
  };
}

/** The channel stride for an overlap ratio co in [0, 1): s = clamp(D - round(co*D), 1, D). */
export function channelStrideFromOverlap(windowWidth: number, overlap: number): number {
  if (!Number.isInteger(windowWidth) || windowWidth < 1) {
    throw new RangeError(`windowWidth must be a positive integer, got ${windowWidth}`);
  }
  if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`overlap must be in [0, 1), got ${overlap}`);
  const D = windowWidth;
  return Math.min(D, Math.max(1, D - Math.round(overlap * D)));
}

/** Sliding-channel convolution forward: returns the output [batch, outChannels, height, width]. */
export function sccForward(input: Float32Array, weight: Float32Array, shape: SccShape): Float32Array {
  const s = parseSccShape(shape);
  const n = sizes(s);
  checkArray('input', input, n.input, 'batch x inChannels x height x width');
  checkArray('weight', weight, n.weight, 'outChannels x inChannels/groups');
  return addon().sccForward(input, weight, s) as Float32Array;
}

/** Sliding-channel convolution backward: gradients of the input and the weight. */
export function sccBackward(
  input: Float32Array,
  weight: Float32Array,
  gradOutput: Float32Array,
  shape: SccShape,
): { gradInput: Float32Array; gradWeight: Float32Array } {
  const s = parseSccShape(shape);
  const n = sizes(s);
  checkArray('input', input, n.input, 'batch x inChannels x height x width');
  checkArray('weight', weight, n.weight, 'outChannels x inChannels/groups');
  checkArray('gradOutput', gradOutput, n.output, 'batch x outChannels x height x width');
  return addon().sccBackward(input, weight, gradOutput, s) as {
    gradInput: Float32Array;
    gradWeight: Float32Array;
  };
}

/** Names accepted by runOp; each maps onto one method of native/src/backend.h. */
export type OpName =
  | 'sgemm'
  | 'conv2d_forward'
  | 'conv2d_backward'
  | 'scc_forward'
  | 'scc_backward'
  | 'batchnorm_train'
  | 'batchnorm_eval'
  | 'batchnorm_backward'
  | 'relu_forward'
  | 'relu_backward'
  | 'add_forward'
  | 'add_backward'
  | 'maxpool_forward'
  | 'maxpool_backward'
  | 'gap_forward'
  | 'gap_backward'
  | 'linear_forward'
  | 'linear_backward'
  | 'shuffle_forward'
  | 'shuffle_backward'
  | 'shortcut_a_forward'
  | 'shortcut_a_backward'
  | 'softmax_xent'
  | 'softmax_xent_eval'
  | 'sgd_step'
  | 'all_finite';

/** Numeric attributes (shape fields, hyper-parameters); `skip` names gradients not wanted. */
export type OpAttrs = Record<string, number | boolean | string[] | string>;
export type OpTensors = Record<string, Float32Array | Int32Array>;
export type OpOutputs = Record<string, Float32Array | number | boolean>;

/**
 * Runs one backend op on the CPU. Backward ops ADD into their gradients: a gradient passed
 * in `tensors` (e.g. `dx`) is the starting value, otherwise it starts at zero. With
 * `overwrite` (a bit mask: 1 = the first input's gradient, 2 = the second's) conv2d, scc,
 * batchnorm, relu, add and maxpool backward overwrite those gradients instead, as the executor asks.
 */
export function runOp(name: OpName, attrs: OpAttrs, tensors: OpTensors): OpOutputs {
  return addon().runOp(name, attrs, tensors) as OpOutputs;
}

/** Sets the CPU threads used by single ops (0 = all cores); returns the count in use. */
export function setOpThreads(threads: number): number {
  if (!Number.isInteger(threads) || threads < 0) {
    throw new RangeError(`threads must be a non-negative integer, got ${threads}`);
  }
  return addon().opsSetThreads(threads) as number;
}

/** What the op library was built with (SGEMM micro-kernel) and its thread count. */
export function opsInfo(): { sgemmKernel: string; threads: number } {
  return addon().opsInfo() as { sgemmKernel: string; threads: number };
}

export interface SgemmTiming {
  ours: number;
  openblas?: number;
  threads: number;
}
export interface SccTiming {
  sccForward: number;
  sccBackward: number;
  denseForward: number;
  denseBackward: number;
  /** with `split`: the backward's data gradient alone, and its weight gradient alone */
  sccBackwardData?: number;
  sccBackwardWeights?: number;
  threads: number;
}

/** Times our SGEMM (and OpenBLAS's, given its path) in C++: best of repeated runs, seconds. */
export function benchSgemm(a: {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  minSeconds?: number;
  openblas?: string;
}): SgemmTiming {
  return addon().opsBench('sgemm', a) as SgemmTiming;
}

/** Times SCC forward/backward and the same layer as a masked dense 1x1 conv, seconds. */
export function benchScc(a: {
  N: number;
  Cin: number;
  H: number;
  W: number;
  Cout: number;
  groups: number;
  stride: number;
  minSeconds?: number;
  split?: boolean;
}): SccTiming {
  return addon().opsBench('scc', { ...a, split: a.split ? 1 : 0 }) as SccTiming;
}

/** The FMA peak of a register-only loop on the op threads (setOpThreads), GFLOP/s: each
 * thread's best round of about a millisecond, summed; `isa` is the vector path it ran. */
export function benchPeak(a: { minSeconds?: number } = {}): { gflops: number; isa: string; threads: number } {
  return addon().opsBench('peak', a) as { gflops: number; isa: string; threads: number };
}

/** A streaming copy's bandwidth on the op threads, GB/s of bytes read + written, over two
 * buffers of `bufferBytes` each (4x the last-level cache, at least 64 MiB). */
export function benchStream(a: { minSeconds?: number } = {}): { gbs: number; bufferBytes: number; threads: number } {
  return addon().opsBench('stream', a) as { gbs: number; bufferBytes: number; threads: number };
}

/** The bandwidth bench's copy, once, from `src` into `dst` (equal lengths): for tests. */
export function benchCopy(src: Float32Array, dst: Float32Array): { seconds: number; threads: number } {
  return addon().opsBench('copy', { src, dst }) as { seconds: number; threads: number };
}
