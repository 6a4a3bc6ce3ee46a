// An image-classification dataset held in memory as raw bytes, exactly as the native
// trainer consumes it: images [count, C, H, W] uint8 (0..255), labels [count] uint8.
// Normalisation (mean/std per channel, in 0..1 units) is applied by the trainer.
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

/** A split as a reader returns it, before statistics: what Dataset holds, minus the names. */
export interface RawSplit {
  count: number;
  shape: [number, number, number];
  images: Uint8Array;
  labels: Uint8Array;
}

export interface RawPair {
  train: RawSplit;
  test: RawSplit;
}
