// Typed wrapper over the native network executor and trainer (the NET section of the
// addon, native/src/addon_net.cc). Requests arrive validated (src/config); this module only
// reshapes plain data for the addon and rethrows native failures as Errors with the caller's
// stack.
import type { Dataset } from '../domain/dataset.js';
import type { EpochMetrics, TrainProgress } from '../domain/metrics.js';
import type { ModelSpec } from '../models/spec.js';
import { addon } from './addon.js';
import type {
  DeviceRequest,
  EvaluateRequest,
  EvaluateResult,
  TrainRequest,
  TrainResult,
} from './types.js';

/** One named block of the state vector (parameters then BN running statistics). */
export interface StateEntry {
  layer: string;
  kind: 'weight' | 'bias' | 'gamma' | 'beta' | 'running_mean' | 'running_var';
  offset: number;
  size: number;
  /** inside the always weight-decayed region (conv, scc and linear weights) */
  decayed: boolean;
}

export interface StateLayout {
  /** trainable scalars, BN affine included */
  params: number;
  /** the first `decayed` parameters are the weight-decayed ones */
  decayed: number;
  /** params + BN running statistics */
  stateSize: number;
  entries: StateEntry[];
}

/** One train-mode forward and backward pass on already normalised inputs (tests, gradient
 * checks). Without `state` the network is initialised from `seed`. */
export interface DebugStepRequest {
  spec: ModelSpec;
  images: Float32Array;
  labels: Int32Array;
  state?: Float32Array;
  seed?: number;
  device?: DeviceRequest;
  threads?: number;
  /** false: eval-mode forward and loss only (no gradients) */
  train?: boolean;
}

export interface DebugStepResult {
  /** mean cross-entropy over the batch */
  loss: number;
  correct: number;
  device: string;
  /** the state the step ran with (running statistics updated once in train mode) */
  state: Float32Array;
  /** d loss / d parameters (train mode only) */
  grads?: Float32Array;
  layout: StateLayout;
}

/** Native data view of a dataset: the bytes are shared, not copied. */
function nativeData(d: Dataset) {
  return { images: d.images, labels: d.labels, count: d.count, shape: d.shape, mean: d.mean, std: d.std };
}

/** Native promise rejections carry no JS stack; give them the caller's. */
async function withCallerStack<T>(what: string, run: () => Promise<T>): Promise<T> {
  const caller = new Error(what);
  try {
    return await run();
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    e.stack = `${e.name}: ${e.message}\n${(caller.stack ?? '').split('\n').slice(1).join('\n')}`;
    throw e;
  }
}

interface NativeTrainResult extends Omit<TrainResult, 'epochs'> {
  epochs: EpochMetrics[];
}

/** Train `req.spec` on `req.train`, evaluating `req.test`; runs on a native worker thread. */
export function train(req: TrainRequest): Promise<TrainResult> {
  const options = {
    device: req.device,
    keepState: req.keepState ?? false,
    evalLastOnly: req.evalLastOnly ?? false,
  };
  const onProgress = req.onProgress ? (p: TrainProgress) => req.onProgress!(p) : undefined;
  return withCallerStack('train', async () => {
    const r = (await addon().train(
      req.spec,
      req.recipe,
      nativeData(req.train),
      nativeData(req.test),
      options,
      onProgress,
    )) as NativeTrainResult;
    return r;
  });
}

/** Accuracy and mean loss of a trained state on `req.data` (eval mode). */
export function evaluate(req: EvaluateRequest): Promise<EvaluateResult> {
  const options = { device: req.device, threads: req.threads, batchSize: req.batchSize ?? 256 };
  return withCallerStack('evaluate', async () => {
    return (await addon().evaluate(req.spec, req.state, nativeData(req.data), options)) as EvaluateResult;
  });
}

/** Trainable scalars of the network the native engine builds (BN affine included). */
export function paramCount(spec: ModelSpec): number {
  return addon().paramCount(spec) as number;
}

/** Length of a state vector: parameters then BN running statistics. */
export function stateSize(spec: ModelSpec): number {
  return addon().stateSize(spec) as number;
}

/** Where each layer's parameters and statistics sit in the state vector. */
export function stateLayout(spec: ModelSpec): StateLayout {
  return addon().stateLayout(spec) as StateLayout;
}

/** Synchronous single step for tests; keep inputs small. */
export function debugStep(req: DebugStepRequest): DebugStepResult {
  const options = {
    device: req.device ?? 'cpu',
    threads: req.threads ?? 1,
    seed: req.seed ?? 0,
    state: req.state,
    train: req.train ?? true,
  };
  return addon().netDebug(req.spec, options, req.images, req.labels) as DebugStepResult;
}
