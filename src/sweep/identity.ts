// What makes two trainings the same: the resolved recipe of a trial (the sweep's recipe at
// the trial's epochs and seed) and the hash that, with the candidate, epochs and seed,
// decides whether an earlier result may be reused instead of training again.
import { createHash } from 'node:crypto';
import type { SweepConfig } from '../config/sweep.js';
import { resolveRecipe } from '../config/recipe.js';
import { canonicalJson } from '../models/hash.js';
import { parseDatasetRef } from '../data/index.js';
import type { TrainRecipe } from '../engine/types.js';

/** The recipe a trial trains with. */
export function trialRecipe(config: SweepConfig, epochs: number, seed: number): TrainRecipe {
  // an image folder's size decides its default crop padding
  const ref = parseDatasetRef(config.dataset.name, { inputSize: config.dataset.inputSize });
  return resolveRecipe({ ...config.recipe, epochs, seed }, ref, 'recipe');
}

/** Epochs of each rung: the multi-fidelity rungs, or the recipe's epochs as a single rung. */
export function rungEpochs(config: SweepConfig): number[] {
  if (config.multiFidelity) return [...config.multiFidelity.rungs];
  return [trialRecipe(config, config.recipe.epochs ?? 1, 0).epochs];
}

/**
 * Hash of everything besides the spec, epochs and seed that decides a trial's result:
 * the resolved recipe (threads excluded: they change speed, not meaning) and the data it
 * trains and is ranked on. The data folder is left out: the same files elsewhere are the
 * same data.
 */
export function recipeHash(config: SweepConfig, recipe: TrainRecipe): string {
  const { seed: _seed, threads: _threads, epochs: _epochs, ...rest } = recipe;
  const identity = {
    v: 1,
    recipe: rest,
    epochs: recipe.epochs,
    dataset: {
      name: config.dataset.name,
      limitTrain: config.dataset.limitTrain ?? null,
      limitTest: config.dataset.limitTest ?? null,
      validation: config.dataset.validation ?? null,
      // only when given, so that the hashes of sweeps without it stay as they were
      ...(config.dataset.inputSize !== undefined ? { inputSize: config.dataset.inputSize } : {}),
    },
  };
  return createHash('sha256').update(canonicalJson(identity)).digest('hex');
}

/** Hash of a validated config, to notice a config that changed under --resume. Where the
 * data lives (dataset.dataDir) is not part of what the sweep means, so it is left out. */
export function configHash(config: SweepConfig): string {
  const { dataDir: _dir, ...dataset } = config.dataset;
  return createHash('sha256').update(canonicalJson({ ...config, dataset })).digest('hex');
}
