// A split as a reader returns it, before statistics: the bytes of a Dataset
// (src/domain/dataset.ts), without its name, classes and channel statistics.
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
