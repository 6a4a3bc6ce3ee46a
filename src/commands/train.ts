// `dsxplore train` and `dsxplore evaluate`: train one model/variant on one dataset with the
// native engine (live progress on a terminal, JSON lines when piped or with --json), save
// the trained state with its spec, and reproduce the accuracy from a saved file.
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError, OutcomeError } from '../errors.js';
import type { z } from 'zod';
import { recipeFromFlags } from '../config/recipe.js';
import { evaluateFlagsSchema, parseFlags, trainFlagsSchema } from '../config/flags.js';
import { datasetInfo, DATASET_FORMS, describeDatasets, parseDatasetRef, renameFields, withFieldNames } from '../data/index.js';
import { DATASET_FLAGS, loadForCli } from './dataset-load.js';
import type { Dataset } from '../domain/dataset.js';
import type { EpochMetrics, TrainProgress } from '../domain/metrics.js';
import type { TrainResult } from '../engine/types.js';
import { loadCheckpoint, saveCheckpoint } from '../engine/checkpoint.js';
import { countTotals } from '../cost/index.js';
import { baselineVariant, buildModel, formatVariant, imagenetStemModels, listModels, parseVariant, specHash, STEMS, VARIANT_FORMS } from '../models/index.js';
import { formatDuration, ProgressReporter } from '../report/progress.js';

/** Raised when training ended without a usable model (diverged); the CLI exits non-zero. */
export class TrainingFailed extends OutcomeError {
  override name = 'TrainingFailed';
}

const TRAIN_HELP = `
Datasets:
  ${describeDatasets().map((d) => renameFields(d, DATASET_FLAGS)).join('\n  ')}
  Image folders are decoded once in worker threads and cached ($DSXPLORE_CACHE_DIR, default
  ~/.cache/dsxplore); files that cannot be decoded are skipped with a warning.
Stems: --stem imagenet gives ${imagenetStemModels().join(', ')} torchvision's ImageNet stem.
Variants: ${VARIANT_FORMS.join(', ')} (default: the model's baseline).
Recipe defaults: SGD momentum 0.9, weight decay 5e-4 (not on BN/bias), cosine schedule,
  batch 128, lr 0.1, crop padding 2 (digits) / 4 (cifar) / input size / 8 (imagefolder) /
  0 (synthetic), flip on for cifar and imagefolder; --resized-crop S uses a random-resized
  crop of at least S of the area instead of the padded crop.
Output: a live progress bar on a terminal; JSON lines (progress, epoch, result) with --json
  or when stdout is not a terminal. The result has testAccuracy, trainLoss, params, macs,
  seconds, imagesPerSecond, epochs and status. A diverged run exits with code 1.

Examples:
  dsxplore train --model resnet20 --variant dw-scc:cg=2,co=0.5 --dataset mnist --epochs 1
  dsxplore train --model resnet20 --dataset synthetic:size=16 --epochs 2 --save r20.dsx
  dsxplore evaluate --load r20.dsx`;

type TrainFlags = z.output<typeof trainFlagsSchema>;
type EvaluateFlags = z.output<typeof evaluateFlagsSchema>;

/** Hours of training must not end in "cannot write": the folder is checked first. */
function checkSaveFolder(file: string): void {
  const folder = dirname(resolve(file));
  let isDir = false;
  try {
    isDir = statSync(folder).isDirectory();
  } catch {
    /* missing: reported below */
  }
  if (!isDir) throw new UsageError(`--save: the folder ${folder} does not exist`);
}

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
const si = (n: number) =>
  n >= 1e9 ? `${(n / 1e9).toFixed(2)}G` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}K` : String(n);

function checkFits(data: Pick<Dataset, 'name' | 'shape' | 'classes'>, shape: [number, number, number], classes: number, what: string): void {
  if (data.shape.join('x') !== shape.join('x') || data.classes !== classes) {
    throw new UsageError(
      `${what}: the model expects ${shape.join('x')} images and ${classes} classes, ` +
        `dataset ${data.name} has ${data.shape.join('x')} and ${data.classes}`,
    );
  }
}

async function runTrain(raw: unknown): Promise<void> {
  // everything the user typed is checked before any data is read or any thread started
  const flags: TrainFlags = parseFlags(trainFlagsSchema, raw);
  const ref = withFieldNames(DATASET_FLAGS, () => parseDatasetRef(flags.dataset, { inputSize: flags.inputSize }));
  const info = withFieldNames(DATASET_FLAGS, () => datasetInfo(ref));
  if (info.shape[1] !== info.shape[2]) throw new UsageError(`dataset ${flags.dataset}: models need square images`);
  const recipe = recipeFromFlags({ ...flags, decayBnAndBias: flags.decayBnBias }, info);
  const device = flags.device;
  const choice = flags.variant !== undefined ? parseVariant(flags.variant) : baselineVariant(flags.model);
  let spec: ReturnType<typeof buildModel>;
  try {
    spec = buildModel(flags.model, { inChannels: info.shape[0], inputSize: info.shape[1], classes: info.classes, stem: flags.stem, variants: choice });
  } catch (err) {
    // the flags are valid one by one; what is left is the model not fitting the dataset's images
    if (err instanceof UsageError) throw new UsageError(`--dataset ${flags.dataset} with --model ${flags.model}: ${err.message}`);
    throw err;
  }
  const cost = countTotals(spec);
  const { limitTrain, limitTest, validation } = flags;
  if (flags.save !== undefined) checkSaveFolder(flags.save);

  const reporter = new ProgressReporter({ json: flags.json });
  const data = await loadForCli(ref, { dataDir: flags.dataDir, limitTrain, limitTest, validation }, reporter);
  const folder = data.imageFolder;
  if (folder) {
    const skipped = folder.train.skipped.length + folder.test.skipped.length;
    const decoded = folder.train.decoded + folder.test.decoded;
    reporter.event(
      'dataset',
      {
        dataset: flags.dataset,
        classes: folder.classes,
        train: folder.train.count,
        test: folder.test.count,
        skipped,
        skippedFiles: [...folder.train.skipped, ...folder.test.skipped],
        decoded,
        decodeSeconds: folder.decodeSeconds,
        mapped: folder.train.mapped || folder.test.mapped,
        cacheFiles: [folder.train.cacheFile, folder.test.cacheFile],
      },
      `${flags.dataset}: ${folder.classes.length} classes, ${folder.train.count} ${folder.train.split} / ${folder.test.count} ${folder.test.split} images` +
        `${skipped ? `, ${skipped} skipped (cannot be decoded)` : ''}; ` +
        (decoded ? `decoded ${decoded} images in ${folder.decodeSeconds.toFixed(1)} s` : 'read from the cache (0 decoded)') +
        (folder.train.mapped || folder.test.mapped ? ', memory-mapped' : ''),
    );
  }
  const variant = formatVariant(choice);
  const label = `${flags.model} ${variant}`;
  reporter.event(
    'start',
    {
      model: flags.model,
      variant,
      dataset: flags.dataset,
      train: data.train.count,
      validation: data.validation?.count ?? 0,
      test: data.test.count,
      params: cost.params,
      macs: cost.macs,
      recipe,
      device,
    },
    `training ${label} on ${flags.dataset}: ${data.train.count} train / ${data.validation ? `${data.validation.count} validation / ` : ''}` +
      `${data.test.count} test images, ${cost.params.toLocaleString('en-US')} params, ${si(cost.macs)} MACs, ` +
      `${recipe.epochs} epoch${recipe.epochs === 1 ? '' : 's'} of batch ${recipe.batchSize}, lr ${recipe.lr}`,
  );

  const engine = await import('../engine/index.js');
  // with a validation split the per-epoch evaluation (and model choice) uses it; the test
  // set is evaluated once, at the end
  const evalSet = data.validation ?? data.test;
  let result: TrainResult;
  try {
    result = await engine.train({
      spec,
      recipe,
      train: data.train,
      test: evalSet,
      device,
      keepState: flags.save !== undefined || data.validation !== undefined,
      onProgress: (p: TrainProgress) => reporter.progress(p),
    });
  } finally {
    reporter.clear();
  }
  for (const m of result.epochs) reporter.epoch(m as EpochMetrics);
  if (result.deviceFallback !== undefined) {
    process.stderr.write(`warning: --device auto: CUDA is not usable (${result.deviceFallback}); trained on the CPU\n`);
  }

  let testAccuracy = result.testAccuracy;
  let testLoss = result.testLoss;
  let validationAccuracy: number | undefined;
  if (data.validation && result.status === 'done' && result.state) {
    validationAccuracy = result.testAccuracy;
    const ev = await engine.evaluate({
      spec,
      state: result.state,
      data: data.test,
      device,
      threads: recipe.threads,
      batchSize: recipe.batchSize,
    });
    testAccuracy = ev.accuracy;
    testLoss = ev.loss;
  }

  if (flags.save !== undefined && result.status === 'done') {
    if (!result.state) throw new Error('the engine returned no trained state to save (keepState was requested)');
    saveCheckpoint(
      flags.save,
      {
        spec,
        dataset: { name: flags.dataset, mean: data.train.mean, std: data.train.std },
        recipe,
        metrics: { testAccuracy, testLoss, trainLoss: result.trainLoss, testCount: data.test.count, device: result.device },
      },
      result.state,
    );
  }

  const summary: Record<string, unknown> = {
    status: result.status,
    ...(result.message ? { message: result.message } : {}),
    model: flags.model,
    variant,
    dataset: flags.dataset,
    specHash: specHash(spec),
    testAccuracy,
    testLoss,
    ...(validationAccuracy !== undefined ? { validationAccuracy, validationLoss: result.testLoss } : {}),
    trainLoss: result.trainLoss,
    trainAccuracy: result.trainAccuracy,
    params: cost.params,
    engineParams: result.params,
    macs: cost.macs,
    flops: cost.flops,
    seconds: result.seconds,
    imagesPerSecond: result.imagesPerSecond,
    device: result.device,
    ...(result.deviceFallback !== undefined ? { deviceFallback: result.deviceFallback } : {}),
    threads: result.threads,
    trainImages: data.train.count,
    testImages: data.test.count,
    recipe,
    epochs: result.epochs,
    ...(flags.save !== undefined && result.status === 'done' ? { saved: flags.save } : {}),
  };
  const text =
    result.status === 'done'
      ? `${label} on ${flags.dataset}: test accuracy ${pct(testAccuracy)} (loss ${testLoss.toFixed(4)})` +
        (validationAccuracy !== undefined ? `, validation accuracy ${pct(validationAccuracy)}` : '') +
        `\n  ${cost.params.toLocaleString('en-US')} params, ${si(cost.macs)} MACs; ${result.epochs.length} epoch(s) in ` +
        `${formatDuration(result.seconds)}, ${Math.round(result.imagesPerSecond)} img/s on ${result.device}` +
        (result.device.startsWith('cpu') ? ` (${result.threads} thread${result.threads === 1 ? '' : 's'})` : '') +
        (flags.save !== undefined ? `\n  saved to ${flags.save}` : '')
      : `${label} on ${flags.dataset}: ${result.status}${result.message ? `: ${result.message}` : ''}`;
  reporter.result(summary, text);
  if (result.status !== 'done') {
    throw new TrainingFailed(
      `training ${result.status}: ${result.message ?? 'lower the learning rate (--lr) or add warm-up (--warmup 1)'}`,
    );
  }
}

async function runEvaluate(raw: unknown): Promise<void> {
  const flags: EvaluateFlags = parseFlags(evaluateFlagsSchema, raw);
  const ckpt = loadCheckpoint(flags.load);
  const { spec } = ckpt.header;
  const dataset = flags.dataset ?? ckpt.header.dataset.name;
  // an image folder is decoded at the size the network was trained at
  const ref = withFieldNames(DATASET_FLAGS, () =>
    parseDatasetRef(dataset, dataset.trim().toLowerCase().startsWith('imagefolder:') ? { inputSize: spec.inputShape[1] } : {}),
  );
  const { device, threads, limitTest } = flags;
  const batchSize = flags.batchSize ?? 256;
  // refused before any image is read or generated
  checkFits(withFieldNames(DATASET_FLAGS, () => datasetInfo(ref)), spec.inputShape, spec.classes, flags.load);
  const data = await loadForCli(ref, { dataDir: flags.dataDir, limitTest }, new ProgressReporter({ json: flags.json }));
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
    `${flags.load} (${spec.model}) on ${dataset}: test accuracy ${pct(ev.accuracy)} (loss ${ev.loss.toFixed(4)}) ` +
      `over ${ev.count} images in ${formatDuration(ev.seconds)}`,
  );
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train one model with one slot variant on a dataset, with the native engine')
    .requiredOption('--model <name>', `model: ${listModels().join(', ')}`)
    .option('--variant <v>', `slot variant for every slot: ${VARIANT_FORMS.join(', ')}`)
    .requiredOption('--dataset <name>', `dataset: ${DATASET_FORMS.join(', ')}`)
    .option('--input-size <px>', 'imagefolder: resize and centre-crop images to this side (default 224, at least 32)')
    .option('--stem <kind>', `the network's first layers: ${STEMS.join(' or ')} (default cifar)`)
    .requiredOption('--epochs <n>', 'training epochs')
    .option('--batch-size <n>', 'images per SGD step (default 128)')
    .option('--lr <x>', 'peak learning rate (default 0.1)')
    .option('--momentum <x>', 'SGD momentum (default 0.9)')
    .option('--nesterov', 'use Nesterov momentum')
    .option('--weight-decay <x>', 'L2 weight decay (default 5e-4)')
    .option('--decay-bn-bias', 'apply weight decay to BN parameters and biases too')
    .option('--schedule <kind>', 'learning-rate schedule: cosine, step or constant (default cosine)')
    .option('--milestones <list>', 'step schedule: comma-separated epochs (default 50%,75%)')
    .option('--gamma <x>', 'step schedule: factor at each milestone (default 0.1)')
    .option('--warmup <epochs>', 'linear warm-up length in epochs, fractions allowed (default 0)')
    .option('--crop-padding <px>', 'random-crop padding in pixels (0 = none)')
    .option('--flip', 'random horizontal flips (default on for cifar and imagefolder datasets)')
    .option('--no-flip', 'no random horizontal flips')
    .option('--resized-crop <scale>', 'random-resized crop covering at least this fraction of the area (e.g. 0.35), instead of the padded crop')
    .option('--seed <n>', 'seed of initialisation, shuffling and augmentation (default 0)')
    .option('--threads <n>', 'CPU threads, 0 = all cores (default 0)')
    .option('--limit-train <n>', 'train on at most N images')
    .option('--limit-test <n>', 'evaluate on at most N test images')
    .option('--validation <n>', 'hold N training images (or a fraction) out; per-epoch accuracy is measured on them')
    .option('--data-dir <dir>', 'folder with the dataset files (fashion-mnist, cifar10, cifar100)')
    .option('--device <d>', 'auto, cpu, cuda or cuda:N', 'auto')
    .option('--save <file>', 'write the trained weights and the model spec to FILE')
    .option('--json', 'print JSON lines instead of a progress bar')
    .addHelpText('after', TRAIN_HELP)
    .action(async (flags: unknown) => runTrain(flags));

  program
    .command('evaluate')
    .description('evaluate a model saved by `dsxplore train --save` on a dataset')
    .requiredOption('--load <file>', 'checkpoint written by dsxplore train --save')
    .option('--dataset <name>', 'dataset (default: the one it was trained on)')
    .option('--data-dir <dir>', 'folder with the dataset files')
    .option('--limit-test <n>', 'evaluate on at most N test images')
    .option('--batch-size <n>', 'images per forward pass (default 256)')
    .option('--threads <n>', 'CPU threads, 0 = all cores', '0')
    .option('--device <d>', 'auto, cpu, cuda or cuda:N', 'auto')
    .option('--json', 'print one JSON object')
    .action(async (flags: unknown) => runEvaluate(flags));
}
