// `dsxplore train`: train one model/variant on one dataset with the
// native engine (live progress on a terminal, JSON lines when piped or with --json), save
// the trained state with its spec (`dsxplore evaluate` reads it back).
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError, OutcomeError } from '../errors.js';
import { recipeFromFlags } from '../config/recipe.js';
import { addFlags, DATA_DIR_FLAG, DATASET_FIELD_FLAGS, DEVICE_FLAG, flag, jsonFlag, parseFlags, toggle } from '../config/flags.js';
import { count, countOrFraction, dataset, model, path, stem, text, variant } from '../config/rules.js';
import { datasetInfo, DATASET_FORMS, describeDatasets, IMAGEFOLDER_MAX_SIZE, IMAGEFOLDER_MIN_SIZE, openDataset, parseDatasetRef, renameFields, withFieldNames, withFieldNamesAsync } from '../data/index.js';
import type { EpochMetrics, TrainProgress } from '../domain/metrics.js';
import type { TrainResult } from '../engine/types.js';
import { saveCheckpoint, trainedCheckpoint } from '../engine/checkpoint.js';
import { countTotals } from '../cost/index.js';
import { baselineVariant, buildModel, formatVariant, imagenetStemModels, listModels, parseVariant, specHash, STEMS, VARIANT_FORMS } from '../models/index.js';
import { formatDuration, ProgressReporter } from '../report/progress.js';
import { formatPercent } from '../report/format.js';

/** Raised when training ended without a usable model (diverged); the CLI exits non-zero. */
export class TrainingFailed extends OutcomeError {
  override name = 'TrainingFailed';
}

const TRAIN_HELP = `
Datasets:
  ${describeDatasets().map((d) => renameFields(d, DATASET_FIELD_FLAGS)).join('\n  ')}
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

// recipe flags (epochs, lr, ...) are checked by recipeFromFlags (src/config/recipe.ts) with
// the dataset's defaults; here only their form (one string each)
const RECIPE_VALUE = text('a value');
const IMAGES = count(1, 2 ** 31 - 1);

const TRAIN_FLAGS = {
  model: flag('--model <name>', `model: ${listModels().join(', ')}`, model(), { required: true }),
  variant: flag('--variant <v>', `slot variant for every slot: ${VARIANT_FORMS.join(', ')}`, variant()),
  dataset: flag('--dataset <name>', `dataset: ${DATASET_FORMS.join(', ')}`, dataset(), { required: true }),
  inputSize: flag(
    '--input-size <px>',
    'imagefolder: resize and centre-crop images to this side (default 224, at least 32)',
    count(IMAGEFOLDER_MIN_SIZE, IMAGEFOLDER_MAX_SIZE),
  ),
  stem: flag('--stem <kind>', `the network's first layers: ${STEMS.join(' or ')}`, stem(), { default: 'cifar' }),
  epochs: flag('--epochs <n>', 'training epochs', RECIPE_VALUE, { required: true }),
  batchSize: flag('--batch-size <n>', 'images per SGD step (default 128)', RECIPE_VALUE),
  lr: flag('--lr <x>', 'peak learning rate (default 0.1)', RECIPE_VALUE),
  momentum: flag('--momentum <x>', 'SGD momentum (default 0.9)', RECIPE_VALUE),
  nesterov: toggle('--nesterov', 'use Nesterov momentum'),
  weightDecay: flag('--weight-decay <x>', 'L2 weight decay (default 5e-4)', RECIPE_VALUE),
  decayBnBias: toggle('--decay-bn-bias', 'apply weight decay to BN parameters and biases too'),
  schedule: flag('--schedule <kind>', 'learning-rate schedule: cosine, step or constant (default cosine)', RECIPE_VALUE),
  milestones: flag('--milestones <list>', 'step schedule: comma-separated epochs (default 50%,75%)', RECIPE_VALUE),
  gamma: flag('--gamma <x>', 'step schedule: factor at each milestone (default 0.1)', RECIPE_VALUE),
  warmup: flag('--warmup <epochs>', 'linear warm-up length in epochs, fractions allowed (default 0)', RECIPE_VALUE),
  cropPadding: flag('--crop-padding <px>', 'random-crop padding in pixels (0 = none)', RECIPE_VALUE),
  flip: toggle('--flip', 'random horizontal flips (default on for cifar and imagefolder datasets)', { negation: 'no random horizontal flips' }),
  resizedCrop: flag(
    '--resized-crop <scale>',
    'random-resized crop covering at least this fraction of the area (e.g. 0.35), instead of the padded crop',
    RECIPE_VALUE,
  ),
  seed: flag('--seed <n>', 'seed of initialisation, shuffling and augmentation (default 0)', RECIPE_VALUE),
  threads: flag('--threads <n>', 'CPU threads, 0 = all cores (default 0)', RECIPE_VALUE),
  limitTrain: flag('--limit-train <n>', 'train on at most N images', IMAGES),
  limitTest: flag('--limit-test <n>', 'evaluate on at most N test images', IMAGES),
  validation: flag(
    '--validation <n>',
    'hold N training images (or a fraction) out; per-epoch accuracy is measured on them',
    countOrFraction(2 ** 31 - 1),
  ),
  dataDir: DATA_DIR_FLAG.withHelp('folder with the dataset files (fashion-mnist, cifar10, cifar100)'),
  device: DEVICE_FLAG,
  save: flag('--save <file>', 'write the trained weights and the model spec to FILE', path()),
  json: jsonFlag('print JSON lines instead of a progress bar'),
};

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

const si = (n: number) =>
  n >= 1e9 ? `${(n / 1e9).toFixed(2)}G` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}K` : String(n);

async function runTrain(raw: unknown): Promise<void> {
  // everything the user typed is checked before any data is read or any thread started
  const flags = parseFlags(TRAIN_FLAGS, raw);
  const ref = withFieldNames(DATASET_FIELD_FLAGS, () => parseDatasetRef(flags.dataset, { inputSize: flags.inputSize }));
  const info = withFieldNames(DATASET_FIELD_FLAGS, () => datasetInfo(ref));
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
  const data = await withFieldNamesAsync(DATASET_FIELD_FLAGS, () =>
    openDataset(ref, { dataDir: flags.dataDir, limitTrain, limitTest, validation, imageFolder: reporter.decoding() }),
  );
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
    const metrics = { testAccuracy, testLoss, trainLoss: result.trainLoss, testCount: data.test.count, device: result.device };
    saveCheckpoint(flags.save, trainedCheckpoint({ spec, dataset: flags.dataset, train: data.train, recipe, metrics }), result.state);
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
      ? `${label} on ${flags.dataset}: test accuracy ${formatPercent(testAccuracy)} (loss ${testLoss.toFixed(4)})` +
        (validationAccuracy !== undefined ? `, validation accuracy ${formatPercent(validationAccuracy)}` : '') +
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

export function registerTrain(program: Command): void {
  const cmd = program.command('train').description('train one model with one slot variant on a dataset, with the native engine');
  addFlags(cmd, TRAIN_FLAGS)
    .addHelpText('after', TRAIN_HELP)
    .action(async (flags: unknown) => runTrain(flags));
}
