// What a training reports: its live progress (per batch) and its metrics per epoch. The engine
// produces them, the store keeps the epochs, the reports and the dashboard show both.

export interface TrainProgress {
  epoch: number; // 1-based
  epochs: number;
  batch: number; // 1-based within the epoch
  batches: number;
  /** running mean training loss over this epoch so far */
  loss: number;
  imagesPerSecond: number;
  /** seconds since training started */
  elapsed: number;
}

export interface EpochMetrics {
  epoch: number;
  lr: number;
  trainLoss: number;
  trainAccuracy: number;
  /** accuracy on the evaluation set after this epoch, when evaluated */
  testAccuracy?: number;
  testLoss?: number;
  seconds: number;
}
