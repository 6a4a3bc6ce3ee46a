// Readers for the CIFAR-10 and CIFAR-100 binary versions (https://www.cs.toronto.edu/~kriz/cifar.html).
// A CIFAR-10 batch file is a sequence of 3073-byte records, one label byte (0..9) followed by
// 1024 red, 1024 green and 1024 blue bytes of a 32x32 image, row-major. CIFAR-100 records
// have two label bytes, coarse (0..19) then fine (0..99), before the same 3072 image bytes.
// That is already the CHW layout the engine consumes, so images are copied as they are.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatasetError } from './errors.js';
import type { RawPair, RawSplit } from './types.js';

export const CIFAR_IMAGE_BYTES = 3 * 32 * 32;
export const CIFAR_RECORD_BYTES = 1 + CIFAR_IMAGE_BYTES;
export const CIFAR_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR_TEST_FILES = ['test_batch.bin'];

export class CifarFormatError extends Error {
  override name = 'CifarFormatError';
}

export interface LabelledBytes {
  count: number;
  images: Uint8Array;
  labels: Uint8Array;
}

/** How the labels of one record are laid out: CIFAR-10 has one byte; CIFAR-100 two
 * (coarse, fine), of which `use` is taken. */
export interface CifarLayout {
  labelBytes: number;
  use: number;
  classes: number;
}

export const CIFAR10_LAYOUT: CifarLayout = { labelBytes: 1, use: 0, classes: 10 };
export const CIFAR100_FINE: CifarLayout = { labelBytes: 2, use: 1, classes: 100 };
export const CIFAR100_COARSE: CifarLayout = { labelBytes: 2, use: 0, classes: 20 };
export const CIFAR100_TRAIN_FILES = ['train.bin'];
export const CIFAR100_TEST_FILES = ['test.bin'];

/** Parse one batch file's bytes. */
export function parseCifarBatch(buf: Uint8Array, layout: CifarLayout = CIFAR10_LAYOUT): LabelledBytes {
  const record = layout.labelBytes + CIFAR_IMAGE_BYTES;
  if (buf.length === 0) throw new CifarFormatError('empty file');
  if (buf.length % record !== 0) {
    throw new CifarFormatError(
      `size ${buf.length} is not a multiple of the ${record}-byte record (truncated, or not the binary version?)`,
    );
  }
  const count = buf.length / record;
  const images = new Uint8Array(count * CIFAR_IMAGE_BYTES);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * record;
    for (let k = 0; k < layout.labelBytes; k++) {
      // every label byte is checked, not only the one used: a wrong file fails either way
      const limit = layout.labelBytes === 2 && k === 0 ? 20 : layout.labelBytes === 2 ? 100 : layout.classes;
      if (buf[at + k]! >= limit) {
        throw new CifarFormatError(`record ${i} has label ${buf[at + k]}, expected 0..${limit - 1}`);
      }
    }
    labels[i] = buf[at + layout.use]!;
    images.set(buf.subarray(at + layout.labelBytes, at + record), i * CIFAR_IMAGE_BYTES);
  }
  return { count, images, labels };
}

/** Concatenate parsed batches. */
export function concatBatches(parts: LabelledBytes[]): LabelledBytes {
  const count = parts.reduce((n, p) => n + p.count, 0);
  const imageBytes = count === 0 ? 0 : parts[0]!.images.length / parts[0]!.count;
  const images = new Uint8Array(count * imageBytes);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * imageBytes);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { count, images, labels };
}

export function readCifarBatchFile(path: string, layout: CifarLayout = CIFAR10_LAYOUT): LabelledBytes {
  return parseCifarBatch(readFileSync(path), layout);
}

interface CifarVariant {
  dataset: string;
  /** the folder the archive unpacks to */
  child: string;
  archive: string;
  train: string[];
  test: string[];
}

const CIFAR10: CifarVariant = {
  dataset: 'cifar10',
  child: 'cifar-10-batches-bin',
  archive: 'cifar-10-binary.tar.gz',
  train: CIFAR_TRAIN_FILES,
  test: CIFAR_TEST_FILES,
};
const CIFAR100: CifarVariant = {
  dataset: 'cifar100',
  child: 'cifar-100-binary',
  archive: 'cifar-100-binary.tar.gz',
  train: CIFAR100_TRAIN_FILES,
  test: CIFAR100_TEST_FILES,
};

function howToGet(v: CifarVariant): string {
  return (
    `${v.dataset} needs the binary version: download ${v.archive} from ` +
    `https://www.cs.toronto.edu/~kriz/cifar.html, unpack it, and set dataDir to the folder holding ` +
    `${[...v.train, ...v.test].join(', ')} (or its parent)`
  );
}

function findDir(v: CifarVariant, dataDir: string | undefined): string {
  if (!dataDir) throw new DatasetError(`${howToGet(v)}.`, 'dataDir');
  for (const dir of [dataDir, join(dataDir, v.child)]) {
    if (existsSync(join(dir, v.test[0]!))) return dir;
  }
  throw new DatasetError(`${v.dataset}: expected ${join(dataDir, v.test[0]!)}, not found.\n${howToGet(v)}.`, 'dataDir');
}

function readVariant(v: CifarVariant, layout: CifarLayout, dataDir: string | undefined): RawPair {
  const dir = findDir(v, dataDir);
  const read = (files: string[]): RawSplit => {
    const parts = files.map((f) => {
      const path = join(dir, f);
      if (!existsSync(path)) {
        throw new DatasetError(`${v.dataset}: expected ${path}, not found (the binary version has ${[...v.train, ...v.test].join(', ')}).`, 'dataDir');
      }
      try {
        return readCifarBatchFile(path, layout);
      } catch (err) {
        if (err instanceof CifarFormatError) {
          throw new DatasetError(`${v.dataset}: ${path} is corrupt: ${err.message}. Download the binary version again.`);
        }
        throw err;
      }
    });
    return { ...concatBatches(parts), shape: [3, 32, 32] };
  };
  return { train: read(v.train), test: read(v.test) };
}

export function readCifar10(dataDir: string | undefined): RawPair {
  return readVariant(CIFAR10, CIFAR10_LAYOUT, dataDir);
}

export function readCifar100(dataDir: string | undefined, labels: 'fine' | 'coarse'): RawPair {
  return readVariant(CIFAR100, labels === 'coarse' ? CIFAR100_COARSE : CIFAR100_FINE, dataDir);
}

/** Serialise records in the CIFAR binary layout (used by tests to write fixtures); with
 * `fine` labels, the CIFAR-100 layout (`labels` are then the coarse ones). */
export function encodeCifarBatch(images: Uint8Array, labels: Uint8Array, fine?: Uint8Array): Uint8Array {
  const lb = fine ? 2 : 1;
  const record = lb + CIFAR_IMAGE_BYTES;
  const out = new Uint8Array(labels.length * record);
  for (let i = 0; i < labels.length; i++) {
    out[i * record] = labels[i]!;
    if (fine) out[i * record + 1] = fine[i]!;
    out.set(images.subarray(i * CIFAR_IMAGE_BYTES, (i + 1) * CIFAR_IMAGE_BYTES), i * record + lb);
  }
  return out;
}
