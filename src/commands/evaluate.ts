// `dsxplore evaluate`: reproduce the accuracy of a model saved by `train --save` (or kept by
// a sweep and written by `pareto export --weights`) on a dataset.
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { addFlags, DATA_DIR_FLAG, DATASET_FIELD_FLAGS, DEVICE_FLAG, flag, jsonFlag, parseFlags } from '../config/flags.js';
import { count, dataset, path } from '../config/rules.js';
import { datasetInfo, openDataset, parseDatasetRef, withFieldNames, withFieldNamesAsync } from '../data/index.js';
import type { Dataset } from '../domain/dataset.js';
import { loadCheckpoint } from '../engine/checkpoint.js';
import { specHash } from '../models/index.js';
import { formatDuration, ProgressReporter } from '../report/progress.js';
import { formatPercent } from '../report/format.js';

const EVALUATE_FLAGS = {
  load: flag('--load <file>', 'checkpoint written by dsxplore train --save', path(), { required: true }),
  dataset: flag('--dataset <name>', 'dataset (default: the one it was trained on)', dataset()),
  dataDir: DATA_DIR_FLAG,
  limitTest: flag('--limit-test <n>', 'evaluate on at most N test images', count(1, 2 ** 31 - 1)),
  batchSize: flag('--batch-size <n>', 'images per forward pass (default 256)', count(1, 65536)),
  threads: flag('--threads <n>', 'CPU threads, 0 = all cores', count(0, 4096), { default: '0' }),
  device: DEVICE_FLAG,
  json: jsonFlag('print one JSON object'),
};

function checkFits(data: Pick<Dataset, 'name' | 'shape' | 'classes'>, shape: [number, number, number], classes: number, what: string): void {
  if (data.shape.join('x') !== shape.join('x') || data.classes !== classes) {
    throw new UsageError(
      `${what}: the model expects ${shape.join('x')} images and ${classes} classes, ` +
        `dataset ${data.name} has ${data.shape.join('x')} and ${data.classes}`,
    );
  }
}

async function runEvaluate(raw: unknown): Promise<void> {
  const flags = parseFlags(EVALUATE_FLAGS, raw);
  const ckpt = loadCheckpoint(flags.load);
  const { spec } = ckpt.header;
  const dataset = flags.dataset ?? ckpt.header.dataset.name;
  // an image folder is decoded at the size the network was trained at
  const ref = withFieldNames(DATASET_FIELD_FLAGS, () =>
    parseDatasetRef(dataset, dataset.trim().toLowerCase().startsWith('imagefolder:') ? { inputSize: spec.inputShape[1] } : {}),
  );
  const { device, threads, limitTest } = flags;
  const batchSize = flags.batchSize ?? 256;
  // refused before any image is read or generated
  checkFits(withFieldNames(DATASET_FIELD_FLAGS, () => datasetInfo(ref)), spec.inputShape, spec.classes, flags.load);
  const data = await withFieldNamesAsync(DATASET_FIELD_FLAGS, () =>
    openDataset(ref, { dataDir: flags.dataDir, limitTest, imageFolder: new ProgressReporter({ json: flags.json }).decoding() }),
  );
  // the weights expect the normalisation they were trained with, not this load's statistics
  const test: Dataset = { ...data.test, mean: [...ckpt.header.dataset.mean], std: [...ckpt.header.dataset.std] };
  checkFits(test, spec.inputShape, spec.classes, flags.load);
  const engine = await import('../engine/index.js');
  let needed: number;
  try {
    needed = engine.stateSize(spec);
  } catch (err) {
    // a spec the engine cannot build (written by another version, or edited by hand)
    throw new UsageError(`${flags.load}: its model spec cannot be built by this dsxplore: ${(err as Error).message}`);
  }
  if (needed !== ckpt.state.length) {
    throw new UsageError(
      `${flags.load} holds ${ckpt.state.length} values but its model spec needs ${needed}; ` +
        `it was written by a different dsxplore (${ckpt.header.dsxploreVersion}); train it again with --save`,
    );
  }
  const ev = await engine.evaluate({ spec, state: ckpt.state, data: test, device, threads, batchSize });
  const reporter = new ProgressReporter({ json: flags.json });
  reporter.result(
    {
      status: 'done',
      model: spec.model,
      dataset,
      specHash: specHash(spec),
      testAccuracy: ev.accuracy,
      testLoss: ev.loss,
      count: ev.count,
      seconds: ev.seconds,
      checkpoint: flags.load,
      savedMetrics: ckpt.header.metrics ?? null,
    },
    `${flags.load} (${spec.model}) on ${dataset}: test accuracy ${formatPercent(ev.accuracy)} (loss ${ev.loss.toFixed(4)}) ` +
      `over ${ev.count} images in ${formatDuration(ev.seconds)}`,
  );
}

export function registerEvaluate(program: Command): void {
  const cmd = program.command('evaluate').description('evaluate a model saved by `dsxplore train --save` on a dataset');
  addFlags(cmd, EVALUATE_FLAGS).action(async (flags: unknown) => runEvaluate(flags));
}
