// Loading a dataset: read it through its registry record (registry.ts), hold out the
// validation split, apply the limits, and compute per-channel statistics from the training
// set. loadDataset serves the datasets read synchronously; openDataset serves every dataset,
// image folders included (decoded in worker threads, cached).
import type { Dataset, DatasetPair } from '../domain/dataset.js';
import type { RawPair } from './types.js';
import { DatasetError } from './errors.js';
import { datasetInfo, datasetRecord, parseDatasetRef, type DatasetInfo, type DatasetRef, type RefContext } from './registry.js';
import { loadImageFolder, type ImageFolderOptions, type SplitSummary } from './imagefolder/index.js';
import { channelStats, head, holdOut } from './transform.js';

export interface LoadOptions extends RefContext {
  /** folder holding the dataset files (fashion-mnist, cifar10, cifar100; mnist overrides its package) */
  dataDir?: string;
  /** use at most this many training images (after the validation split) */
  limitTrain?: number;
  /** use at most this many test images */
  limitTest?: number;
  /** hold this many training images out as a validation set (a fraction when < 1) */
  validation?: number;
  /** seed of the validation split (not of the training run) */
  seed?: number;
  /** image folders: cache, memory budget, decoding threads, progress and warnings */
  imageFolder?: ImageFolderOptions;
}

export interface LoadedDatasets extends DatasetPair {
  /** present when a validation split was requested */
  validation?: Dataset;
  /** image folders: what was decoded, skipped and cached */
  imageFolder?: { classes: string[]; train: SplitSummary; test: SplitSummary; decodeSeconds: number };
}

function checkCount(field: 'limitTrain' | 'limitTest' | 'validation', n: number | undefined): void {
  if (n !== undefined && (!Number.isFinite(n) || n < 0)) {
    throw new DatasetError(`${field} must be a non-negative number, got ${n}`, field);
  }
}

function resolveRef(nameOrRef: string | DatasetRef, opts: LoadOptions): DatasetRef {
  checkCount('limitTrain', opts.limitTrain);
  checkCount('limitTest', opts.limitTest);
  checkCount('validation', opts.validation);
  return typeof nameOrRef === 'string' ? parseDatasetRef(nameOrRef, opts) : nameOrRef;
}

/**
 * Order of operations: hold out the validation split (seeded), limit the training set, then
 * compute the per-channel statistics on the training images that remain; validation and
 * test sets are normalised with the training statistics.
 */
function finish(ref: DatasetRef, info: DatasetInfo, raw: RawPair, opts: LoadOptions): LoadedDatasets {
  const make = (s: RawPair['train'], split: string): Dataset => ({
    name: `${ref.name}/${split}`,
    count: s.count,
    shape: s.shape,
    classes: info.classes,
    images: s.images,
    labels: s.labels,
    mean: [],
    std: [],
  });
  let train = make(raw.train, 'train');
  let test = make(raw.test, 'test');
  let validation: Dataset | undefined;
  if (opts.validation !== undefined && opts.validation > 0) {
    const v = opts.validation < 1 ? Math.round(opts.validation * train.count) : Math.floor(opts.validation);
    if (v >= train.count) {
      throw new DatasetError(`validation ${opts.validation} leaves no training images (the training set has ${train.count})`, 'validation');
    }
    const split = holdOut(train, v, opts.seed ?? 0);
    train = split.train;
    validation = split.validation;
  }
  if (opts.limitTrain !== undefined && opts.limitTrain > 0) train = head(train, Math.floor(opts.limitTrain));
  if (opts.limitTest !== undefined && opts.limitTest > 0) test = head(test, Math.floor(opts.limitTest));
  const stats = channelStats(train.images, train.count, train.shape);
  const withStats = (d: Dataset): Dataset => ({ ...d, mean: [...stats.mean], std: [...stats.std] });
  const out: LoadedDatasets = { train: withStats(train), test: withStats(test) };
  if (validation) out.validation = withStats(validation);
  return out;
}

/** Load a dataset that reads synchronously (every one but imagefolder; use openDataset). */
export function loadDataset(nameOrRef: string | DatasetRef, opts: LoadOptions = {}): LoadedDatasets {
  const ref = resolveRef(nameOrRef, opts);
  const record = datasetRecord(ref.name);
  if (!record.read) throw new Error(`internal: ${ref.name} datasets are decoded asynchronously; use openDataset`);
  const info = datasetInfo(ref);
  return finish(ref, info, record.read(ref, opts.dataDir), opts);
}

/** Load any dataset; image folders are decoded in worker threads once and cached. */
export async function openDataset(nameOrRef: string | DatasetRef, opts: LoadOptions = {}): Promise<LoadedDatasets> {
  const ref = resolveRef(nameOrRef, opts);
  if (ref.name !== 'imagefolder') return loadDataset(ref, opts);
  const info = datasetInfo(ref);
  const folder = await loadImageFolder(ref.folder!, ref.inputSize!, opts.imageFolder);
  const out = finish(ref, info, folder, opts);
  out.imageFolder = { classes: folder.classes, ...folder.summary };
  return out;
}

export type { LoadedDatasets as LoadedDatasetsT };
export type { SyntheticOptions } from './synthetic.js';
export {
  datasetInfo,
  datasetNames,
  parseDatasetRef,
  describeDatasets,
  DATASET_FORMS,
  IMAGEFOLDER_DEFAULT_SIZE,
  IMAGEFOLDER_MIN_SIZE,
  IMAGEFOLDER_MAX_SIZE,
  type DatasetInfo,
  type DatasetName,
  type DatasetRef,
  type RefContext,
} from './registry.js';
export { DatasetError, renameFields, withFieldNames, withFieldNamesAsync, type DatasetField } from './errors.js';
export { FASHION_MNIST_SYSTEM_DIR } from './digits.js';
export { parseIdx, readIdxFile, encodeIdx, IdxFormatError } from './idx.js';
export { parseCifarBatch, encodeCifarBatch, CifarFormatError, CIFAR10_LAYOUT, CIFAR100_FINE, CIFAR100_COARSE } from './cifar.js';
export { holdOut, head, subset, channelStats, padImages } from './transform.js';
export { defaultCacheDir, defaultMemoryBudget, type DecodeProgress, type ImageFolderOptions, type SplitSummary } from './imagefolder/index.js';
