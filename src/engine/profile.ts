// The executor's per-op profile as data (the bench-only export netProfile,
// native/src/addon_bench.cc): each step of a few training steps or inference forwards
// synchronised and timed, summed per spec layer, as DSXPLORE_PROFILE prints it. For
// `npm run bench -- roofline`.
import type { ModelSpec } from '../models/spec.js';
import { addon } from './addon.js';

export interface ProfileRequest {
  /** 'train': forward + backward + SGD step; 'infer': Net::infer, the fused eval forward */
  mode: 'train' | 'infer';
  batch: number;
  /** CPU threads, 0 = all cores */
  threads: number;
  /** untimed steps first */
  warmup?: number;
  /** timed steps */
  steps?: number;
  seed?: number;
}

/** Seconds summed over the timed steps, and how many kernel calls they were. */
export interface ProfileTime {
  forward: number;
  backward: number;
  forwardCalls: number;
  backwardCalls: number;
}

export interface NetProfile {
  mode: 'train' | 'infer';
  batch: number;
  threads: number;
  /** wall seconds of each timed step */
  stepSeconds: number[];
  /** per timed step: seconds per spec layer (forward + backward), then gradient clearing,
   * then the SGD step (layers.length + 2 values) */
  stepLayerSeconds: Float64Array[];
  /** per spec layer; a fused step counts at one of its layers (BN+ReLU at the BN, the
   * residual tail at its ReLU), the others have no calls */
  layers: ProfileTime[];
  /** clearing gradients before they are accumulated (training) */
  clear: ProfileTime;
  /** the optimiser step (training) */
  sgd: ProfileTime;
}

/** Profiles `spec` on the CPU with synthetic inputs; runs on a native worker thread. */
export async function profileNet(spec: ModelSpec, req: ProfileRequest): Promise<NetProfile> {
  return (await addon().netProfile(spec, req)) as NetProfile;
}
