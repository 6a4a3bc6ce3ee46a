// The ready-made configs in configs/: each one validates and plans (space size, baselines,
// first round) exactly as `dsxplore sweep` would before training, and the quickstart stays
// small enough for two CPU cores.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writePatternFolder } from './helpers/image-folder.js';
import { loadSweepConfig } from '../src/config/sweep.js';
import { planSweep } from '../src/space/index.js';
import { datasetInfo } from '../src/data/index.js';
import { rungEpochs } from '../src/sweep/identity.js';
import { DEFAULT_MAX_CANDIDATES } from '../src/commands/sweep.js';

const dir = resolve(import.meta.dirname, '..', 'configs');
const files = readdirSync(dir).filter((f) => /\.(json|ya?ml)$/.test(f));

test('configs/ holds the quickstart, the three paper-style CIFAR-10 sweeps and the image-folder example', () => {
  for (const f of ['quickstart.json', 'vgg16-cifar10.json', 'resnet18-cifar10.json', 'mobilenet-cifar10.json', 'imagefolder-example.json']) {
    assert.ok(files.includes(f), f);
  }
});

// an imagefolder config names a folder relative to where dsxplore runs: the test writes a
// small one there (in a temporary working directory) so the config can be planned
async function prepareImageFolder(file: string): Promise<void> {
  const name: string = JSON.parse(readFileSync(file, 'utf8')).dataset.name;
  if (!name.startsWith('imagefolder:')) return;
  const cwd = mkdtempSync(join(tmpdir(), 'dsx-cfg-'));
  process.on('exit', () => rmSync(cwd, { recursive: true, force: true }));
  await writePatternFolder(resolve(cwd, name.slice('imagefolder:'.length)), 2, 1);
  process.chdir(cwd);
}

for (const f of files) {
  test(`${f} validates and plans within --max-candidates`, async () => {
    await prepareImageFolder(join(dir, f));
    const config = loadSweepConfig(join(dir, f));
    assert.equal(`${config.name}.json`, f, 'the sweep is named after its file');
    const plan = planSweep(config, { maxCandidates: DEFAULT_MAX_CANDIDATES });
    const first = plan.search.initial();
    assert.ok(first.length > 0);
    assert.ok(plan.size >= BigInt(first.length));
    assert.ok(plan.baselines.some((b) => b.label === 'std' || b.label === 'dw-pw'), 'baselines are included');
    assert.deepEqual(plan.skippedBaselines, []);
  });
}

for (const f of ['vgg16-cifar10.json', 'resnet18-cifar10.json', 'mobilenet-cifar10.json']) {
  test(`${f} explores the paper's cg and co values on CIFAR-10`, () => {
    const c = loadSweepConfig(join(dir, f));
    assert.equal(c.dataset.name, 'cifar10');
    assert.deepEqual(c.space.cg, [1, 2, 4, 8]);
    assert.deepEqual(c.space.co, [0.25, 0.33, 0.5, 0.75]);
    assert.ok(c.search.kind === 'grid' || c.search.kind === 'evolutionary');
  });
}

test('the quickstart is ResNet-20 on MNIST, a small random dw-scc search with baselines, sized for 2 CPU cores', () => {
  const c = loadSweepConfig(join(dir, 'quickstart.json'));
  assert.equal(c.model, 'resnet20');
  assert.equal(c.dataset.name, 'mnist');
  assert.equal(c.search.kind, 'random');
  assert.deepEqual(c.space.variants, ['dw-scc']);
  assert.deepEqual(c.space.cg, [2, 4]);
  assert.deepEqual(c.space.co, [0.25, 0.5, 0.75]);
  const plan = planSweep(c);
  const all = [...plan.baselines, ...plan.search.initial()];
  // the work: every trial trains its images forward and backward (~3 forward passes) and
  // evaluates the test set once per epoch
  const info = datasetInfo(c.dataset.name);
  assert.ok(info.trainCount !== undefined && info.testCount !== undefined, 'MNIST has fixed image counts');
  const trainImages = c.dataset.limitTrain ?? info.trainCount;
  const testImages = c.dataset.limitTest ?? info.testCount;
  const epochs = rungEpochs(c).reduce((a, b) => a + b, 0);
  const macs = all.reduce((s, cand) => s + cand.macs * epochs * (3 * trainImages + testImages) * c.seeds.length, 0);
  // 2 CPU cores sustained 8.4 GMAC/s over a whole quickstart (2.4 TMAC in 290 s, Xeon, 2026-11-28):
  // 5 TMAC keeps it near 10 minutes, inside the 15 the README promises
  assert.ok(macs < 5e12, `quickstart needs ${(macs / 1e12).toFixed(2)} TMAC`);
});

test('the image-folder example: ResNet-18 with the imagenet stem at 112 px, classes from the folder', async () => {
  await prepareImageFolder(join(dir, 'imagefolder-example.json'));
  const c = loadSweepConfig(join(dir, 'imagefolder-example.json'));
  assert.equal(c.stem, 'imagenet');
  assert.equal(c.dataset.inputSize, 112);
  const plan = planSweep(c);
  const spec = plan.baselines[0]!.spec;
  assert.deepEqual(spec.inputShape, [3, 112, 112]);
  assert.equal(spec.classes, 3);
  assert.equal(spec.stem, 'imagenet');
  assert.equal(spec.layers[0]!.op === 'conv2d' && spec.layers[0]!.kernel, 7);
});
