// One trial's training as plain data in and out, so that it can run in a child process
// (trial-process.ts, trial-child.ts) or, for the runner's tests, in this one: the job names
// the spec, recipe, device and the sweep's config (which says where the data is); the
// outcome is the engine's result without its state, the trained weights already in the
// checkpoint format the store keeps, and what the data was. Both places run the same
// LocalTrials, which loads the data once and checks once that training starts at all.
import type { SweepConfig } from '../config/sweep.js';
import type { LoadedDatasets } from '../data/index.js';
import { head } from '../data/transform.js';
import { encodeCheckpoint, trainedCheckpoint } from '../engine/checkpoint.js';
import type { TrainProgress } from '../domain/metrics.js';
import type { DeviceRequest, TrainRequest, TrainResult, TrainRecipe } from '../engine/types.js';
import type { ModelSpec } from '../models/spec.js';
import { UsageError } from '../errors.js';

export interface TrialJob {
  config: SweepConfig;
  trial: { id: number; label: string; candidateHash: string };
  spec: ModelSpec;
  recipe: TrainRecipe;
  device: DeviceRequest;
  /** before training, take one step on two images (the first trial of a lane) */
  preflight: boolean;
}

export interface TrialOutcome {
  result: Omit<TrainResult, 'state'>;
  /** the trained state in the checkpoint format (src/engine/checkpoint.ts), unless the
   * sweep keeps no weights */
  weights?: Uint8Array;
  evaluatedOn: 'validation' | 'test';
  trainImages: number;
  evalImages: number;
}

/** What a running job reports as it goes. */
export interface JobEvents {
  /** the data is loaded and the preflight passed: training starts now */
  started?(): void;
  progress(p: TrainProgress): void;
}

/** The data did not load or training does not start on this device: not the trial's fault,
 * so it goes back to the queue and the worker stops with this message. */
export class SetupError extends Error {
  override name = 'SetupError';
  constructor(
    message: string,
    /** the user's to fix (a UsageError: exit code 2) */
    readonly usage: boolean,
  ) {
    super(message);
  }

  /** The error the worker stops with. */
  toError(): Error {
    return this.usage ? new UsageError(this.message) : new Error(this.message);
  }
}

/** The trial failed: it is recorded as failed with this message. */
export class TrialFailure extends Error {
  override name = 'TrialFailure';
}

/** Where trials run: one per lane, one trial at a time. */
export interface TrialExecutor {
  run(job: TrialJob, events: JobEvents): Promise<TrialOutcome>;
  /** End the running trial now (a stop): its run() settles soon after; no-op where a
   * training cannot be ended (in this process) */
  cancel(): void;
  close(): void;
}

/** Trains in this process: the child's executor, and the runner's tests' (with a stand-in
 * train and data). */
export class LocalTrials implements TrialExecutor {
  private data: Promise<LoadedDatasets> | undefined;

  constructor(
    private readonly load: () => LoadedDatasets | Promise<LoadedDatasets>,
    private readonly train: (req: TrainRequest) => Promise<TrainResult>,
  ) {}

  private loaded(): Promise<LoadedDatasets> {
    this.data ??= Promise.resolve().then(this.load);
    // a failed load may be retried by the next trial
    this.data.catch(() => (this.data = undefined));
    return this.data;
  }

  async run(job: TrialJob, events: JobEvents): Promise<TrialOutcome> {
    let data: LoadedDatasets;
    try {
      data = await this.loaded();
    } catch (err) {
      throw new SetupError((err as Error)?.message ?? String(err), err instanceof UsageError);
    }
    if (job.preflight) {
      try {
        await this.train({
          spec: job.spec,
          // the trial's own recipe (an epoch is one step here), so nothing differs but the data
          recipe: { ...job.recipe, batchSize: 2 },
          train: head(data.train, 2),
          test: head(data.validation ?? data.test, 2),
          device: job.device,
          evalLastOnly: true,
        });
      } catch (err) {
        throw new SetupError(
          `training does not start (device ${job.device}): ${(err as Error)?.message ?? String(err)}\n` +
            `Nothing was recorded for this trial. Fix the problem, then continue with --resume.`,
          false,
        );
      }
    }
    const evalSet = data.validation ?? data.test;
    const { config, spec, recipe, trial } = job;
    events.started?.();
    let r: TrainResult;
    try {
      r = await this.train({
        spec,
        recipe,
        train: data.train,
        test: evalSet,
        device: job.device,
        keepState: (config.keepWeights ?? 'all') !== 'none',
        onProgress: (p) => events.progress(p),
      });
    } catch (err) {
      throw new TrialFailure((err as Error)?.message ?? String(err));
    }
    const { state, ...result } = r;
    // the checkpoint format of `train --save`, so `evaluate --load` reads what the store keeps
    const weights = state
      ? encodeCheckpoint(
          trainedCheckpoint({
            spec,
            dataset: config.dataset.name,
            train: data.train,
            recipe,
            metrics: { sweep: config.name, trial: trial.id, candidate: trial.candidateHash, accuracy: r.testAccuracy },
          }),
          state,
        )
      : undefined;
    return {
      result,
      ...(weights ? { weights } : {}),
      evaluatedOn: data.validation ? 'validation' : 'test',
      trainImages: data.train.count,
      evalImages: evalSet.count,
    };
  }

  cancel(): void {}

  close(): void {}
}

/** The dataset a sweep's config names, as the trials see it. */
export async function loadSweepData(config: SweepConfig, onWarning: (message: string) => void): Promise<LoadedDatasets> {
  const { openDataset, withFieldNamesAsync } = await import('../data/index.js');
  const d = config.dataset;
  // the data layer names its own fields; a sweep's user knows them as config keys
  const fields = { dataDir: 'dataset.dataDir', limitTrain: 'dataset.limitTrain', limitTest: 'dataset.limitTest', validation: 'dataset.validation', inputSize: 'dataset.inputSize', name: 'dataset.name' };
  return withFieldNamesAsync(fields, () =>
    openDataset(d.name, {
      inputSize: d.inputSize,
      imageFolder: { onWarning },
      dataDir: d.dataDir,
      limitTrain: d.limitTrain,
      limitTest: d.limitTest,
      validation: d.validation,
      seed: 0,
    }),
  );
}

/** The engine's train(), imported lazily so that planning and --help work without the
 * native addon. */
export async function engineTrain(req: TrainRequest): Promise<TrainResult> {
  const engine = await import('../engine/index.js');
  return engine.train(req);
}
