// The native trainer through the engine API: it learns, it is deterministic, it reports
// divergence instead of crashing, evaluate() reproduces its accuracy, schedules follow the
// recipe, and the event loop stays free while it runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, stateSize, train } from '../src/engine/index.js';
import type { TrainProgress } from '../src/domain/metrics.js';
import type { TrainRecipe } from '../src/engine/types.js';
import { loadDataset } from '../src/data/index.js';
import { tinyResnet } from './net-fixtures.js';

const data = loadDataset('synthetic:c=1,size=12,classes=4,train=256,test=128,seed=5');
const spec = tinyResnet([1, 12, 12], 4, 8);

function recipe(over: Partial<TrainRecipe> = {}): TrainRecipe {
  return {
    epochs: 4,
    batchSize: 32,
    lr: 0.05,
    momentum: 0.9,
    nesterov: false,
    weightDecay: 5e-4,
    decayBnAndBias: false,
    schedule: { kind: 'cosine' },
    warmupEpochs: 0,
    seed: 1,
    threads: 2,
    augment: { cropPadding: 1, flip: false },
    ...over,
  };
}

test('a tiny residual net learns the synthetic task, and evaluate() reproduces its accuracy', async () => {
  const progress: TrainProgress[] = [];
  const r = await train({
    spec,
    recipe: recipe(),
    train: data.train,
    test: data.test,
    device: 'cpu',
    keepState: true,
    onProgress: (p) => progress.push(p),
  });
  assert.equal(r.status, 'done');
  assert.equal(r.device, 'cpu');
  assert.equal(r.threads, 2);
  assert.equal(r.epochs.length, 4);
  // chance is 25% and ln(4) = 1.386; a working trainer gets well past both in 4 epochs
  const first = r.epochs[0]!.trainLoss;
  const last = r.epochs[3]!.trainLoss;
  assert.ok(last < 0.7 * first, `train loss ${first} -> ${last}`);
  assert.ok(r.testAccuracy >= 0.6, `test accuracy ${r.testAccuracy}`);
  assert.equal(r.testAccuracy, r.epochs[3]!.testAccuracy);
  assert.ok(r.epochs.every((e) => e.testAccuracy !== undefined && e.seconds > 0));
  assert.ok(r.imagesPerSecond > 0 && r.seconds > 0);
  // progress: 8 batches per epoch, the last batch of every epoch is always reported
  assert.ok(progress.length >= 4);
  const ends = progress.filter((p) => p.batch === p.batches);
  assert.deepEqual(ends.map((p) => p.epoch), [1, 2, 3, 4]);
  assert.ok(ends.every((p) => p.batches === 8 && p.epochs === 4 && Number.isFinite(p.loss)));

  assert.equal(r.state!.length, stateSize(spec));
  // same batch size: the very same forward passes, so identical figures
  const same = await evaluate({ spec, state: r.state!, data: data.test, device: 'cpu', threads: 2, batchSize: 32 });
  assert.equal(same.accuracy, r.testAccuracy);
  assert.ok(Math.abs(same.loss - r.testLoss) <= 1e-6 * r.testLoss, `${same.loss} vs ${r.testLoss}`);
  assert.equal(same.count, 128);
  // another batch size changes only float summation order: loss within 1e-4 relative
  const big = await evaluate({ spec, state: r.state!, data: data.test, device: 'cpu', threads: 1, batchSize: 100 });
  assert.ok(Math.abs(big.accuracy - r.testAccuracy) <= 1 / 128);
  assert.ok(Math.abs(big.loss - r.testLoss) <= 1e-4 * r.testLoss);
});

test('same seed and threads give bit-identical training; another seed does not', async () => {
  const run = (seed: number) =>
    train({
      spec,
      recipe: recipe({ epochs: 2, seed, augment: { cropPadding: 2, flip: true } }),
      train: data.train,
      test: data.test,
      device: 'cpu',
      keepState: true,
    });
  const a = await run(11);
  const b = await run(11);
  const c = await run(12);
  assert.deepEqual(a.epochs.map((e) => e.trainLoss), b.epochs.map((e) => e.trainLoss));
  assert.deepEqual(a.state, b.state);
  assert.notDeepEqual(a.epochs.map((e) => e.trainLoss), c.epochs.map((e) => e.trainLoss));
});

test('a huge learning rate ends with status "diverged" and a message, not a crash', async () => {
  const r = await train({
    spec,
    recipe: recipe({ epochs: 3, lr: 1e12, momentum: 0.9, schedule: { kind: 'constant' } }),
    train: data.train,
    test: data.test,
    device: 'cpu',
    keepState: true,
  });
  assert.equal(r.status, 'diverged');
  assert.match(r.message ?? '', /NaN|infinite/);
  assert.match(r.message ?? '', /learning rate/);
  assert.equal(r.state, undefined);
  assert.ok(r.epochs.length >= 1);
});

test('learning-rate schedules: step milestones, warm-up, cosine, as reported per epoch', async () => {
  const tinyTrain = { ...data.train, count: 64 }; // 2 batches of 32 per epoch
  const run = async (over: Partial<TrainRecipe>) =>
    (await train({ spec, recipe: recipe({ epochs: 3, lr: 0.1, ...over }), train: tinyTrain, test: data.test, device: 'cpu', evalLastOnly: true })).epochs;
  const step = await run({ schedule: { kind: 'step', milestones: [1, 2], gamma: 0.1 } });
  for (const [i, want] of [0.1, 0.01, 0.001].entries()) assert.ok(Math.abs(step[i]!.lr - want) < 1e-12, `epoch ${i + 1}: ${step[i]!.lr}`);
  // linear warm-up over one epoch (2 steps): the first step runs at lr/2
  const warm = await run({ schedule: { kind: 'constant' }, warmupEpochs: 1 });
  assert.ok(Math.abs(warm[0]!.lr - 0.05) < 1e-12 && Math.abs(warm[1]!.lr - 0.1) < 1e-12);
  // cosine per step over 6 steps: epoch e starts at step 2e
  const cos = await run({ schedule: { kind: 'cosine' } });
  for (const [i, e] of cos.entries()) {
    assert.ok(Math.abs(e.lr - 0.05 * (1 + Math.cos((Math.PI * 2 * i) / 6))) < 1e-12);
  }
  // evalLastOnly: only the last epoch carries test figures
  assert.deepEqual(cos.map((e) => e.testAccuracy !== undefined), [false, false, true]);
});

test('training runs off the main thread: timers fire while it trains', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const r = await train({ spec, recipe: recipe({ epochs: 2 }), train: data.train, test: data.test, device: 'cpu' });
  clearInterval(timer);
  assert.equal(r.status, 'done');
  // a blocked loop would see at most one tick; a free one sees most of seconds / 5 ms
  const expected = r.seconds / 0.005;
  assert.ok(ticks >= Math.max(2, 0.25 * expected), `only ${ticks} timer ticks during ${r.seconds}s of training`);
});

test('native errors come back as rejected promises with a useful message', async () => {
  const wrongShape = { ...data.test, shape: [3, 12, 12] as [number, number, number], count: 10 };
  await assert.rejects(
    train({ spec, recipe: recipe({ epochs: 1 }), train: data.train, test: wrongShape, device: 'cpu' }),
    /test data images are \[3,12,12\] but the model expects \[1,12,12\]/,
  );
  await assert.rejects(
    evaluate({ spec, state: new Float32Array(5), data: data.test, device: 'cpu', threads: 1 }),
    /state has 5 values but this model needs \d+/,
  );
  await assert.rejects(
    train({ spec, recipe: recipe({ epochs: 1 }), train: data.train, test: data.test, device: 'gpu7' as never }),
    /unknown device 'gpu7'/,
  );
});

test('device "auto" trains on CUDA when the build and machine have it, else on the CPU', async () => {
  const r = await train({ spec, recipe: recipe({ epochs: 1 }), train: { ...data.train, count: 64 }, test: data.test, device: 'auto' });
  assert.equal(r.status, 'done');
  assert.match(r.device, /^(cpu|cuda:\d+)$/);
});

test('the last partial batch is used unless it holds a single image (batch norm needs two)', async () => {
  const batchesFor = async (count: number) => {
    let batches = 0;
    const r = await train({
      spec,
      recipe: recipe({ epochs: 1 }),
      train: { ...data.train, count },
      test: { ...data.test, count: 0 },
      device: 'cpu',
      onProgress: (p) => (batches = p.batches),
    });
    assert.equal(r.status, 'done');
    return batches;
  };
  assert.equal(await batchesFor(64), 2);
  assert.equal(await batchesFor(65), 2);
  assert.equal(await batchesFor(66), 3);
});
