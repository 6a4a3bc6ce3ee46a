// Typed wrapper over the INFER section of the addon (native/src/addon_infer.cc): eval-mode
// logits of a batch (ONNX parity checks) and timed eval-mode forwards (latency).
import type { ModelSpec } from '../models/spec.js';
import { addon } from './addon.js';
import type { DeviceRequest } from './types.js';

export interface ForwardRequest {
  spec: ModelSpec;
  /** already normalised inputs, [n, C, H, W] */
  images: Float32Array;
  /** trained state; without it the network is initialised from `seed` */
  state?: Float32Array;
  seed?: number;
  device?: DeviceRequest;
  threads?: number;
  /** 'deploy' (default): what latency times, BN folded into its producer on the CPU;
   * 'evaluate': the unfused layer-by-layer pass `evaluate` runs, the reference for tests */
  schedule?: 'deploy' | 'evaluate';
}

/** Eval-mode logits [n, classes] (synchronous; keep n small). */
export function forwardLogits(req: ForwardRequest): Float32Array {
  return addon().netForward(req.spec, {
    device: req.device ?? 'cpu',
    threads: req.threads ?? 1,
    seed: req.seed ?? 0,
    state: req.state,
    schedule: req.schedule ?? 'deploy',
  }, req.images) as Float32Array;
}

export interface LatencyRequest {
  spec: ModelSpec;
  batch: number;
  /** untimed forwards first */
  warmup: number;
  /** timed forwards */
  reps: number;
  threads: number;
  device?: DeviceRequest;
  state?: Float32Array;
}

export interface LatencySamples {
  /** seconds per timed forward, in order */
  seconds: number[];
  device: string;
  threads: number;
}

/** Timed eval-mode forwards of one batch, on a native worker thread. */
export async function timeForwards(req: LatencyRequest): Promise<LatencySamples> {
  return (await addon().netLatency(req.spec, {
    device: req.device ?? 'cpu',
    threads: req.threads,
    batch: req.batch,
    warmup: req.warmup,
    reps: req.reps,
    state: req.state,
  })) as LatencySamples;
}
