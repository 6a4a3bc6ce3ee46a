// imagefolder:DIR datasets on folders written here with sharp: decoding conventions, the
// CLI training run (>90% in 2 epochs at 32 px), corrupt files skipped by name, folder-layout
// errors naming the folder, the decoded cache (reused, rebuilt after a change, memory-mapped
// above the budget).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { datasetInfo, openDataset } from '../src/data/index.js';
import { resolveRecipe } from '../src/config/recipe.js';
import { train } from '../src/engine/index.js';
import { buildModel } from '../src/models/index.js';
import { countTotals } from '../src/cost/index.js';
import { parseSweepConfig } from '../src/config/sweep.js';
import { trialRecipe } from '../src/sweep/identity.js';
import { decodeImage } from '../src/data/imagefolder/decode-worker.js';
import { PATTERN_CLASSES, writePatternFolder, writePatternImage } from './helpers/image-folder.js';
import { runCli } from './helpers/cli.js';

const lines = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);

function tempDir(t: { after: (fn: () => void) => void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('decoding: shorter side resized then centre-cropped; greyscale and RGBA become RGB; CHW layout', async (t) => {
  const dir = tempDir(t, 'dsx-dec-');
  // 96x32: left third red, middle third green, right third blue; the centre crop keeps green
  const w = 96;
  const h = 32;
  const px = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const at = (y * w + x) * 4;
      px[at + (x < 32 ? 0 : x < 64 ? 1 : 2)] = 200;
      px[at + 3] = 10; // nearly transparent: alpha is dropped, not blended
    }
  await sharp(px, { raw: { width: w, height: h, channels: 4 } }).png().toFile(join(dir, 'rgba.png'));
  const rgba = await decodeImage(join(dir, 'rgba.png'), 16);
  assert.equal(rgba.length, 3 * 16 * 16);
  const plane = 256;
  const mean = (c: number) => rgba.subarray(c * plane, (c + 1) * plane).reduce((a, b) => a + b, 0) / plane;
  assert.ok(mean(0) < 5 && mean(2) < 5, `red ${mean(0)} blue ${mean(2)}: the crop is not centred`);
  // green everywhere; away from the crop's edges (where resampling blends in the neighbours) exactly
  for (let y = 0; y < 16; y++) for (let x = 3; x < 13; x++) assert.ok(Math.abs(rgba[plane + y * 16 + x]! - 200) <= 2, `green at ${x},${y}`);
  assert.ok(mean(1) > 150, `green ${mean(1)}`);
  // greyscale: three equal planes
  const grey = Buffer.alloc(40 * 50);
  for (let i = 0; i < grey.length; i++) grey[i] = i % 251;
  await sharp(grey, { raw: { width: 40, height: 50, channels: 1 } }).png().toFile(join(dir, 'grey.png'));
  const g = await decodeImage(join(dir, 'grey.png'), 32);
  assert.deepEqual(g.subarray(0, 1024), g.subarray(1024, 2048));
  assert.deepEqual(g.subarray(0, 1024), g.subarray(2048, 3072));
  assert.ok(new Set(g).size > 50, 'the grey image lost its content');
});

test('imagefolder: 3 pattern classes, mixed sizes and colour modes, >90% in 2 epochs at 32 px; the cache is reused', async (t) => {
  const root = tempDir(t, 'dsx-if-');
  const cache = join(root, 'cache');
  await writePatternFolder(join(root, 'data'), 300, 40);
  const args = [
    'train', '--model', 'resnet20', '--dataset', `imagefolder:${join(root, 'data')}`, '--input-size', '32',
    '--epochs', '2', '--batch-size', '32', '--lr', '0.05', '--threads', '2', '--json',
  ];
  const first = await runCli(args, { DSXPLORE_CACHE_DIR: cache });
  assert.equal(first.code, 0, first.err);
  const ev = lines(first.out);
  const ds = ev.find((e) => e.type === 'dataset')!;
  assert.deepEqual(ds.classes, PATTERN_CLASSES);
  assert.equal(ds.train, 900);
  assert.equal(ds.test, 120);
  assert.equal(ds.decoded, 1020);
  assert.equal(ds.skipped, 0);
  assert.ok(ev.some((e) => e.type === 'decode' && e.done === e.total), 'no decode progress line');
  const result = ev.find((e) => e.type === 'result')!;
  assert.equal(result.status, 'done');
  t.diagnostic(`test accuracy after 2 epochs: ${result.testAccuracy}`);
  assert.ok(result.testAccuracy > 0.9, `test accuracy ${result.testAccuracy}`);
  // default augmentation for image folders: padded crop of size/8 and flips
  assert.deepEqual(result.recipe.augment, { cropPadding: 4, flip: true });

  // a second run decodes nothing; the same bytes come back from the cache file
  const second = await runCli([...args.slice(0, -1), '--epochs', '1', '--resized-crop', '0.5', '--json'], { DSXPLORE_CACHE_DIR: cache });
  assert.equal(second.code, 0, second.err);
  const ev2 = lines(second.out);
  assert.equal(ev2.find((e) => e.type === 'dataset')!.decoded, 0);
  assert.equal(ev2.some((e) => e.type === 'decode'), false);
  const r2 = ev2.find((e) => e.type === 'result')!;
  assert.deepEqual(r2.recipe.augment, { cropPadding: 0, flip: true, resizedCropScale: 0.5 });
  t.diagnostic(`random-resized crop, 1 epoch: ${r2.testAccuracy}`);
  assert.ok(r2.testAccuracy > 0.5, `random-resized crop run: ${r2.testAccuracy}`);
});

test('a corrupt image is skipped with a warning naming it and counted in the summary', async (t) => {
  const root = tempDir(t, 'dsx-if-bad-');
  const data = join(root, 'data');
  await writePatternFolder(data, 6, 3);
  // a real JPEG cut in half, and a text file with an image extension
  const good = readFileSync(join(data, 'train', 'vertical', 'img000.jpg'));
  writeFileSync(join(data, 'train', 'vertical', 'img000.jpg'), good.subarray(0, good.length >> 1));
  writeFileSync(join(data, 'val', 'checker', 'notes.png'), 'not an image\n');
  const r = await runCli(
    ['train', '--model', 'resnet20', '--dataset', `imagefolder:${data}`, '--input-size', '32', '--epochs', '1', '--threads', '2', '--json'],
    { DSXPLORE_CACHE_DIR: join(root, 'cache') },
  );
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, new RegExp(`warning: imagefolder: skipped ${join(data, 'train', 'vertical', 'img000.jpg')}: cannot decode it`));
  assert.match(r.err, new RegExp(`warning: imagefolder: skipped ${join(data, 'val', 'checker', 'notes.png')}`));
  const ds = lines(r.out).find((e) => e.type === 'dataset')!;
  assert.equal(ds.skipped, 2);
  assert.deepEqual(ds.skippedFiles.map((f: { file: string }) => f.file), [join('vertical', 'img000.jpg'), join('checker', 'notes.png')]);
  assert.equal(ds.train, 17);
  assert.equal(ds.test, 9);
  assert.ok(!/at .*\.ts:\d+/.test(r.err), 'a stack trace was printed');
});

test('folder layout errors name the folder and exit 2: missing train/, empty class, classes differ', async (t) => {
  const root = tempDir(t, 'dsx-if-layout-');
  const run = (dir: string) =>
    runCli(['train', '--model', 'resnet20', '--dataset', `imagefolder:${dir}`, '--input-size', '32', '--epochs', '1'], {
      DSXPLORE_CACHE_DIR: join(root, 'cache'),
    });
  const noTrain = join(root, 'no-train');
  await writePatternImage(join(noTrain, 'val'), 'vertical', 0, 1);
  let r = await run(noTrain);
  assert.equal(r.code, 2);
  assert.match(r.err, new RegExp(`missing ${join(noTrain, 'train')}/`));

  const empty = join(root, 'empty');
  await writePatternFolder(empty, 2, 2);
  mkdirSync(join(empty, 'train', 'zebra'));
  mkdirSync(join(empty, 'val', 'zebra'));
  writeFileSync(join(empty, 'train', 'zebra', 'readme.txt'), 'no images here');
  r = await run(empty);
  assert.equal(r.code, 2);
  assert.match(r.err, new RegExp(`class folder ${join(empty, 'train', 'zebra')}/ has no images`));

  const differ = join(root, 'differ');
  await writePatternFolder(differ, 2, 2);
  rmSync(join(differ, 'val', 'horizontal'), { recursive: true });
  r = await run(differ);
  assert.equal(r.code, 2);
  assert.match(r.err, new RegExp(`the classes of ${join(differ, 'val')}/ differ from those of ${join(differ, 'train')}/ \\(missing horizontal\\)`));
  assert.doesNotMatch(r.err, /DSXPLORE_DEBUG/);

  r = await runCli(['train', '--model', 'resnet20', '--dataset', `imagefolder:${differ}`, '--input-size', '16', '--epochs', '1']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--input-size: must be a whole number in 32\.\.1024/);
});

test('cache: rebuilt after a file changes, read back memory-mapped above the memory budget', async (t) => {
  const root = tempDir(t, 'dsx-if-cache-');
  const data = join(root, 'data');
  await writePatternFolder(data, 5, 2);
  const opts = { inputSize: 40, imageFolder: { cacheDir: join(root, 'cache'), threads: 2 } };
  const a = await openDataset(`imagefolder:${data}`, opts);
  assert.equal(a.imageFolder!.train.decoded, 15);
  assert.equal(a.imageFolder!.test.decoded, 6);
  assert.deepEqual(a.train.shape, [3, 40, 40]);
  const b = await openDataset(`imagefolder:${data}`, opts);
  assert.equal(b.imageFolder!.train.decoded + b.imageFolder!.test.decoded, 0);
  assert.deepEqual(b.train.images, a.train.images);
  assert.deepEqual(b.train.labels, a.train.labels);
  // another input size is another cache
  const c = await openDataset(`imagefolder:${data}`, { ...opts, inputSize: 32 });
  assert.equal(c.imageFolder!.train.decoded, 15);
  // rewrite one training image (new content, new mtime): the train split is decoded anew
  await writePatternImage(join(data, 'train'), 'checker', 0, 99);
  const later = new Date(Date.now() + 5000);
  utimesSync(join(data, 'train', 'checker', 'img000.jpg'), later, later);
  const d = await openDataset(`imagefolder:${data}`, opts);
  assert.equal(d.imageFolder!.train.decoded, 15);
  assert.equal(d.imageFolder!.test.decoded, 0);
  assert.notDeepEqual(d.train.images.subarray(0, 4800), a.train.images.subarray(0, 4800));
  // a budget smaller than the decoded images: memory-mapped, same bytes
  const m = await openDataset(`imagefolder:${data}`, { ...opts, imageFolder: { ...opts.imageFolder, memoryBudget: 1000 } });
  assert.equal(m.imageFolder!.train.mapped, true);
  assert.equal(m.imageFolder!.train.decoded, 0);
  assert.deepEqual(m.train.images, d.train.images);
  // the trainer reads the mapped file as it reads memory: the same run, the same numbers
  const spec = buildModel('resnet20', { inputSize: 40, classes: 3, variants: { kind: 'dw-scc', cg: 2, co: 0.5 } });
  const recipe = resolveRecipe({ epochs: 1, batchSize: 5, threads: 2 }, datasetInfo(`imagefolder:${data}`, { inputSize: 40 }));
  const fromMap = await train({ spec, recipe, train: m.train, test: m.test, device: 'cpu' });
  const fromMemory = await train({ spec, recipe, train: d.train, test: d.test, device: 'cpu' });
  assert.equal(fromMap.status, 'done');
  assert.equal(fromMap.trainLoss, fromMemory.trainLoss);
  assert.equal(fromMap.testAccuracy, fromMemory.testAccuracy);
});

test('an image folder in a sweep (imagenet stem, dataset.inputSize) and train --save / evaluate --load', async (t) => {
  const root = tempDir(t, 'dsx-if-sweep-');
  const data = join(root, 'data');
  await writePatternFolder(data, 8, 4);
  const env = { DSXPLORE_CACHE_DIR: join(root, 'cache') };
  const config = {
    name: 'folder-sweep',
    model: 'resnet18',
    stem: 'imagenet',
    dataset: { name: `imagefolder:${data}`, inputSize: 48 },
    recipe: { epochs: 1, batchSize: 8, threads: 2 },
    space: { variants: ['dw-scc'], cg: [2], co: [0.5] },
    search: { kind: 'grid' },
    baselines: false,
  };
  writeFileSync(join(root, 'folder-sweep.json'), JSON.stringify(config));
  // trials crop with the padding of the configured size (48/8), not of the default 224
  assert.deepEqual(trialRecipe(parseSweepConfig(config), 1, 0).augment, { cropPadding: 6, flip: true });
  const s = await runCli(['sweep', '--config', join(root, 'folder-sweep.json'), '--db', join(root, 'r.db'), '--json'], env);
  assert.equal(s.code, 0, s.err);
  const sweepEvents = lines(s.out);
  const end = sweepEvents.find((e) => e.type === 'trial-end')!;
  assert.equal(end.state, 'done');
  // the sweep built ResNet-18 with the imagenet stem at 48 px for the folder's 3 classes
  const spec = buildModel('resnet18', { inputSize: 48, classes: 3, stem: 'imagenet', variants: { kind: 'dw-scc', cg: 2, co: 0.5 } });
  assert.equal(end.macs, countTotals(spec).macs);
  assert.equal(end.params, countTotals(spec).params);
  assert.deepEqual(sweepEvents.find((e) => e.type === 'result')!.counts.done, 1);

  const ckpt = join(root, 'w.dsx');
  const tr = await runCli(
    ['train', '--model', 'resnet18', '--stem', 'imagenet', '--variant', 'dw-scc:cg=2,co=0.5', '--dataset', `imagefolder:${data}`,
      '--input-size', '48', '--epochs', '1', '--batch-size', '8', '--threads', '2', '--save', ckpt, '--json'],
    env,
  );
  assert.equal(tr.code, 0, tr.err);
  const trained = lines(tr.out).find((e) => e.type === 'result')!;
  // the evaluation decodes at the checkpoint's input size, from the cache
  const ev = await runCli(['evaluate', '--load', ckpt, '--threads', '2', '--json'], env);
  assert.equal(ev.code, 0, ev.err);
  const evaluated = lines(ev.out).find((e) => e.type === 'result')!;
  assert.equal(evaluated.count, 12);
  assert.ok(Math.abs(evaluated.testAccuracy - trained.testAccuracy) < 1e-9, `${evaluated.testAccuracy} vs ${trained.testAccuracy}`);
  assert.equal(lines(ev.out).some((e) => e.type === 'decode'), false);
});
