// The real ModelAccess: the model zoo (src/models) and the cost model (src/cost) for the
// model and dataset a sweep config names. The dataset gives the input shape and classes.
import type { SweepConfig } from '../config/sweep.js';
import { compileCost, countTotals } from '../cost/index.js';
import { datasetInfo, parseDatasetRef } from '../data/index.js';
import { buildModel, slotsOf, specHash, type ModelOptions } from '../models/index.js';
import type { ModelAccess } from './space.js';

/** Model options (input channels, size, classes) implied by a sweep config's dataset, and its stem. */
export function modelOptionsFor(config: Pick<SweepConfig, 'dataset' | 'stem'>): ModelOptions {
  const info = datasetInfo(parseDatasetRef(config.dataset.name, { inputSize: config.dataset.inputSize }));
  return { inChannels: info.shape[0], inputSize: info.shape[1], classes: info.classes, stem: config.stem ?? 'cifar' };
}

export function modelAccess(model: string, opts: ModelOptions): ModelAccess {
  const skeleton = slotsOf(model, opts);
  const compiled = compileCost(model, opts);
  return {
    model,
    slots: skeleton.slots,
    fixed: { macs: compiled.fixed.macs, params: compiled.fixed.params },
    build: (variants) => buildModel(model, { ...opts, variants }),
    hash: specHash,
    cost: (spec) => {
      const t = countTotals(spec);
      return { macs: t.macs, params: t.params };
    },
  };
}

export function modelAccessFor(config: Pick<SweepConfig, 'model' | 'dataset' | 'stem'>): ModelAccess {
  return modelAccess(config.model, modelOptionsFor(config));
}
