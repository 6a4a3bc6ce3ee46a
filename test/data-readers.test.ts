// Format readers on files generated here: IDX (raw and gzipped, bad magic, truncated) and
// CIFAR-10 binary batches, read back through loadDataset with --data-dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx, parseIdx, IdxFormatError } from '../src/data/idx.js';
import { encodeCifarBatch, parseCifarBatch, CifarFormatError, CIFAR_RECORD_BYTES } from '../src/data/cifar.js';
import { DatasetError, loadDataset } from '../src/data/index.js';
import { UsageError } from '../src/errors.js';

function bytes(n: number, f: (i: number) => number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => f(i) & 255);
}

test('IDX header is big-endian: dims and payload round-trip, gzipped or not', () => {
  const data = bytes(3 * 300 * 2, (i) => i * 7 + 3);
  const raw = encodeIdx([3, 300, 2], data);
  // a dimension of 300 = 0x0000012c must be written most significant byte first
  assert.deepEqual([...raw.subarray(0, 12)], [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 1, 0x2c]);
  for (const buf of [raw, gzipSync(raw)]) {
    const a = parseIdx(buf);
    assert.deepEqual(a.dims, [3, 300, 2]);
    assert.deepEqual([...a.data], [...data]);
  }
});

test('IDX reader rejects bad magic, wrong type, truncated and trailing data', () => {
  const good = encodeIdx([4, 2, 2], bytes(16, (i) => i));
  const badMagic = Uint8Array.from(good);
  badMagic[0] = 0x12;
  assert.throws(() => parseIdx(badMagic), (e: Error) => e instanceof IdxFormatError && /magic/.test(e.message));
  const floatType = Uint8Array.from(good);
  floatType[2] = 0x0d;
  assert.throws(() => parseIdx(floatType), /element type 0xd/);
  assert.throws(() => parseIdx(good.subarray(0, good.length - 1)), /truncated data: dimensions 4x2x2 need 16 bytes, file has 15/);
  assert.throws(() => parseIdx(good.subarray(0, 10)), /truncated header/);
  assert.throws(() => parseIdx(new Uint8Array([...good, 0])), /trailing data/);
  assert.throws(() => parseIdx(gzipSync(good).subarray(0, 20)), /corrupt gzip/);
});

test('CIFAR binary batch: label byte then 3072 CHW bytes per record', () => {
  const n = 3;
  const images = bytes(n * 3072, (i) => i * 31 + (i >> 10));
  const labels = Uint8Array.from([9, 0, 4]);
  const buf = encodeCifarBatch(images, labels);
  assert.equal(buf.length, n * CIFAR_RECORD_BYTES);
  assert.equal(buf[CIFAR_RECORD_BYTES], 0); // second record's label byte
  assert.equal(buf[CIFAR_RECORD_BYTES + 1], images[3072]); // its first red pixel
  const parsed = parseCifarBatch(buf);
  assert.equal(parsed.count, n);
  assert.deepEqual([...parsed.labels], [9, 0, 4]);
  assert.deepEqual([...parsed.images], [...images]);
  assert.throws(() => parseCifarBatch(buf.subarray(0, buf.length - 5)), CifarFormatError);
  const badLabel = Uint8Array.from(buf);
  badLabel[0] = 10;
  assert.throws(() => parseCifarBatch(badLabel), /label 10/);
});

test('fashion-mnist from --data-dir: gzipped IDX, padded to 1x32x32 with a zero border of 2', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-fm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const nTrain = 5;
  const nTest = 2;
  const trainImg = bytes(nTrain * 784, (i) => 1 + (i % 250));
  const testImg = bytes(nTest * 784, (i) => 255 - (i % 100));
  writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(encodeIdx([nTrain, 28, 28], trainImg)));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(encodeIdx([nTrain], Uint8Array.from([1, 2, 3, 4, 5]))));
  // test files uncompressed: both forms are accepted
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), encodeIdx([nTest, 28, 28], testImg));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), encodeIdx([nTest], Uint8Array.from([7, 8])));
  const d = loadDataset('fashion-mnist', { dataDir: dir });
  assert.equal(d.train.count, nTrain);
  assert.deepEqual(d.train.shape, [1, 32, 32]);
  assert.deepEqual([...d.test.labels], [7, 8]);
  // image 1, row 0 of the original lands at padded row 2, columns 2..29
  const img1 = d.train.images.subarray(1024, 2048);
  assert.deepEqual([...img1.subarray(2 * 32 + 2, 2 * 32 + 30)], [...trainImg.subarray(784, 784 + 28)]);
  let border = 0;
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 32; x++) if (y < 2 || y >= 30 || x < 2 || x >= 30) border += img1[y * 32 + x]!;
  assert.equal(border, 0);
  // statistics come from the training images only (padded); exact within float rounding
  let sum = 0;
  for (const v of d.train.images) sum += v;
  assert.ok(Math.abs(d.train.mean[0]! - sum / (nTrain * 1024) / 255) < 1e-12);
  assert.deepEqual(d.test.mean, d.train.mean);
});

test('missing or corrupt dataset files are UsageErrors that say what was expected and how to get it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-bad-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.throws(
    () => loadDataset('fashion-mnist', { dataDir: dir }),
    (e: Error) => e instanceof UsageError && e.message.includes(join(dir, 'train-images-idx3-ubyte')) && /apt-get install dataset-fashion-mnist/.test(e.message),
  );
  assert.throws(
    () => loadDataset('cifar10', { dataDir: dir }),
    (e: Error) => e instanceof UsageError && e.message.includes('test_batch.bin') && /binary version/.test(e.message) && /set dataDir/.test(e.message),
  );
  // the data layer names the field (dataDir), never a CLI flag; the CLI renames it
  assert.throws(() => loadDataset('cifar10'), (e: Error) => e instanceof DatasetError && e.field === 'dataDir' && !/--/.test(e.message));
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), new Uint8Array([1, 2, 3, 4, 5, 6]));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx([1], new Uint8Array([0])));
  assert.throws(
    () => loadDataset('mnist', { dataDir: dir }),
    (e: Error) => e instanceof UsageError && /not a valid IDX file: bad magic/.test(e.message),
  );
  assert.throws(() => loadDataset('imagenet'), (e: Error) => e instanceof UsageError && /mnist, fashion-mnist, cifar10, synthetic.*, cifar100\[:labels=coarse\], imagefolder:DIR/.test(e.message));
});

test('cifar10 from --data-dir (or its cifar-10-batches-bin child): 5 train batches + test batch', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'dsx-cifar-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'cifar-10-batches-bin');
  mkdirSync(dir);
  const per = 4;
  for (let b = 1; b <= 5; b++) {
    const labels = bytes(per, (i) => (b + i) % 10);
    writeFileSync(join(dir, `data_batch_${b}.bin`), encodeCifarBatch(bytes(per * 3072, (i) => b * 40 + (i % 7)), labels));
  }
  writeFileSync(join(dir, 'test_batch.bin'), encodeCifarBatch(bytes(2 * 3072, () => 9), Uint8Array.from([3, 5])));
  const d = loadDataset('cifar10', { dataDir: root });
  assert.equal(d.train.count, 5 * per);
  assert.deepEqual(d.train.shape, [3, 32, 32]);
  // batch order is kept: image 4 is the first of batch 2
  assert.equal(d.train.labels[4], 2);
  assert.equal(d.train.images[4 * 3072], 80);
  assert.deepEqual([...d.test.labels], [3, 5]);
  assert.equal(d.train.mean.length, 3);
  // truncating one batch is reported as corrupt
  writeFileSync(join(dir, 'data_batch_3.bin'), new Uint8Array(100));
  assert.throws(() => loadDataset('cifar10', { dataDir: dir }), (e: Error) => e instanceof UsageError && /data_batch_3.bin is corrupt/.test(e.message));
});
