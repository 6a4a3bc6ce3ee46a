// Reader for the CIFAR-10 binary version (https://www.cs.toronto.edu/~kriz/cifar.html):
// each batch file is a sequence of 3073-byte records, one label byte (0..9) followed by
// 1024 red, 1024 green and 1024 blue bytes of a 32x32 image, row-major. That is already
// the CHW layout the engine consumes, so records are copied as they are.
import { readFileSync } from 'node:fs';

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

/** Parse one batch file's bytes. */
export function parseCifarBatch(buf: Uint8Array, classes = 10): LabelledBytes {
  if (buf.length === 0) throw new CifarFormatError('empty file');
  if (buf.length % CIFAR_RECORD_BYTES !== 0) {
    throw new CifarFormatError(
      `size ${buf.length} is not a multiple of the ${CIFAR_RECORD_BYTES}-byte record (truncated, or not the binary version?)`,
    );
  }
  const count = buf.length / CIFAR_RECORD_BYTES;
  const images = new Uint8Array(count * CIFAR_IMAGE_BYTES);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * CIFAR_RECORD_BYTES;
    const label = buf[at]!;
    if (label >= classes) {
      throw new CifarFormatError(`record ${i} has label ${label}, expected 0..${classes - 1}`);
    }
    labels[i] = label;
    images.set(buf.subarray(at + 1, at + CIFAR_RECORD_BYTES), i * CIFAR_IMAGE_BYTES);
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

export function readCifarBatchFile(path: string): LabelledBytes {
  return parseCifarBatch(readFileSync(path));
}

/** Serialise records in the CIFAR binary layout (used by tests to write fixtures). */
export function encodeCifarBatch(images: Uint8Array, labels: Uint8Array): Uint8Array {
  const out = new Uint8Array(labels.length * CIFAR_RECORD_BYTES);
  for (let i = 0; i < labels.length; i++) {
    out[i * CIFAR_RECORD_BYTES] = labels[i]!;
    out.set(images.subarray(i * CIFAR_IMAGE_BYTES, (i + 1) * CIFAR_IMAGE_BYTES), i * CIFAR_RECORD_BYTES + 1);
  }
  return out;
}
