// The ready-made configs in configs/: each one validates and plans (space size, baselines,
// first round) exactly as `dsxplore sweep` would before training, and the quickstart stays
// small enough for two CPU cores.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writePatternFolder } from './helpers/image-folder.js';
import { loadSweepConfig } from '../src/config/sweep.js';
import { planSweep } from '../src/space/index.js';
import { datasetInfo } from '../src/data/index.js';
import { seedsAt } from '../src/sweep/schedule.js';
import { promotionCount } from '../src/space/halving.js';
import { DEFAULT_MAX_CANDIDATES } from '../src/commands/sweep.js';
import { parseSweepConfig } from '../src/config/sweep.js';
import { recipeHash, rungEpochs, trialRecipe } from '../src/sweep/identity.js';
import { spreadConfig } from '../scripts/measure-spread.js';

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

// The committed studies (configs/study-*.json) run at the same time, one thread each, on 2 cores, and each must
// finish in about 80 minutes. CPU milliseconds per training image at 1 thread, measured on
// this project's 2-core AMD EPYC VM on 2026-11-30 as the user CPU time of `dsxplore train
// --threads 1` on 2048 minus 128 Fashion-MNIST images (the machine was shared, so wall time
// was useless and these CPU times are if anything high); an evaluated image costs a third.
// Entries marked ~ are interpolated or scaled by MACs from measured neighbours.
// dw-gpw-shuffle:cg=8 against dw-gpw:cg=8 side by side (2026-12-07, same method, twice):
// 1.734 and 1.724 against 1.656 and 1.667 ms, +4.5%; scaled onto dw-gpw's 2.08
const DW_GPW_SHUFFLE_MS = 2.17;
const MS_PER_IMAGE: Record<string, Record<string, number>> = {
  resnet20: {
    std: 4.07,
    'gc-shuffle:g=2': 2.88,
    'gc-shuffle:g=4': 2.6, // ~
    'gc-shuffle:g=8': 2.38,
    'dw-pw': 1.73,
    'dw-gpw:cg=2': 2.08,
    'dw-gpw:cg=4': 2.08, // ~ as cg=2
    'dw-gpw:cg=8': 2.08, // ~ as cg=2
    // the shuffle adds a copy of the slot's output forward and backward (above)
    'dw-gpw-shuffle:cg=2': DW_GPW_SHUFFLE_MS, // ~ as cg=8
    'dw-gpw-shuffle:cg=4': DW_GPW_SHUFFLE_MS, // ~ as cg=8
    'dw-gpw-shuffle:cg=8': DW_GPW_SHUFFLE_MS,
    'dw-scc:cg=2': 1.66,
    'dw-scc:cg=4': 1.6, // ~
    'dw-scc:cg=8': 1.48,
  },
  mobilenetv1: {
    std: 60, // ~ 30 images/s on 2 threads
    'gc-shuffle:g=2': 30, // ~ by MACs
    'gc-shuffle:g=4': 15, // ~ by MACs
    'gc-shuffle:g=8': 10.66,
    'dw-pw': 7.13,
    'dw-gpw:cg=2': 4.59,
    'dw-gpw:cg=4': 4.9, // ~ as dw-scc (above cg=2's measured cost)
    'dw-gpw:cg=8': 3.78, // ~ as dw-scc
    'dw-scc:cg=2': 5.88,
    'dw-scc:cg=4': 4.9, // ~
    'dw-scc:cg=8': 3.78,
  },
};

function msPerImage(model: string, label: string): number {
  const key = label.startsWith('dw-scc') ? label.replace(/,.*$/, '') : label;
  const ms = MS_PER_IMAGE[model]?.[key];
  assert.ok(ms !== undefined, `no measured cost for ${model} ${key}: time it before adding it to a study`);
  return ms;
}

/** Minutes of one thread a study needs: every rung's candidates x seeds x epochs x images;
 * the contenders that climb are taken as the most expensive ones (an upper bound). */
function studyMinutes(file: string): { minutes: number; trials: number } {
  const c = loadSweepConfig(join(dir, file));
  const plan = planSweep(c);
  const info = datasetInfo(c.dataset.name);
  assert.ok(info.trainCount !== undefined && info.testCount !== undefined, `${c.dataset.name} has fixed image counts`);
  const images = (c.dataset.limitTrain ?? info.trainCount) + (c.dataset.limitTest ?? info.testCount) / 3;
  const rungs = rungEpochs(c);
  let contenders = plan.search.initial().map((x) => msPerImage(c.model, x.label)).sort((a, b) => b - a);
  const baselines = plan.baselines.map((b) => msPerImage(c.model, b.label));
  let ms = 0;
  let trials = 0;
  rungs.forEach((epochs, k) => {
    if (k > 0) contenders = contenders.slice(0, promotionCount(contenders.length, c.multiFidelity!.eta));
    const seeds = seedsAt(c, k).length;
    for (const m of [...contenders, ...baselines]) ms += m * images * epochs * seeds;
    trials += (contenders.length + baselines.length) * seeds;
  });
  return { minutes: ms / 60_000, trials };
}

for (const f of ['study-mobilenet.json']) {
  test(`${f}: Fashion-MNIST, cg {2,4,8} x co {0,.25,.5,.75}, two seeds where it counts, within 80 minutes on one thread`, (t) => {
    const c = loadSweepConfig(join(dir, f));
    assert.equal(c.dataset.name, 'fashion-mnist');
    assert.equal(c.search.kind, 'grid');
    assert.deepEqual(c.space.variants, ['dw-scc']);
    assert.deepEqual(c.space.cg, [2, 4, 8]);
    assert.deepEqual(c.space.co, [0, 0.25, 0.5, 0.75]);
    assert.equal(c.recipe.threads, 1, 'pinned: determinism depends on the thread count, and the plan runs both studies at once');
    assert.ok(c.seeds.length >= 2, 'two seeds at the last rung, for the baselines and the promoted SCC designs');
    assert.ok(rungEpochs(c).at(-1)! >= 3, 'several epochs at the last rung');
    assert.ok(existsSync(join(dir, f.replace(/\.json$/, '.md'))), 'the study\'s notes for its findings page');
    const { minutes, trials } = studyMinutes(f);
    // 10% for what the estimate leaves out (start-up, data loading, the store, two studies
    // sharing memory bandwidth)
    assert.ok(minutes * 1.1 <= 80, `${f}: about ${minutes.toFixed(0)} min of one thread (${trials} trials)`);
    t.diagnostic(`${f}: at most ${minutes.toFixed(0)} min of one thread, ${trials} trials`);
  });
}

// The ResNet-20 rerun (configs/study-resnet20.md): its previous run trained each design on
// 18,000 images for 3 epochs with 2 seeds, and halving could leave co = 0 out of the last rung.
const PREVIOUS_IMAGE_EPOCHS = 18_000 * 3;

test('study-resnet20.json: every design at the last rung with 3 seeds, twice the training, dw-gpw and dw-gpw-shuffle at every cg, within 2.5 h on 2 cores', (t) => {
  const c = loadSweepConfig(join(dir, 'study-resnet20.json'));
  assert.equal(c.dataset.name, 'fashion-mnist');
  assert.deepEqual(c.space.variants, ['dw-scc']);
  assert.deepEqual(c.space.cg, [2, 4, 8]);
  assert.deepEqual(c.space.co, [0, 0.25, 0.5, 0.75]);
  assert.equal(c.multiFidelity, undefined, 'no halving: co = 0 and every co > 0 reach the last rung at every cg');
  assert.ok(seedsAt(c, 0).length >= 3, 'at least 3 seeds for every design compared');
  assert.equal(c.recipe.threads, 1);
  const plan = planSweep(c);
  const labels = plan.baselines.map((b) => b.label);
  for (const cg of c.space.cg!) for (const k of ['dw-gpw', 'dw-gpw-shuffle']) assert.ok(labels.includes(`${k}:cg=${cg}`), `${k}:cg=${cg}`);
  const imageEpochs = c.dataset.limitTrain! * rungEpochs(c).at(-1)!;
  assert.ok(imageEpochs >= 2 * PREVIOUS_IMAGE_EPOCHS, `${imageEpochs} image-epochs per design, previously ${PREVIOUS_IMAGE_EPOCHS}`);
  const { minutes, trials } = studyMinutes('study-resnet20.json');
  // two trials at a time (--jobs 2), one thread each; 10% as above
  const wall = (minutes * 1.1) / 2;
  assert.ok(wall <= 150, `study-resnet20.json: about ${wall.toFixed(0)} min on 2 cores (${trials} trials)`);
  t.diagnostic(`study-resnet20.json: at most ${minutes.toFixed(0)} min of one thread, ${wall.toFixed(0)} min on 2 cores with 10% margin, ${trials} trials`);
});

test('scripts/measure-spread.ts trains exactly what the study\'s last rung trains, so the study reuses those trials', () => {
  const raw = JSON.parse(readFileSync(join(dir, 'study-resnet20.json'), 'utf8'));
  const spread = parseSweepConfig(spreadConfig(raw, 8, 0.5));
  const study = loadSweepConfig(join(dir, 'study-resnet20.json'));
  const epochs = rungEpochs(study).at(-1)!;
  assert.deepEqual(rungEpochs(spread), [epochs]);
  assert.deepEqual(seedsAt(spread, 0), seedsAt(study, rungEpochs(study).length - 1));
  for (const seed of seedsAt(spread, 0)) {
    assert.equal(recipeHash(spread, trialRecipe(spread, epochs, seed)), recipeHash(study, trialRecipe(study, epochs, seed)));
  }
  const sp = planSweep(spread);
  const all = planSweep(study);
  const hashes = new Set([...all.baselines, ...all.search.initial()].map((x) => x.hash));
  const mine = [...sp.baselines, ...sp.search.initial()];
  assert.deepEqual(mine.map((x) => x.label).sort(), ['dw-gpw:cg=8', 'dw-scc:cg=8,co=0.5']);
  for (const x of mine) assert.ok(hashes.has(x.hash), `${x.label} is a design of the study`);
});
