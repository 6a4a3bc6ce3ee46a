// Image-folder data path: how fast JPEGs are decoded (worker threads, every core) into the
// cache, how fast the cache reads back, and how fast ResNet-18 (imagenet stem, dw-scc:cg=2,
// co=0.5 in every slot) trains on the decoded images on the CPU, at 64, 112 and 224 px.
// The folder is generated here: 3 classes of 256x192 RGB JPEGs (--images=N in all, default
// 600). Training is timed over a few steps only (--steps=N of batch 32, default 4; one
// warm-up epoch is not separated out, so the first step's set-up is included): ResNet-18 at
// 224 px is slow on a small CPU. Flags: --sizes=64,112,224, --threads=N (training threads).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { openDataset } from '../src/data/index.js';
import { resolveRecipe } from '../src/config/recipe.js';
import { buildModel } from '../src/models/index.js';
import { train } from '../src/engine/index.js';

function flag(flags: string[], name: string, fallback: string): string {
  const hit = flags.find((f) => f.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

async function writeFolder(root: string, perClassTrain: number, perClassVal: number): Promise<void> {
  for (let c = 0; c < 3; c++) for (const s of ['train', 'val']) mkdirSync(join(root, s, `class${c}`), { recursive: true });
  const w = 256;
  const h = 192;
  const jobs: Promise<unknown>[] = [];
  for (let c = 0; c < 3; c++) {
    for (const [split, n] of [['train', perClassTrain], ['val', perClassVal]] as const) {
      for (let i = 0; i < n; i++) {
        const px = Buffer.alloc(w * h * 3);
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++) {
            const v = c === 0 ? x + i : c === 1 ? y + 2 * i : (x ^ y) + i;
            const at = (y * w + x) * 3;
            px[at] = (v * 3) & 255;
            px[at + 1] = (v * 5 + 40 * c) & 255;
            px[at + 2] = (v * 7 + i) & 255;
          }
        jobs.push(sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toFile(join(root, split, `class${c}`, `${i}.jpg`)));
      }
    }
  }
  await Promise.all(jobs);
}

export async function run(flags: string[]): Promise<object> {
  const images = Number(flag(flags, 'images', '600'));
  const steps = Number(flag(flags, 'steps', '4'));
  const threads = Number(flag(flags, 'threads', '0'));
  const sizes = flag(flags, 'sizes', '64,112,224').split(',').map(Number);
  const batch = 32;
  const root = mkdtempSync(join(tmpdir(), 'dsx-bench-data-'));
  try {
    const perClassVal = Math.max(2, Math.round(images / 3 / 10));
    const perClassTrain = Math.max(2, Math.round(images / 3) - perClassVal);
    await writeFolder(join(root, 'data'), perClassTrain, perClassVal);
    const total = 3 * (perClassTrain + perClassVal);
    const decodeThreads = availableParallelism();
    console.log(`${total} JPEGs of 256x192 in 3 classes; decoding on ${decodeThreads} worker threads; training ${steps} steps of batch ${batch}`);
    const rows = [];
    for (const size of sizes) {
      const cacheDir = join(root, `cache-${size}`);
      const t0 = performance.now();
      const first = await openDataset(`imagefolder:${join(root, 'data')}`, { inputSize: size, imageFolder: { cacheDir } });
      const decodeS = (performance.now() - t0) / 1000;
      const t1 = performance.now();
      await openDataset(`imagefolder:${join(root, 'data')}`, { inputSize: size, imageFolder: { cacheDir } });
      const cachedS = (performance.now() - t1) / 1000;
      const decoded = first.imageFolder!.train.decoded + first.imageFolder!.test.decoded;
      const spec = buildModel('resnet18', {
        inChannels: 3,
        inputSize: size,
        classes: 3,
        stem: 'imagenet',
        variants: { kind: 'dw-scc', cg: 2, co: 0.5 },
      });
      const info = { name: 'imagefolder' as const, shape: first.train.shape, classes: 3, flipByDefault: true, cropPadding: Math.round(size / 8) };
      const recipe = resolveRecipe({ epochs: 1, batchSize: batch, lr: 0.05, threads }, info);
      const trainSet = { ...first.train, count: Math.min(first.train.count, steps * batch) };
      const testSet = { ...first.test, count: Math.min(first.test.count, 2) };
      const r = await train({ spec, recipe, train: trainSet, test: testSet, device: 'cpu' });
      const row = {
        size,
        decoded,
        decodeImagesPerSecond: Math.round(decoded / decodeS),
        cachedImagesPerSecond: Math.round(total / cachedS),
        trainImagesPerSecond: Math.round(r.imagesPerSecond * 10) / 10,
        trainImages: trainSet.count,
        trainThreads: r.threads,
      };
      rows.push(row);
      console.log(
        `${String(size).padStart(4)} px: decode ${String(row.decodeImagesPerSecond).padStart(6)} img/s, ` +
          `cache read ${String(row.cachedImagesPerSecond).padStart(7)} img/s, ` +
          `ResNet-18 dw-scc training ${String(row.trainImagesPerSecond).padStart(7)} img/s (${row.trainImages} images, ${row.trainThreads} threads)`,
      );
    }
    return { images: total, sourceSize: [256, 192], decodeThreads, steps, batch, model: 'resnet18 --stem imagenet dw-scc:cg=2,co=0.5', rows };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
