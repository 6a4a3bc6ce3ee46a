// A dataset as the engine trains on it: an image-classification split held in memory as raw
// bytes, exactly as the native trainer consumes it: images [count, C, H, W] uint8 (0..255),
// labels [count] uint8. Normalisation (mean/std per channel, in 0..1 units) is applied by the
// trainer. src/data produces these, src/engine consumes them.
export interface Dataset {
  /** e.g. "mnist/train" */
  name: string;
  count: number;
  /** [channels, height, width] */
  shape: [number, number, number];
  classes: number;
  images: Uint8Array;
  labels: Uint8Array;
  /** per-channel mean and std of pixel/255, used to normalise */
  mean: number[];
  std: number[];
}

export interface DatasetPair {
  train: Dataset;
  test: Dataset;
}
