// Plain data exchanged with the native engine. Everything here has already been validated
// at the edge (src/config/); the engine trusts it.
import type { Dataset } from '../domain/dataset.js';
import type { EpochMetrics, TrainProgress } from '../domain/metrics.js';
import type { ModelSpec } from '../models/spec.js';

export type LrSchedule =
  | { kind: 'constant' }
  | { kind: 'cosine' }
  | { kind: 'step'; milestones: number[]; gamma: number };

export interface TrainRecipe {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  /** apply weight decay to BN affine parameters and biases too */
  decayBnAndBias: boolean;
  schedule: LrSchedule;
  /** linear warm-up from ~0 to lr over this many epochs (fractions allowed) */
  warmupEpochs: number;
  seed: number;
  /** CPU threads; 0 = all cores */
  threads: number;
  augment: {
    /** random-crop padding in pixels, 0 = no crop */
    cropPadding: number;
    flip: boolean;
    /** random-resized crop (smallest area fraction); absent = off */
    resizedCropScale?: number;
  };
}

export type DeviceRequest = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

export type TrainStatus = 'done' | 'diverged';

export interface TrainResult {
  status: TrainStatus;
  /** set when status is not 'done' */
  message?: string;
  device: string;
  /** set when `--device auto` fell back to the CPU: why CUDA was not used */
  deviceFallback?: string;
  threads: number;
  params: number;
  testAccuracy: number;
  testLoss: number;
  trainLoss: number;
  trainAccuracy: number;
  epochs: EpochMetrics[];
  seconds: number;
  imagesPerSecond: number;
  /** trained state: parameters then BN running statistics, in executor order */
  state?: Float32Array;
}

export interface TrainRequest {
  spec: ModelSpec;
  recipe: TrainRecipe;
  train: Dataset;
  /** evaluated after every epoch (and its accuracy reported as testAccuracy) */
  test: Dataset;
  device: DeviceRequest;
  /** return the trained state in TrainResult.state */
  keepState?: boolean;
  /** evaluate `test` only after the last epoch instead of after every epoch */
  evalLastOnly?: boolean;
  onProgress?: (p: TrainProgress) => void;
}

export interface EvaluateRequest {
  spec: ModelSpec;
  state: Float32Array;
  data: Dataset;
  device: DeviceRequest;
  threads: number;
  batchSize?: number;
}

export interface EvaluateResult {
  accuracy: number;
  loss: number;
  count: number;
  seconds: number;
}
