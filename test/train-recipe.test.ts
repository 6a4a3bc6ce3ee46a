// The training recipe schema: defaults (some per dataset), validation errors that name the
// field (or the CLI flag) and the allowed values, and merging CLI flags over a base recipe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recipeFromFlags, resolveRecipe } from '../src/config/recipe.js';
import { UsageError } from '../src/errors.js';

const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);

test('defaults: SGD momentum 0.9, wd 5e-4 not on BN/bias, cosine, batch 128, seed 0, all threads', () => {
  const r = resolveRecipe({}, 'cifar10');
  assert.equal(r.momentum, 0.9);
  assert.equal(r.nesterov, false);
  assert.equal(r.weightDecay, 5e-4);
  assert.equal(r.decayBnAndBias, false);
  assert.deepEqual(r.schedule, { kind: 'cosine' });
  assert.equal(r.warmupEpochs, 0);
  assert.equal(r.batchSize, 128);
  assert.equal(r.seed, 0);
  assert.equal(r.threads, 0);
});

test('augmentation defaults depend on the dataset: no flips for digits, flips and pad 4 for cifar10', () => {
  assert.deepEqual(resolveRecipe({}, 'cifar10').augment, { cropPadding: 4, flip: true });
  assert.equal(resolveRecipe({}, 'mnist').augment.flip, false);
  assert.equal(resolveRecipe({}, 'fashion-mnist').augment.flip, false);
  assert.deepEqual(resolveRecipe({ augment: { flip: true } }, 'mnist').augment, { cropPadding: 2, flip: true });
  assert.equal(resolveRecipe({}, 'synthetic:size=8').augment.cropPadding, 0);
});

test('step schedule: explicit milestones, or 50%/75% of the epochs by default', () => {
  assert.deepEqual(resolveRecipe({ epochs: 20, schedule: 'step' }, 'mnist').schedule, { kind: 'step', milestones: [10, 15], gamma: 0.1 });
  assert.deepEqual(resolveRecipe({ epochs: 20, schedule: { kind: 'step', milestones: [3, 9], gamma: 0.5 } }, 'mnist').schedule, {
    kind: 'step',
    milestones: [3, 9],
    gamma: 0.5,
  });
  assert.throws(() => resolveRecipe({ epochs: 20, schedule: { kind: 'step', milestones: [9, 3] } }, 'mnist'), usage(/milestones: must be increasing/));
});

test('errors name the field, what it accepts and what was given', () => {
  assert.throws(() => resolveRecipe({ lr: 0 }, 'mnist'), usage(/^recipe\.lr: must be a number > 0 \(got 0\)$/));
  assert.throws(() => resolveRecipe({ batchSize: 12.5 }, 'mnist'), usage(/recipe\.batchSize: must be an integer in 1\.\.65536 \(got 12\.5\)/));
  assert.throws(() => resolveRecipe({ momentum: 1 }, 'mnist'), usage(/recipe\.momentum: must be a number in \[0, 1\)/));
  assert.throws(() => resolveRecipe({ schedule: 'linear' }, 'mnist'), usage(/recipe\.schedule: must be one of "constant", "cosine", "step"/));
  assert.throws(() => resolveRecipe({ nesterov: 'yes' }, 'mnist'), usage(/recipe\.nesterov: must be true or false/));
  assert.throws(() => resolveRecipe({ learningRate: 0.1 }, 'mnist'), usage(/unknown field "learningRate"; allowed fields: epochs, batchSize, lr/));
  assert.throws(() => resolveRecipe({ augment: { mixup: 1 } }, 'mnist'), usage(/recipe\.augment: unknown field "mixup"; allowed fields: cropPadding, flip/));
  assert.throws(() => resolveRecipe({ epochs: 2, warmupEpochs: 3 }, 'mnist'), usage(/warmupEpochs: must not exceed epochs \(2\)/));
  assert.throws(() => resolveRecipe({ augment: { cropPadding: 8 } }, 'synthetic:size=8'), usage(/cropPadding: must be smaller than the image size 8/));
  // a caller (e.g. a sweep config) may prefix the path with where the recipe sits
  assert.throws(() => resolveRecipe({ seed: -1 }, 'mnist', 'config.recipe'), usage(/^config\.recipe\.seed: must be an integer in 0\.\.2147483647/));
  // several problems are all reported
  assert.throws(() => resolveRecipe({ lr: -1, threads: -2 }, 'mnist'), usage(/recipe\.lr[^]*recipe\.threads/));
});

test('CLI flags: strings converted, errors name the flag, flags override a base recipe', () => {
  const r = recipeFromFlags({ epochs: '3', lr: '0.02', batchSize: '64', nesterov: true, warmup: '0.5', cropPadding: '0', threads: '2' }, 'mnist', {
    lr: 0.5,
    momentum: 0.8,
  });
  assert.equal(r.epochs, 3);
  assert.equal(r.lr, 0.02);
  assert.equal(r.momentum, 0.8); // from the base, untouched by flags
  assert.equal(r.batchSize, 64);
  assert.equal(r.nesterov, true);
  assert.equal(r.warmupEpochs, 0.5);
  assert.deepEqual(r.augment, { cropPadding: 0, flip: false });
  assert.equal(r.threads, 2);
  assert.deepEqual(recipeFromFlags({ epochs: '8', milestones: '2,6', gamma: '0.2' }, 'mnist').schedule, {
    kind: 'step',
    milestones: [2, 6],
    gamma: 0.2,
  });
  assert.deepEqual(recipeFromFlags({ flip: false }, 'cifar10').augment, { cropPadding: 4, flip: false });
  assert.throws(() => recipeFromFlags({ lr: 'fast' }, 'mnist'), usage(/^--lr: must be a number > 0 \(got "fast"\)$/));
  assert.throws(() => recipeFromFlags({ batchSize: '0' }, 'mnist'), usage(/^--batch-size: /));
  assert.throws(() => recipeFromFlags({ schedule: 'poly' }, 'mnist'), usage(/^--schedule: must be one of/));
  assert.throws(() => recipeFromFlags({ schedule: 'cosine', gamma: '0.5' }, 'mnist'), usage(/--gamma need --schedule step/));
});
